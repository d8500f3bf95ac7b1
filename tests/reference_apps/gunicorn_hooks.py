"""Gunicorn settings for the tests: each worker says when it has loaded the app, so a test can
wait for all of them (gunicorn listens as soon as one worker is up; a sibling still importing
the app would start later, perhaps in the middle of the outage a test makes)."""

from __future__ import annotations

from typing import Any

LOADED = "worker loaded the app"


def post_worker_init(worker: Any) -> None:
    worker.log.info("%s: pid %s", LOADED, worker.pid)
