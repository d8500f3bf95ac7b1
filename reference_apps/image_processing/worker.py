"""The queue worker: ``python -m reference_apps.image_processing.worker``.

Receives job messages, runs the filters, stores the result and marks the job done, then acks.
Runs until SIGTERM/SIGINT, finishing the current job first. A message that keeps failing is
retried after its visibility timeout and dead-lettered by the queue after QUEUE_MAX_DELIVERIES;
on that last delivery the job is marked failed. A backend that is down (the queue, the table or
the object store) is waited for with backoff: never a reason to exit or to fail a job.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from types import FrameType

from ..backends import DependencyDown, Message, consume, job_id_of, start_when_ready
from ..web import configure_logging
from . import build_service, load_settings
from .service import JOB_ID, ImageService

log = logging.getLogger("image_processing.worker")


def handle(service: ImageService, message: Message) -> bool:
    """Process one message; True when it was acked. Failures leave it to be redelivered."""
    job_id = ""
    try:
        job_id = job_id_of(message.body, JOB_ID)
        job = service.process(job_id)
    except DependencyDown:
        raise  # not the job's fault: the loop waits for the backend, the message is redelivered
    except Exception as error:
        final = message.deliveries >= service.queue.max_deliveries
        log.warning(
            "job failed",
            extra={
                "job_id": job_id,
                "delivery": message.deliveries,
                "final": final,
                "error": repr(error)[:300],
            },
        )
        if final and job_id:
            service.fail(job_id, f"{type(error).__name__}: {error}")
        return False
    service.queue.ack(message)
    log.info("job done", extra={"job_id": job_id, "attempts": job["attempts"]})
    return True


def run(service: ImageService, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Receive and handle messages until ``stop`` is set; a backend outage is waited out."""

    def step() -> None:
        message = service.queue.receive(wait=poll_seconds)
        if message is not None:
            handle(service, message)

    consume(stop, step)


def main(env: Mapping[str, str] | None = None) -> None:
    settings = load_settings(env, web=False)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    service = start_when_ready(lambda: build_service(settings))
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping after the current job", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("worker started", extra={"queue": settings.queue_url.scheme})
    run(service, stop)
    log.info("worker stopped")


if __name__ == "__main__":
    main()
