"""Social-analytics reference app: a listener collects posts on configured keywords, a consumer
scores their sentiment with VADER, and this dashboard shows the aggregates.

``create_app()`` runs with no configuration on local files; on hosts every setting comes from
the environment (README.md lists them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask, render_template

from ..backends import Backends, ConfigError, KeyValue, ObjectStore, Queue, Settings, open_backends
from ..web import configure_logging, install_common
from .openapi import OPENAPI
from .posts import parse_keywords

APP_NAME = "social-analytics"
DEFAULT_KEYWORDS = "solar,football,coffee,railway,python"


@dataclass
class Service:
    """What the listener, the consumer and the dashboard share."""

    objects: ObjectStore
    kv: KeyValue
    queue: Queue | None
    keywords: tuple[str, ...]
    max_chars: int


def load_settings(env: Mapping[str, str] | None = None, *, web: bool = True) -> Settings:
    """The environment (plus overrides), validated; the workers pass web=False."""
    return Settings.from_env(APP_NAME, {**os.environ, **(env or {})}, web=web)


def build_service(settings: Settings, *, queue: bool) -> Service:
    try:
        keywords = parse_keywords(settings.extra.get("KEYWORDS") or DEFAULT_KEYWORDS)
    except ValueError as error:
        raise ConfigError(f"KEYWORDS: {error}") from None
    backends = open_backends(settings, queue=queue, kv=True, db=False, mail=False)
    assert backends.kv is not None
    return Service(
        objects=backends.objects,
        kv=backends.kv,
        queue=backends.queue,
        keywords=keywords,
        max_chars=int(settings.number("POST_MAX_CHARS", 5000, 100, 100_000)),
    )


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    """App factory; ``env`` overrides environment variables (tests use it)."""
    from .api import api
    from .pages import pages

    settings = load_settings(env)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    service = build_service(settings, queue=False)
    app = Flask(__name__, instance_path=str(settings.data_dir))
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=64 * 1024)
    app.extensions["settings"] = settings
    app.extensions["social_service"] = service
    app.extensions["refresh_seconds"] = int(
        settings.number("DASHBOARD_REFRESH_SECONDS", 15, 2, 3600)
    )
    app.register_blueprint(api)
    app.register_blueprint(pages)
    install_common(
        app,
        settings,
        Backends(objects=service.objects, kv=service.kv),
        OPENAPI,
        lambda status, message: render_template("error.html", status=status, message=message),
    )
    return app
