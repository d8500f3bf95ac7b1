"""The broker-group bridge: ``python -m reference_apps.iot_gateway.bridge``.

Runs beside mosquitto on each GCP broker VM (Cloud IoT Core was retired in 2023): subscribes to
``MQTT_TOPIC_FILTER`` (default ``devices/+/telemetry``) on the local broker and sends each
message, as it came, to the telemetry queue (``QUEUE_URL``, e.g. ``pubsub://project/topic/sub``).
The broker gets its PUBACK only once the queue accepted the message; when the queue fails, the
bridge reconnects to the broker after ``BRIDGE_RETRY_SECONDS`` so that the broker delivers what
was not acknowledged again (persistent session). Malformed payloads are passed on too: the
consumer dead-letters them, so nothing is lost silently. Runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any

from ..backends import open_backends, start_when_ready
from ..backends.settings import parse_url
from ..web import configure_logging
from . import load_settings
from .uplink import MqttLink

log = logging.getLogger("iot_gateway.bridge")


class Bridge:
    def __init__(self, env: Mapping[str, str], queue: Any, retry_seconds: float) -> None:
        self.queue = queue
        self.retry_seconds = retry_seconds
        self.topic_filter = env.get("MQTT_TOPIC_FILTER") or "devices/+/telemetry"
        self.failed = threading.Event()
        self.forwarded = 0
        url = parse_url(
            "BROKER_URL", env.get("BROKER_URL") or "mqtt://127.0.0.1:1883", ("mqtt", "mqtts")
        )
        name = env.get("BRIDGE_ID") or socket.gethostname().split(".")[0]
        self.link = MqttLink(url, f"bridge-{name}", env, "BROKER", clean=False)
        self.link.client.manual_ack_set(True)
        self.link.client.on_message = self._on_message
        previous = self.link.client.on_connect

        def on_connect(client: Any, *args: Any) -> None:
            previous(client, *args)
            client.subscribe(self.topic_filter, qos=1)

        self.link.client.on_connect = on_connect

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        if self.failed.is_set():
            return  # not acknowledged: delivered again after the reconnect
        try:
            self.queue.send_raw(message.payload.decode("utf-8", errors="replace"))
        except Exception as error:
            log.warning("queue send failed; will retry", extra={"error": repr(error)[:300]})
            self.failed.set()
            return
        client.ack(message.mid, message.qos)
        self.forwarded += 1

    def run(self, stop: threading.Event) -> None:
        self.link.start()
        while not stop.is_set():
            if self.failed.wait(0.5) and not stop.wait(self.retry_seconds):
                self.link.client.reconnect()
                self.failed.clear()
        self.link.stop()


def main(env: Mapping[str, str] | None = None) -> None:
    settings = load_settings(env, web=False)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    backends = start_when_ready(
        lambda: open_backends(settings, queue=True, kv=False, db=False, mail=False)
    )
    queue = backends.queue
    bridge = Bridge(settings.extra, queue, settings.number("BRIDGE_RETRY_SECONDS", 2, 0.05, 300))
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info(
        "bridge started", extra={"filter": bridge.topic_filter, "queue": settings.queue_url.scheme}
    )
    bridge.run(stop)
    log.info("bridge stopped", extra={"forwarded": bridge.forwarded})


if __name__ == "__main__":
    main()
