"""What every cloud's time-series adapter must show the consumer and the fog API, written once:
the same batch (readings, a same-timestamp twin, an alert, a summary, a gateway status)
delivered twice, then read back through the API and by time range. Each cloud's test brings its
own store (Azurite, the Firestore double) and its own extra checks."""

from __future__ import annotations

from typing import Any

from reference_apps.backends.queue import Message

DAY = 86400.0


def reading(device: str, n: int, ts: float, **metrics: float) -> dict[str, Any]:
    """Reading ``n`` of ``device``; its temperature is 20 + n unless ``metrics`` says otherwise."""
    return {
        "kind": "reading",
        "id": f"{device}:r{n}",
        "device_id": device,
        "ts": ts,
        "metrics": metrics or {"temperature": 20.0 + n},
    }


def gateway_batch(now: float) -> dict[str, Any]:
    """12 readings of s1 and one of s2, a twin of s1:r0 (same timestamp), an alert and a
    summary: 16 items, as one gateway uplink sends them."""
    readings = [reading("s1", n, now + n) for n in range(12)] + [reading("s2", 0, now)]
    twin = {**reading("s1", 99, now), "metrics": {"temperature": 5.0}}  # same ts as s1:r0
    alert = {
        "kind": "alert",
        "id": "alert:s1:r11:temperature:threshold",
        "device_id": "s1",
        "ts": now + 11,
        "rule": "threshold",
    }
    summary = {"kind": "summary", "id": "summary:s1/temperature:0", "device_id": "s1", "ts": now}
    return {
        "gateway": "gw1",
        "status": {"buffer_depth": 7},
        "items": [*readings, twin, alert, summary],
    }


def store_twice(consumer: Any, batch: dict[str, Any]) -> None:
    """Delivers ``batch`` twice: the redelivery stores nothing again."""
    for delivery in (1, 2):
        assert consumer.handle(Message(f"m{delivery}", batch, delivery, None)) is True
    series = consumer.series
    assert series.insert(batch["items"]) == 0
    assert (series.count("reading"), series.count("alert"), series.count("summary")) == (14, 1, 1)


def check_api_and_range(client: Any, series: Any, now: float) -> None:
    """The fog API's answers over ``gateway_batch(now)``, and the by-time range: since
    inclusive, until exclusive, newest first."""
    assert client.get("/api/v1/devices").json["devices"] == [
        {"device_id": "s1", "readings": 13, "last_ts": now + 11, "last": {"temperature": 31.0}},
        {"device_id": "s2", "readings": 1, "last_ts": now, "last": {"temperature": 20.0}},
    ]
    recent = client.get("/api/v1/devices/s1/readings?limit=3").json
    assert [r["id"] for r in recent["readings"]] == ["s1:r9", "s1:r10", "s1:r11"]
    assert [s["id"] for s in recent["summaries"]] == ["summary:s1/temperature:0"]
    assert [a["id"] for a in client.get("/api/v1/alerts").json["alerts"]] == [
        "alert:s1:r11:temperature:threshold"
    ]
    assert client.get("/api/v1/gateways").json["gateways"][0]["buffer_depth"] == 7
    assert client.get("/readyz").json["checks"] == {"timeseries": "ok"}
    window = series.range("s1", "reading", since=now + 3, until=now + 6)
    assert [r["id"] for r in window] == ["s1:r5", "s1:r4", "s1:r3"]
