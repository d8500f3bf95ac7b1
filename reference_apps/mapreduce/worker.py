"""The job runner: ``python -m reference_apps.mapreduce.worker``.

Receives job requests from the queue, runs each on the engine named by ``MAPREDUCE_CLUSTER_URL``
(``local`` or ``spark://host:7077``), stores the parts under the job's prefix, records the final
status and e-mails the owner, then acks. A program that fails or passes ``JOB_TIME_LIMIT`` marks
the job failed (no retry: it would fail again). A backend error leaves the message to be
redelivered; a message that keeps failing, or is not a job request at all, goes to the dead-letter
queue after ``QUEUE_MAX_DELIVERIES``. SIGTERM/SIGINT stops the running job and hands it back to
the queue at once, so a stopping host never holds a job for the whole time limit.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from types import FrameType

from ..backends import ConfigError, DependencyDown, Message, consume, job_id_of, start_when_ready
from ..web import configure_logging
from . import build_service, load_settings
from .engines import Engine, JobCancelled, open_engine
from .service import JOB_ID, JobService

log = logging.getLogger("mapreduce.worker")


def handle(service: JobService, engine: Engine, message: Message, stop: threading.Event) -> bool:
    """Process one message; True when it was acked."""
    job_id = ""
    try:
        job_id = job_id_of(message.body, JOB_ID)
        job = service.run(job_id, engine, stop)
    except DependencyDown:
        raise  # not the job's fault: the loop waits for the backend, the message is redelivered
    except JobCancelled:
        service.queue.release(message)
        log.info("job handed back to the queue", extra={"job_id": job_id})
        return False
    except Exception as error:
        final = message.deliveries >= service.queue.max_deliveries
        log.warning(
            "job attempt failed",
            extra={
                "job_id": job_id,
                "delivery": message.deliveries,
                "final": final,
                "error": repr(error)[:300],
            },
        )
        if final and job_id:
            try:
                service.finish_failed(job_id, f"{type(error).__name__}: {error}")
            except Exception:
                log.exception("could not record the failure", extra={"job_id": job_id})
        return False
    service.queue.ack(message)
    log.info("job finished", extra={"job_id": job_id, "status": job["status"]})
    return True


def run(
    service: JobService, engine: Engine, stop: threading.Event, poll_seconds: float = 1.0
) -> None:
    """Receive and handle messages until ``stop`` is set; a backend outage is waited out."""

    def step() -> None:
        message = service.queue.receive(wait=poll_seconds)
        if message is not None:
            handle(service, engine, message, stop)

    consume(stop, step)


def main(env: Mapping[str, str] | None = None) -> None:
    settings = load_settings(env, web=False)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    service = start_when_ready(lambda: build_service(settings, mail=True))
    if settings.queue_visibility_timeout < service.limits.time_limit:
        raise ConfigError(
            f"QUEUE_VISIBILITY_TIMEOUT={settings.queue_visibility_timeout:g} is shorter than"
            f" JOB_TIME_LIMIT={service.limits.time_limit:g}: a running job would be handed to a"
            " second worker; raise the visibility timeout"
        )
    # A cluster whose credentials cannot be read yet (a fresh VM's grant) is waited for too.
    engine = start_when_ready(
        lambda: open_engine(
            settings.extra.get("MAPREDUCE_CLUSTER_URL", "local"), dict(settings.extra)
        )
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping: the running job goes back to the queue", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("worker started", extra={"queue": settings.queue_url.scheme, "engine": engine.name})
    try:
        run(service, engine, stop)
    finally:
        engine.close()
    log.info("worker stopped")


if __name__ == "__main__":
    main()
