"""The sentiment consumer: ``python -m reference_apps.social_analytics.consumer``.

Receives up to CONSUMER_BATCH messages at a time (twice as many after each full batch while the
queue stays deep, up to CONSUMER_BATCH_MAX), each an envelope of posts (or, from a listener
older than envelopes, a single post), scores the posts with VADER and adds them to the
aggregates, then acks the messages; when the queue and the table share one PostgreSQL database
the counts and the ack commit in one transaction (``shared_pg``). A redelivered envelope is not
counted twice (see ``aggregates``). A malformed message is given back at once, so the queue
dead-letters it whole after QUEUE_MAX_DELIVERIES quick deliveries; a malformed post inside a
well-formed envelope is dead-lettered on its own, with the reason, and the rest of the envelope
counted and acked. A backend failure leaves the batch to be redelivered after the visibility
timeout. SIGTERM/SIGINT: the current batch is finished, then
the process exits.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from types import FrameType

from ..backends import Message, consume, start_when_ready
from ..web import configure_logging
from . import Service, build_service, load_settings
from .aggregates import record
from .posts import InvalidPost, Unit, parse_body, rejection
from .shared_pg import record_and_ack, shared_database

log = logging.getLogger("social_analytics.consumer")


def receive_batch(service: Service, size: int, wait: float) -> list[Message]:
    """The first message waits up to ``wait`` seconds, the rest of the batch does not wait."""
    assert service.queue is not None
    return service.queue.receive_many(size, wait=wait)


def handle(service: Service, batch: list[Message]) -> int:
    """Score and count a batch; returns how many messages were acked."""
    valid: list[tuple[Message, Unit]] = []
    for message in batch:
        try:
            valid.append((message, parse_body(message.body, service.max_chars)))
        except InvalidPost as error:
            log.warning(
                "malformed message",
                extra={
                    "message_id": message.id,
                    "delivery": message.deliveries,
                    "error": str(error),
                },
            )
            service.queue.release(message)
    if not valid:
        return 0
    units, messages = [unit for _, unit in valid], [message for message, _ in valid]
    together = shared_database(service.queue, service.kv)
    for unit in units:
        for index, why, _post in unit.rejected:
            log.warning(
                "malformed post in an envelope; dead-lettered on its own",
                extra={"envelope": unit.id, "index": index, "error": why},
            )
    try:
        if together:
            record_and_ack(service.queue, service.kv, units, messages)  # type: ignore[arg-type]
        else:
            # Before the counts: a crash in between sends it again (a second dead letter),
            # never loses it. The queue refuses it as malformed and dead-letters it.
            for unit in units:
                for index, why, post in unit.rejected:
                    service.queue.send(rejection(unit, index, why, post))
            record(service.kv, units)
    except Exception as error:
        log.warning(
            "could not record the batch; it will be redelivered", extra={"error": repr(error)[:300]}
        )
        return 0
    if not together:
        service.queue.ack_many(messages)
    return len(valid)


def next_size(size: int, received: int, base: int, largest: int) -> int:
    """A full batch means the queue is deep: ask for twice as many next time (up to
    ``largest``); a partial one goes back to ``base``."""
    return min(largest, size * 2) if received >= size else base


def run(
    service: Service,
    stop: threading.Event,
    batch_size: int,
    poll_seconds: float = 1.0,
    largest_batch: int | None = None,
) -> None:
    """Receive and score batches until ``stop`` is set; a backend outage is waited out. Batches
    grow from ``batch_size`` up to ``largest_batch`` while they come back full."""
    largest = max(batch_size, largest_batch or batch_size)
    size = batch_size

    def step() -> None:
        nonlocal size
        batch = receive_batch(service, size, poll_seconds)
        if batch:
            handle(service, batch)
        size = next_size(size, len(batch), batch_size, largest)

    consume(stop, step)


def main(env: Mapping[str, str] | None = None) -> None:
    settings = load_settings(env, web=False)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    service = start_when_ready(lambda: build_service(settings, queue=True))
    batch_size = int(settings.number("CONSUMER_BATCH", 10, 1, 1000))
    largest_batch = int(settings.number("CONSUMER_BATCH_MAX", max(batch_size, 50), 1, 5000))
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping after the current batch", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("consumer started", extra={"queue": settings.queue_url.scheme})
    run(service, stop, batch_size, largest_batch=largest_batch)
    log.info("consumer stopped")


if __name__ == "__main__":
    main()
