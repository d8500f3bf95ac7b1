"""IoT fog gateway reference app: simulated sensors publish over MQTT to a gateway near them,
which analyses the streams, acts on the devices and forwards readings and summaries to the cloud
ingest through a durable buffer; a consumer writes the time series; a Flask app shows it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import cast

from flask import Flask

from ..backends import Backends, ConfigError, Settings
from ..backends.settings import redact
from ..web import configure_logging, job_app

APP_NAME = "iot-gateway"


def load_settings(env: Mapping[str, str] | None = None, *, web: bool = True) -> Settings:
    """The environment (plus overrides), validated; shared by every process of the app."""
    return Settings.from_env(APP_NAME, {**os.environ, **(env or {})}, web=web)


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    """App factory; ``env`` overrides environment variables (tests use it). With no settings it
    reads the embedded SQLite time series that a local gateway and consumer write."""
    from .api import api
    from .consumer import open_series
    from .fognode import FogNode
    from .openapi import OPENAPI
    from .pages import pages

    settings = load_settings(env)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    try:
        series = open_series(settings)
    except ConfigError:
        raise
    except Exception as error:
        raise ConfigError(f"KV_URL={redact(settings.kv_url.raw)}: cannot open ({error})") from None
    fog = FogNode(settings, series)
    checks: dict[str, Callable[[], None]] = {"timeseries": series.check}
    if fog.broker_url:
        checks["broker"] = fog.check_broker
    return job_app(
        __name__,
        settings,
        api=api,
        pages=pages,
        backends=cast(Backends, Probes(checks)),
        openapi=OPENAPI,
        extensions={"fog_node": fog},
        max_content_length=64 * 1024,
    )


class Probes:
    """The readiness checks of this app (it has no object store, unlike the Backends set)."""

    def __init__(self, checks: dict[str, Callable[[], None]]) -> None:
        self._checks = checks

    def checks(self) -> dict[str, Callable[[], None]]:
        return self._checks
