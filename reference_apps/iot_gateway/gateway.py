"""The fog gateway: ``python -m reference_apps.iot_gateway.gateway``.

Subscribes to ``devices/+/telemetry`` on the local broker, runs the stream agents (windows,
thresholds, z-score, rates), sends commands to actuators when a rule fires, and stores readings,
summaries and alerts in the durable buffer before the broker gets its PUBACK; a forwarder thread
drains the buffer to the uplink in batches. Runs until SIGTERM/SIGINT.
Its settings and alert rules are read by :mod:`.gateway_config`.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from ..backends.settings import parse_url
from ..web import configure_logging
from . import load_settings
from .buffer import Buffer
from .gateway_config import DEFAULT_RULES, Config, Rule, parse_rules
from .readings import RateLimiter, Reading, Rejected, parse
from .streams import (
    RateMeter,
    Stream,
    Window,
    WindowStats,
    filter_element,
    map_element,
    sink,
    sliding_window,
    tumbling_window,
    zscore,
)
from .uplink import MqttLink, Uplink, UplinkDown, open_uplink

__all__ = ["DEFAULT_RULES", "Config", "Gateway", "Rule", "Sample", "main", "parse_rules"]

log = logging.getLogger("iot_gateway.gateway")

GROUP_SIZE = 64  # messages per buffer commit at most
FLUSH_SECONDS = 0.005  # and at least this often


@dataclass
class Sample:
    reading: Reading
    metric: str
    value: float

    @property
    def key(self) -> str:
        return f"{self.reading.device_id}/{self.metric}"


class Gateway:
    """Agents wired over streams, the buffer, the local broker link and the forwarder."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.buffer = Buffer(config.buffer_path, config.buffer_max_items)
        self.uplink: Uplink = open_uplink(config.uplink_url, config.gateway_id, config.env)
        self.dropped: Counter[str] = Counter()
        self.received = 0
        self.commands_sent = 0
        self.uplink_state = "unknown"
        self.uplink_error = ""
        self.last_forward = 0.0
        self.devices: dict[str, dict[str, Any]] = {}
        self.limiter = RateLimiter(config.limits.rate_per_device, config.limits.burst_per_device)
        self.rates = RateMeter()
        self._last_command: dict[tuple[str, str], float] = {}
        self._pending: list[dict[str, Any]] = []
        self._group: list[dict[str, Any]] = []
        self._acks: list[tuple[int, int]] = []
        self._group_lock = threading.Lock()
        self._wake = threading.Event()
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self.readings: Stream[Reading] = Stream("readings")
        self._wire()
        url = parse_url("BROKER_URL", config.broker_url, ("mqtt", "mqtts"))
        self.broker = MqttLink(
            url, f"gateway-{config.gateway_id}", config.env, "BROKER", clean=False
        )
        self.broker.client.on_message = self._on_message
        self.broker.client.manual_ack_set(True)
        self.broker.client.on_connect = self._on_broker_connect

    # -- the agents -------------------------------------------------------------------------
    def _wire(self) -> None:
        """readings → outbox; readings → samples → windows → summaries; samples → sliding
        window → z-score and thresholds → alerts → outbox and commands."""
        cfg = self.config
        outbox: Stream[dict[str, Any]] = Stream("outbox")
        samples: Stream[Sample] = Stream("samples")
        windows: Stream[Window] = Stream("windows")
        recent: Stream[tuple[Sample, WindowStats]] = Stream("recent")
        alerts: Stream[dict[str, Any]] = Stream("alerts")

        sink(self._pending.append, outbox)
        map_element(Reading.to_dict, self.readings, outbox)
        sink(self._track_device, self.readings)

        def explode(reading: Reading) -> None:
            for metric, value in reading.metrics.items():
                samples.append(Sample(reading, metric, value))

        sink(explode, self.readings)
        tumbling_window(
            cfg.window_seconds,
            lambda s: s.key,
            lambda s: s.reading.ts,
            lambda s: s.value,
            samples,
            windows,
        )
        map_element(self._summary, windows, outbox)
        sliding_window(cfg.zscore_window, lambda s: s.key, lambda s: s.value, samples, recent)
        map_element(self._anomaly, recent, alerts)
        thresholds: Stream[Sample] = Stream("over-threshold")
        filter_element(lambda s: self._rule_for(s) is not None, samples, thresholds)
        map_element(self._threshold_alert, thresholds, alerts)
        sink(outbox.append, alerts)
        sink(self._act, alerts)

    def _track_device(self, reading: Reading) -> None:
        self.devices[reading.device_id] = {
            "last_ts": reading.ts,
            "metrics": reading.metrics,
            "rate": round(self.rates.add(reading.device_id, time.monotonic()), 2),
        }

    def _summary(self, window: Window) -> dict[str, Any]:
        device_id, metric = window.key.split("/", 1)
        return {
            "kind": "summary",
            "id": f"summary:{window.key}:{window.start:.3f}",
            "device_id": device_id,
            "metric": metric,
            "ts": window.start,
            **window.summary(),
        }

    def _rule_for(self, sample: Sample) -> Rule | None:
        for rule in self.config.rules:
            if rule.metric == sample.metric and sample.value > rule.above:
                return rule
        return None

    def _threshold_alert(self, sample: Sample) -> dict[str, Any] | None:
        rule = self._rule_for(sample)
        if rule is None:
            return None
        return self._alert(sample, f"{sample.metric} > {rule.above:g}", rule.action)

    def _anomaly(self, item: tuple[Sample, WindowStats]) -> dict[str, Any] | None:
        sample, window = item
        score = zscore(sample.value, window)
        if score is None or abs(score) < self.config.zscore_threshold:
            return None
        score_text = "inf" if abs(score) == float("inf") else f"{score:.1f}"
        return self._alert(sample, f"z-score {score_text}", self.config.anomaly_action)

    def _alert(self, sample: Sample, rule: str, action: str) -> dict[str, Any]:
        kind = "anomaly" if rule.startswith("z-score") else "threshold"
        return {
            "kind": "alert",
            "id": f"alert:{sample.reading.id}:{sample.metric}:{kind}",
            "device_id": sample.reading.device_id,
            "ts": sample.reading.ts,
            "metric": sample.metric,
            "value": sample.value,
            "rule": rule,
            "action": action,
        }

    def _act(self, alert: dict[str, Any]) -> None:
        """Command the device at once, cloud or no cloud (one per action per cool-down)."""
        action, device_id = alert["action"], alert["device_id"]
        if not action:
            return
        now = time.monotonic()
        last = self._last_command.get((device_id, action))
        if last is not None and now - last < self.config.command_cooldown:
            return
        self._last_command[(device_id, action)] = now
        command = {"id": uuid.uuid4().hex, "action": action, "reason": alert["rule"]}
        self.broker.client.publish(f"devices/{device_id}/commands", json.dumps(command), qos=1)
        self.commands_sent += 1
        log.info("command sent", extra={"device_id": device_id, "action": action})

    # -- ingest -----------------------------------------------------------------------------
    def _on_broker_connect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.broker._on_connect(client, userdata, flags, reason, props)
        if not reason.is_failure:
            client.subscribe("devices/+/telemetry", qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        """Runs in paho's thread. The PUBACK is sent only once the reading is committed to the
        buffer (group commit: every GROUP_SIZE messages or FLUSH_SECONDS), so the broker
        redelivers whatever a crash interrupted."""
        with self._group_lock:
            self.ingest(message.topic, message.payload)
            self._acks.append((message.mid, message.qos))
            if len(self._acks) >= GROUP_SIZE:
                self._flush_locked()

    def ingest(self, topic: str, payload: bytes) -> bool:
        """Validate one message and run the agents on it; its items wait in the group for the
        next :meth:`flush`. False when it was dropped (reason counted)."""
        self.received += 1
        parts = topic.split("/")
        device_id = parts[1] if len(parts) == 3 else ""
        try:
            reading = parse(payload, device_id, self.config.limits)
            if not self.limiter.allow(device_id):
                raise Rejected("rate_limited", f"over {self.config.limits.rate_per_device:g}/s")
        except Rejected as rejected:
            self.dropped[rejected.reason] += 1
            log.debug(
                "reading dropped", extra={"device_id": device_id[:64], "reason": str(rejected)}
            )
            return False
        try:
            self.readings.append(reading)
            self._group.extend(self._pending)
        finally:
            self._pending.clear()
        return True

    def flush(self) -> None:
        """Commit the group to the buffer, then acknowledge its messages to the broker."""
        with self._group_lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._group:
            dropped = self.buffer.put_many(self._group)
            self._group.clear()
            if dropped:
                self.dropped["buffer_full"] += dropped
            self._wake.set()
        for mid, qos in self._acks:
            self.broker.client.ack(mid, qos)
        self._acks.clear()

    def _flush_loop(self) -> None:
        while not self.stop_event.wait(FLUSH_SECONDS):
            self.flush()

    # -- forwarding -------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        counters = self.buffer.counters()
        state = "down" if self.uplink.connected() is False else self.uplink_state
        return {
            "gateway": self.config.gateway_id,
            "at": time.time(),
            "buffer_depth": self.buffer.depth(),
            "buffer_max": self.config.buffer_max_items,
            "uplink": {
                "scheme": self.uplink.scheme,
                "state": state,
                "error": self.uplink_error,
                "last_forward": self.last_forward,
            },
            "received": self.received,
            "forwarded": counters.get("forwarded", 0),
            "dropped": {**dict(self.dropped), "buffer_full": counters.get("dropped_full", 0)},
            "commands_sent": self.commands_sent,
            "devices": dict(self.devices),
        }

    def forward_once(self) -> int:
        """Send one batch; returns how many items left the buffer (0 if empty or down)."""
        rows = self.buffer.peek(self.config.batch_size)
        if not rows:
            return 0
        status = self.status()
        status["buffer_depth"] -= len(rows)  # as it will be once this batch is accepted
        batch = {"gateway": self.config.gateway_id, "status": status, "items": [i for _, i in rows]}
        try:
            self.uplink.send(batch)
        except UplinkDown as error:
            if self.uplink_state != "down":
                log.warning("uplink down; buffering", extra={"error": str(error)[:300]})
            self.uplink_state, self.uplink_error = "down", str(error)[:300]
            return 0
        if self.uplink_state != "up":
            log.info("uplink up", extra={"buffer_depth": self.buffer.depth()})
        self.uplink_state, self.uplink_error = "up", ""
        self.last_forward = time.time()
        self.buffer.remove([seq for seq, _ in rows])
        return len(rows)

    def _forward_loop(self) -> None:
        while not self.stop_event.is_set():
            sent = self.forward_once()
            if sent == 0:
                delay = self.config.retry_seconds if self.uplink_state == "down" else 0.5
                self._wake.clear()
                if self.uplink_state == "down":
                    self.stop_event.wait(delay)
                else:
                    self._wake.wait(delay)

    def _status_loop(self) -> None:
        topic = f"gateways/{self.config.gateway_id}/status"
        while not self.stop_event.wait(self.config.status_seconds):
            if self.broker.connected.is_set():
                payload = json.dumps(self.status())
                self.broker.client.publish(topic, payload, qos=1, retain=True)

    def start(self) -> None:
        self.broker.start()
        for target in (self._flush_loop, self._forward_loop, self._status_loop):
            thread = threading.Thread(target=target, name=target.__name__, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info(
            "gateway started",
            extra={"gateway": self.config.gateway_id, "buffer_depth": self.buffer.depth()},
        )

    def stop(self) -> None:
        """Commit and acknowledge what was taken, stop the threads, then leave the broker;
        anything it delivered after the last commit is unacknowledged, so it comes again."""
        self.stop_event.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.flush()
        self.broker.stop()
        self.uplink.close()
        self.buffer.close()


def main(env: Mapping[str, str] | None = None) -> None:
    settings = load_settings(env, web=False)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    gateway = Gateway(Config.from_settings(settings))
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()  # only this: logging here could re-enter a write to stderr in progress

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    gateway.start()
    stop.wait()
    log.info("stopping: committing and acknowledging what was taken")
    gateway.stop()
    log.info("gateway stopped")


if __name__ == "__main__":
    main()
