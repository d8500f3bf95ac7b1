"""What the fog-node API reads and does: the time series, the gateways' status (live from the
broker's retained ``gateways/+/status`` when ``BROKER_URL`` is set, else the status that came
with the last forwarded batch) and commands to devices, published on ``devices/<id>/commands``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from ..backends.settings import Settings, parse_url
from .readings import DEVICE_ID
from .timeseries import Series
from .uplink import MqttLink, UplinkDown

# Actions the simulated devices understand; anything else is refused with a 400.
ACTIONS = ("cooling_on", "cooling_off", "vent", "stop", "start", "self_test", "set_interval")


class CommandError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class FogNode:
    def __init__(self, settings: Settings, series: Series) -> None:
        self.settings = settings
        self.series = series
        self.broker_url = settings.extra.get("BROKER_URL", "")
        if self.broker_url:
            parse_url("BROKER_URL", self.broker_url, ("mqtt", "mqtts"))
        self._link: MqttLink | None = None
        self._lock = threading.Lock()
        self.live: dict[str, dict[str, Any]] = {}

    def link(self) -> MqttLink | None:
        """Connected lazily, once per process (gunicorn forks after the app is created)."""
        if not self.broker_url:
            return None
        with self._lock:
            if self._link is None:
                url = parse_url("BROKER_URL", self.broker_url, ("mqtt", "mqtts"))
                link = MqttLink(
                    url, f"fogapi-{uuid.uuid4().hex[:12]}", self.settings.extra, "BROKER"
                )
                previous_connect = link.client.on_connect

                def on_connect(client: Any, *args: Any) -> None:
                    previous_connect(client, *args)
                    client.subscribe("gateways/+/status", qos=1)

                link.client.on_connect = on_connect
                link.client.on_message = self._on_status
                link.start()
                link.connected.wait(3)
                self._link = link
        return self._link

    def _on_status(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            status = json.loads(message.payload)
        except ValueError:
            return
        if isinstance(status, dict) and isinstance(status.get("gateway"), str):
            self.live[status["gateway"]] = status

    def gateways(self) -> list[dict[str, Any]]:
        self.link()
        shown: dict[str, dict[str, Any]] = {}
        for status in self.series.gateways():
            shown[status["gateway"]] = {**status, "source": "last batch"}
        for name, status in dict(self.live).items():
            shown[name] = {**status, "seen_at": status.get("at"), "source": "live"}
        return [summarise(status) for _, status in sorted(shown.items())]

    def send_command(self, device_id: str, body: Any) -> dict[str, Any]:
        if not DEVICE_ID.match(device_id):
            raise CommandError(400, "device id: letters, digits, '-' and '_' (at most 64)")
        if not isinstance(body, dict) or body.get("action") not in ACTIONS:
            raise CommandError(400, f"action must be one of {', '.join(ACTIONS)}")
        command: dict[str, Any] = {"id": uuid.uuid4().hex, "action": body["action"]}
        if body["action"] == "set_interval":
            value = body.get("value")
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (0.01 <= value <= 3600)
            ):
                raise CommandError(400, "set_interval needs a value in seconds, 0.01 to 3600")
            command["value"] = value
        command["reason"] = "operator"
        link = self.link()
        if link is None:
            raise CommandError(503, "commands need the broker: set BROKER_URL")
        try:
            link.publish(f"devices/{device_id}/commands", json.dumps(command).encode(), 5)
        except UplinkDown as error:
            raise CommandError(503, f"the broker is unreachable ({error}); try again") from None
        return {**command, "device_id": device_id, "sent_at": time.time()}

    def check_broker(self) -> None:
        link = self.link()
        if link is not None and not link.connected.is_set():
            raise ConnectionError(link.last_error or "not connected to the broker")


def summarise(status: dict[str, Any]) -> dict[str, Any]:
    """The fields the dashboard and API show for a gateway."""
    uplink = status.get("uplink") or {}
    return {
        "gateway": status.get("gateway"),
        "source": status.get("source"),
        "seen_at": status.get("seen_at"),
        "buffer_depth": status.get("buffer_depth"),
        "buffer_max": status.get("buffer_max"),
        "uplink_state": uplink.get("state"),
        "uplink_scheme": uplink.get("scheme"),
        "uplink_error": uplink.get("error") or "",
        "received": status.get("received"),
        "forwarded": status.get("forwarded"),
        "dropped": status.get("dropped") or {},
        "commands_sent": status.get("commands_sent"),
        "device_rates": {
            name: device.get("rate") for name, device in (status.get("devices") or {}).items()
        },
    }
