"""IoT fog gateway reference app: simulated sensors publish over MQTT to a gateway near them,
which analyses the streams, acts on the devices and forwards readings and summaries to the cloud
ingest through a durable buffer; a consumer writes the time series; a Flask app shows it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..backends import Settings

APP_NAME = "iot-gateway"


def load_settings(env: Mapping[str, str] | None = None, *, web: bool = True) -> Settings:
    """The environment (plus overrides), validated; shared by every process of the app."""
    return Settings.from_env(APP_NAME, {**os.environ, **(env or {})}, web=web)
