"""MapReduce reference app: upload text, run an inverted index or a word count (or your own
streaming mapper and reducer) on a MapReduce engine, and get a download link by e-mail.

The web tier validates and stores the input and queues the job; the job-runner worker
(``python -m reference_apps.mapreduce.worker``) runs it on the engine named by
``MAPREDUCE_CLUSTER_URL`` and records the status in the key-value table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

from ..backends import Settings, open_backends
from ..web import service_app
from .api import api
from .openapi import OPENAPI
from .pages import pages
from .service import JobService, Limits

APP_NAME = "mapreduce"


def load_settings(env: Mapping[str, str] | None = None, *, web: bool = True) -> Settings:
    """The environment (plus overrides), validated; shared with the worker (web=False)."""
    return Settings.from_env(APP_NAME, {**os.environ, **(env or {})}, web=web)


def build_service(settings: Settings, *, mail: bool = False) -> JobService:
    """The backends and limits from the settings (raises ConfigError with one line)."""
    backends = open_backends(settings, queue=True, kv=True, db=False, mail=mail)
    limits = Limits(
        allow_custom_programs=settings.flag("ALLOW_CUSTOM_PROGRAMS", False),
        max_files=int(settings.number("MAX_INPUT_FILES", 100, 1, 10_000)),
        time_limit=settings.number("JOB_TIME_LIMIT", settings.queue_visibility_timeout, 1, 86_400),
        reducers=int(settings.number("MAPREDUCE_REDUCERS", 2, 1, 64)),
        link_hours=settings.number("DOWNLOAD_LINK_HOURS", 72, 0.001, 24 * 30),
        public_url=settings.extra.get("PUBLIC_URL", "http://127.0.0.1:5000"),
    )
    return JobService(backends, limits)


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    """App factory; ``env`` overrides environment variables (tests use it)."""
    settings = load_settings(env)
    return service_app(
        __name__, settings, build_service, "mapreduce_service", (api, pages), OPENAPI
    )
