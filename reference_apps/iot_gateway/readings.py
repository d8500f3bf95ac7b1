"""What a reading is, and why one is refused: every bad input is dropped with a named reason
that the gateway counts, so a misbehaving device never stops the others."""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
READING_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")

# Plausible physical ranges; a value outside is a broken sensor, not an anomaly to act on.
METRICS: dict[str, tuple[float, float]] = {
    "temperature": (-60.0, 150.0),
    "humidity": (0.0, 100.0),
    "vibration": (0.0, 100.0),
    "pressure": (300.0, 1200.0),
}

REASONS = (
    "oversized",
    "malformed_json",
    "not_an_object",
    "bad_device",
    "bad_id",
    "bad_timestamp",
    "future_timestamp",
    "too_old",
    "unknown_metric",
    "wrong_type",
    "absurd_value",
    "rate_limited",
)


class Rejected(ValueError):
    """A reading dropped, with the counted reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class Reading:
    id: str
    device_id: str
    ts: float
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "reading",
            "id": self.id,
            "device_id": self.device_id,
            "ts": self.ts,
            "metrics": self.metrics,
        }


@dataclass(frozen=True)
class Limits:
    max_payload_bytes: int = 4096
    max_future_seconds: float = 300.0
    max_age_seconds: float = 7 * 24 * 3600.0
    rate_per_device: float = 200.0
    burst_per_device: float = 400.0


def parse(payload: bytes, device_id: str, limits: Limits, now: float | None = None) -> Reading:
    """Validate one MQTT payload from ``devices/<device_id>/telemetry``."""
    now = time.time() if now is None else now
    if len(payload) > limits.max_payload_bytes:
        raise Rejected("oversized", f"{len(payload)} bytes > {limits.max_payload_bytes}")
    if not DEVICE_ID.match(device_id):
        raise Rejected("bad_device", f"device id {device_id[:70]!r}")
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as error:
        raise Rejected("malformed_json", str(error)[:100]) from None
    if not isinstance(body, dict):
        raise Rejected("not_an_object", type(body).__name__)
    reading_id = body["id"] if "id" in body else uuid.uuid4().hex
    if not isinstance(reading_id, str) or not READING_ID.match(reading_id):
        raise Rejected("bad_id", repr(reading_id)[:100])
    ts = body.get("ts", now)
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise Rejected("bad_timestamp", repr(ts)[:60])
    if ts > now + limits.max_future_seconds:
        raise Rejected("future_timestamp", f"{ts - now:.0f} s ahead")
    if ts < now - limits.max_age_seconds:
        raise Rejected("too_old", f"{now - ts:.0f} s old")
    raw = body.get("metrics")
    if not isinstance(raw, dict) or not raw:
        raise Rejected("wrong_type", "metrics must be a non-empty object")
    metrics: dict[str, float] = {}
    for name, value in raw.items():
        if name not in METRICS:
            raise Rejected("unknown_metric", repr(name)[:60])
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Rejected("wrong_type", f"{name} is {type(value).__name__}")
        low, high = METRICS[name]
        if not math.isfinite(value) or not low <= value <= high:
            raise Rejected("absurd_value", f"{name}={value} outside {low:g}..{high:g}")
        metrics[name] = float(value)
    return Reading(
        id=f"{device_id}:{reading_id}", device_id=device_id, ts=float(ts), metrics=metrics
    )


@dataclass
class RateLimiter:
    """A token bucket per device: a flood from one device is dropped, the others go on."""

    rate: float
    burst: float
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, device_id: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self.buckets.get(device_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self.buckets[device_id] = (tokens, now)
            return False
        self.buckets[device_id] = (tokens - 1, now)
        return True
