"""The device simulator: ``python -m reference_apps.iot_gateway.simulator``.

N devices, each with its own MQTT connection and credentials, publish readings (temperature,
humidity, vibration) on ``devices/<id>/telemetry`` at a set interval, with injected anomalies
(spikes) and gaps (skipped readings), and obey the commands sent on ``devices/<id>/commands``,
acknowledging each on ``devices/<id>/events``. Runs until SIM_COUNT readings per device are sent,
or until SIGTERM/SIGINT.

Settings: BROKER_URL (``mqtts://host:8883``, no credentials) and BROKER_CA_FILE; per-device
passwords in DEVICE_PASSWORDS_FILE (``name:password`` lines, as the mqtt_broker role's source
file); SIM_DEVICES (10), SIM_PREFIX (``sensor-``), SIM_INTERVAL (1 s), SIM_COUNT (0: forever),
SIM_ANOMALY_RATE (0.01), SIM_ANOMALY_EVERY (n: every n-th reading instead), SIM_GAP_RATE
(0.005), SIM_SEED.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import signal
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from paho.mqtt.client import MQTT_ERR_NO_CONN, MQTT_ERR_SUCCESS

from ..backends.settings import ConfigError, Settings, parse_url
from ..web import configure_logging
from . import load_settings
from .uplink import MqttLink

log = logging.getLogger("iot_gateway.simulator")


@dataclass
class Device:
    name: str
    link: MqttLink
    interval: float
    rng: random.Random
    boot: int = field(default_factory=lambda: int(time.time()))
    seq: int = 0
    published: int = 0
    gaps: int = 0
    anomalies: int = 0
    running: bool = True
    cooling: bool = False
    commands: list[str] = field(default_factory=list)
    unacked: deque[Any] = field(default_factory=deque)
    next_at: float = 0.0

    def reading(self, anomaly: bool) -> dict[str, Any]:
        phase = self.seq / 30
        temperature = 22 + 3 * math.sin(phase) + self.rng.gauss(0, 0.3) - (4 if self.cooling else 0)
        vibration = abs(2 + self.rng.gauss(0, 0.4))
        if anomaly:
            temperature += 60
        return {
            "id": f"{self.boot}-{self.seq}",
            "ts": time.time(),
            "metrics": {
                "temperature": round(temperature, 3),
                "humidity": round(
                    min(100, max(0, 45 + 10 * math.cos(phase) + self.rng.gauss(0, 1))), 3
                ),
                "vibration": round(vibration, 3),
            },
        }

    def on_command(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            command = json.loads(message.payload)
            action = command["action"]
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable command", extra={"device": self.name})
            return
        if action == "cooling_on":
            self.cooling = True
        elif action == "cooling_off":
            self.cooling = False
        elif action == "stop":
            self.running = False
        elif action == "start":
            self.running = True
        elif action == "set_interval" and isinstance(command.get("value"), int | float):
            self.interval = max(0.01, float(command["value"]))
        self.commands.append(action)
        event = {"command_id": command.get("id"), "action": action, "status": "done"}
        client.publish(f"devices/{self.name}/events", json.dumps(event), qos=1)
        log.info("command obeyed", extra={"device": self.name, "action": action})


def read_passwords(path: str) -> dict[str, str]:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as error:
        raise ConfigError(f"DEVICE_PASSWORDS_FILE={path}: cannot read ({error.strerror})") from None
    return dict(line.split(":", 1) for line in lines if ":" in line)


@dataclass
class Simulator:
    devices: list[Device]
    count: int
    anomaly_rate: float
    anomaly_every: int
    gap_rate: float
    stop: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def from_settings(cls, settings: Settings) -> Simulator:
        env = settings.extra
        url = parse_url(
            "BROKER_URL", env.get("BROKER_URL") or "mqtt://127.0.0.1:1883", ("mqtt", "mqtts")
        )
        passwords = (
            read_passwords(env["DEVICE_PASSWORDS_FILE"]) if env.get("DEVICE_PASSWORDS_FILE") else {}
        )
        number = settings.number
        seed = int(number("SIM_SEED", 0, 0, 2**31))
        interval = number("SIM_INTERVAL", 1, 0.001, 3600)
        devices = []
        for n in range(int(number("SIM_DEVICES", 10, 1, 10_000))):
            name = f"{env.get('SIM_PREFIX', 'sensor-')}{n:02d}"
            if passwords and name not in passwords:
                raise ConfigError(f"DEVICE_PASSWORDS_FILE has no password for {name}")
            link = MqttLink(url, name, env, "BROKER", username=name, password=passwords.get(name))
            device = Device(name, link, interval, random.Random(seed * 10_000 + n))
            link.client.on_message = device.on_command
            previous = link.client.on_connect

            def on_connect(
                client: Any, *args: Any, _previous: Any = previous, _name: str = name
            ) -> None:
                _previous(client, *args)
                client.subscribe(f"devices/{_name}/commands", qos=1)

            link.client.on_connect = on_connect
            devices.append(device)
        return cls(
            devices,
            count=int(number("SIM_COUNT", 0, 0, 100_000_000)),
            anomaly_rate=number("SIM_ANOMALY_RATE", 0.01, 0, 1),
            anomaly_every=int(number("SIM_ANOMALY_EVERY", 0, 0, 100_000_000)),
            gap_rate=number("SIM_GAP_RATE", 0.005, 0, 1),
        )

    def tick(self, device: Device) -> None:
        device.seq += 1
        if device.rng.random() < self.gap_rate:
            device.gaps += 1
            return
        anomaly = (
            device.seq % self.anomaly_every == 0
            if self.anomaly_every
            else device.rng.random() < self.anomaly_rate
        )
        device.anomalies += anomaly
        payload = json.dumps(device.reading(anomaly))
        info = device.link.client.publish(f"devices/{device.name}/telemetry", payload, qos=1)
        if info.rc == MQTT_ERR_NO_CONN:
            # The broker is away (restarting): paho keeps a QoS 1 message and sends it once it
            # has reconnected, but the code it returned makes is_published() raise for good.
            info.rc = MQTT_ERR_SUCCESS
        device.published += 1
        device.unacked.append(info)
        while device.unacked and device.unacked[0].is_published():
            device.unacked.popleft()

    def run(self) -> None:
        for device in self.devices:
            device.link.start()
        for device in self.devices:
            if not device.link.connected.wait(15):
                raise SystemExit(f"{device.name}: cannot connect ({device.link.last_error})")
        start = time.monotonic()
        for device in self.devices:
            device.next_at = start
        while not self.stop.is_set():
            due = [d for d in self.devices if self.count == 0 or d.seq < self.count]
            if not due:
                break
            device = min(due, key=lambda d: d.next_at)
            wait = device.next_at - time.monotonic()
            if wait > 0 and self.stop.wait(wait):
                break
            if device.running:
                self.tick(device)
            device.next_at += device.interval

    def close(self) -> None:
        """Wait for the broker to acknowledge every reading (QoS 1), then disconnect."""
        for device in self.devices:
            for info in device.unacked:
                with contextlib.suppress(RuntimeError, ValueError):
                    info.wait_for_publish(10)
        self.stop.wait(0.5)  # commands that answer the last readings
        for device in self.devices:
            device.link.stop()

    def report(self) -> dict[str, Any]:
        return {
            d.name: {
                "published": d.published,
                "gaps": d.gaps,
                "anomalies": d.anomalies,
                "commands": d.commands,
            }
            for d in self.devices
        }


def main(env: Mapping[str, str] | None = None) -> None:
    settings = load_settings(env, web=False)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    simulator = Simulator.from_settings(settings)

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        simulator.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    simulator.run()
    simulator.close()
    print(json.dumps(simulator.report()), flush=True)


if __name__ == "__main__":
    main()
