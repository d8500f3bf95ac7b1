"""Image-processing reference app: upload an image, choose filters, download the result.

Small images are processed in the request; large ones and batches go through the queue to
``python -m reference_apps.image_processing.worker``, with the job status in the key-value table.
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
from .service import ImageService, Limits

APP_NAME = "image-processing"


def load_settings(env: Mapping[str, str] | None = None, *, web: bool = True) -> Settings:
    """The environment (plus overrides), validated; shared with the worker (web=False)."""
    return Settings.from_env(APP_NAME, {**os.environ, **(env or {})}, web=web)


def build_service(settings: Settings) -> ImageService:
    """The backends and limits from the settings (raises ConfigError with one line)."""
    backends = open_backends(settings, queue=True, kv=True, db=False, mail=False)
    limits = Limits(
        max_pixels=int(settings.number("MAX_IMAGE_PIXELS", 40_000_000, 1, 500_000_000)),
        sync_max_pixels=int(settings.number("SYNC_MAX_PIXELS", 4_000_000, 0, 500_000_000)),
        sync_max_bytes=int(settings.number("SYNC_MAX_MB", 4, 0, 1024) * 1024 * 1024),
        max_batch=int(settings.number("MAX_BATCH_FILES", 20, 1, 1000)),
    )
    return ImageService(backends, limits)


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    """App factory; ``env`` overrides environment variables (tests use it)."""
    settings = load_settings(env)
    return service_app(__name__, settings, build_service, "image_service", (api, pages), OPENAPI)
