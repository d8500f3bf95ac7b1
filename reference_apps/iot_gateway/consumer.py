"""The telemetry consumer: ``python -m reference_apps.iot_gateway.consumer``.

Takes the gateways' batches off the telemetry queue, inserts their items into the time-series
table (by id: a redelivered batch adds nothing) and archives each batch gzip-compressed in the
object store under a key derived from its ids (a redelivery rewrites the same object), then acks.
A message that is not a well-formed batch is never acked, so the queue dead-letters it after
QUEUE_MAX_DELIVERIES. Runs until SIGTERM/SIGINT, finishing the current batch first.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import logging
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from ..backends import (
    ConfigError,
    Message,
    ObjectStore,
    PoisonMessage,
    Queue,
    Settings,
    consume,
    open_backends,
    start_when_ready,
)
from ..backends.settings import redact
from ..web import configure_logging
from . import load_settings
from .readings import DEVICE_ID
from .timeseries import KINDS, Series, open_timeseries, require_supported

log = logging.getLogger("iot_gateway.consumer")


@dataclass
class Consumer:
    queue: Queue
    series: Series
    archive: ObjectStore

    def handle(self, message: Message) -> bool:
        """Store one batch; True when it was acked."""
        try:
            gateway, items, status = parse_batch(message.body)
            new = self.series.insert(items)
            self.archive.put(archive_key(gateway, items), compress(items), "application/gzip")
            if status:
                self.series.record_gateway(gateway, status)
        except Exception as error:
            log.warning(
                "batch not stored",
                extra={
                    "message_id": message.id,
                    "delivery": message.deliveries,
                    "final": message.deliveries >= self.queue.max_deliveries,
                    "error": repr(error)[:300],
                },
            )
            return False
        self.queue.ack(message)
        log.debug("batch stored", extra={"gateway": gateway, "items": len(items), "new": new})
        return True


def parse_batch(body: Any) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    if not isinstance(body, dict):
        raise PoisonMessage(f"not a batch object: {str(body)[:100]!r}")
    gateway, items, status = body.get("gateway"), body.get("items"), body.get("status") or {}
    if not isinstance(gateway, str) or not DEVICE_ID.match(gateway):
        raise PoisonMessage(f"bad gateway id {str(gateway)[:70]!r}")
    if not isinstance(items, list) or not isinstance(status, dict):
        raise PoisonMessage("items must be a list and status an object")
    for item in items:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("id"), str)
            and item.get("kind") in KINDS
            and isinstance(item.get("device_id"), str)
            and isinstance(item.get("ts"), int | float)
            and not isinstance(item.get("ts"), bool)
        )
        if not ok:
            raise PoisonMessage(f"malformed item {str(item)[:100]!r}")
    return gateway, items, status


def archive_key(gateway: str, items: list[dict[str, Any]]) -> str:
    digest = hashlib.sha256("\n".join(item["id"] for item in items).encode()).hexdigest()[:32]
    first = min((item["ts"] for item in items), default=time.time())
    day = datetime.datetime.fromtimestamp(first, datetime.UTC).strftime("%Y/%m/%d")
    return f"telemetry/{gateway}/{day}/{digest}.jsonl.gz"


def compress(items: list[dict[str, Any]]) -> bytes:
    lines = "".join(json.dumps(item, sort_keys=True) + "\n" for item in items)
    return gzip.compress(lines.encode(), mtime=0)


def open_series(settings: Settings) -> Series:
    """The time series; a failure to open it (no credentials yet, say) is a ConfigError with
    its cause, so that ``start_when_ready`` waits out an outage and stops on a bad setting."""
    ttl_days = settings.number("READINGS_TTL_DAYS", 30, 0.001, 3650)
    try:
        return open_timeseries(settings.kv_url, ttl_days * 86400)
    except ConfigError:
        raise
    except Exception as error:
        url = settings.kv_url
        raise ConfigError(f"{url.variable}={redact(url.raw)}: cannot open ({error})") from error


def build_consumer(settings: Settings) -> Consumer:
    require_supported(settings.kv_url)  # a wrong table stops now, not after the queue answers
    backends = open_backends(settings, queue=True, kv=False, db=False, mail=False)
    assert backends.queue is not None
    return Consumer(backends.queue, open_series(settings), backends.objects)


def run(consumer: Consumer, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Receive and store batches until ``stop`` is set; a backend outage is waited out."""
    last_purge = 0.0

    def step() -> None:
        nonlocal last_purge
        message = consumer.queue.receive(wait=poll_seconds)
        if message is not None:
            consumer.handle(message)
        if time.monotonic() - last_purge > 600:
            last_purge = time.monotonic()
            consumer.series.purge_expired()

    consume(stop, step)


def main(env: Mapping[str, str] | None = None) -> None:
    settings = load_settings(env, web=False)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    consumer = start_when_ready(lambda: build_consumer(settings))
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()  # only this: logging here could re-enter a write to stderr in progress

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("consumer started", extra={"queue": settings.queue_url.scheme})
    run(consumer, stop)
    log.info("consumer stopped after the current batch")


if __name__ == "__main__":
    main()
