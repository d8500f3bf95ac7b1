"""The fog gateway's settings, read from the environment once at start: the broker and uplink
addresses, the buffer, the stream windows and the alert rules (``ALERT_RULES``). A bad value stops
the gateway with one line naming it, before it connects anywhere."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..backends.settings import ConfigError, Settings
from .readings import METRICS, Limits

DEFAULT_RULES = "temperature>80=cooling_on;vibration>50=stop;humidity>95=vent"


@dataclass(frozen=True)
class Rule:
    metric: str
    above: float
    action: str


def parse_rules(raw: str) -> list[Rule]:
    """``metric>value=action;...`` (ALERT_RULES)."""
    rules = []
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        try:
            condition, action = part.split("=", 1)
            metric, value = condition.split(">", 1)
            rule = Rule(metric.strip(), float(value), action.strip())
        except ValueError:
            raise ConfigError(f"ALERT_RULES={raw}: use metric>value=action;...") from None
        if rule.metric not in METRICS or not rule.action.isidentifier():
            raise ConfigError(f"ALERT_RULES={raw}: unknown metric or bad action in {part!r}")
        rules.append(rule)
    return rules


@dataclass
class Config:
    gateway_id: str
    broker_url: str
    uplink_url: str
    buffer_path: Path
    buffer_max_items: int = 1_000_000
    batch_size: int = 200
    window_seconds: float = 10.0
    zscore_window: int = 60
    zscore_threshold: float = 4.0
    anomaly_action: str = "self_test"
    command_cooldown: float = 30.0
    retry_seconds: float = 2.0
    status_seconds: float = 2.0
    rules: list[Rule] = field(default_factory=lambda: parse_rules(DEFAULT_RULES))
    limits: Limits = field(default_factory=Limits)
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> Config:
        env = settings.extra
        gateway_id = env.get("GATEWAY_ID") or socket.gethostname().split(".")[0]
        number = settings.number
        return cls(
            gateway_id=gateway_id,
            broker_url=env.get("BROKER_URL") or "mqtt://127.0.0.1:1883",
            uplink_url=env.get("UPLINK_URL") or settings.queue_url.raw,
            buffer_path=Path(env.get("BUFFER_PATH") or settings.data_dir / "buffer.db"),
            buffer_max_items=int(number("BUFFER_MAX_ITEMS", 1_000_000, 100, 100_000_000)),
            batch_size=int(number("UPLINK_BATCH", 200, 1, 5000)),
            window_seconds=number("WINDOW_SECONDS", 10, 0.1, 86400),
            zscore_window=int(number("ZSCORE_WINDOW", 60, 10, 10_000)),
            zscore_threshold=number("ZSCORE_THRESHOLD", 4, 1, 100),
            anomaly_action=env.get("ANOMALY_ACTION", "self_test"),
            command_cooldown=number("COMMAND_COOLDOWN_SECONDS", 30, 0, 86400),
            retry_seconds=number("UPLINK_RETRY_SECONDS", 2, 0.05, 300),
            status_seconds=number("STATUS_SECONDS", 2, 0.1, 3600),
            rules=parse_rules(env.get("ALERT_RULES", DEFAULT_RULES)),
            limits=Limits(
                max_payload_bytes=int(number("MAX_PAYLOAD_BYTES", 4096, 64, 262_144)),
                max_future_seconds=number("MAX_FUTURE_SECONDS", 300, 0, 86400),
                rate_per_device=number("DEVICE_RATE_LIMIT", 200, 0.1, 100_000),
                burst_per_device=number("DEVICE_RATE_BURST", 400, 1, 1_000_000),
            ),
            env=env,
        )
