"""The pieces on their own: the agents' arithmetic, every rejection reason, the buffer's bound
and durability, and the consumer's idempotence and dead-lettering on a real SQLite queue."""

from __future__ import annotations

import gzip
import json
import math
import time
from pathlib import Path

import pytest

from reference_apps.backends.settings import ConfigError
from reference_apps.iot_gateway import load_settings
from reference_apps.iot_gateway.buffer import Buffer
from reference_apps.iot_gateway.consumer import build_consumer
from reference_apps.iot_gateway.gateway import parse_rules
from reference_apps.iot_gateway.readings import Limits, RateLimiter, Rejected, parse
from reference_apps.iot_gateway.streams import (
    Stream,
    Window,
    WindowStats,
    sliding_window,
    tumbling_window,
    zscore,
)
from reference_apps.iot_gateway.uplink import open_uplink, sas_token

NOW = 1_800_000_000.0


def test_tumbling_windows_close_when_the_next_one_starts() -> None:
    source: Stream[tuple[str, float, float]] = Stream("in")
    out: Stream[Window] = Stream("out")
    tumbling_window(10, lambda v: v[0], lambda v: v[1], lambda v: v[2], source, out)
    closed: list[Window] = []
    out.subscribe(closed.append)
    source.extend([("a", 100, 1.0), ("a", 105, 3.0), ("b", 101, 7.0), ("a", 110, 9.0)])
    assert [(w.key, w.start, w.values) for w in closed] == [("a", 100, [1.0, 3.0])]
    assert closed[0].summary() == {
        "start": 100,
        "end": 110,
        "count": 2,
        "min": 1.0,
        "max": 3.0,
        "mean": 2.0,
    }


def stats(values: list[float]) -> WindowStats:
    return WindowStats(len(values), sum(values), sum(v * v for v in values))


def test_sliding_window_and_zscore() -> None:
    source: Stream[float] = Stream("in")
    out: Stream[tuple[float, WindowStats]] = Stream("out")
    sliding_window(3, lambda _: "k", lambda v: v, source, out)
    seen: list[tuple[float, WindowStats]] = []
    out.subscribe(seen.append)
    source.extend([1.0, 2.0, 3.0, 4.0, 10.0])
    assert seen[3] == (4.0, stats([1.0, 2.0, 3.0]))
    assert seen[4] == (10.0, stats([2.0, 3.0, 4.0]))  # the oldest value left the window
    assert seen[4][1].mean == pytest.approx(3.0) and seen[4][1].std == pytest.approx(1.0)
    window = [10.0, 12.0] * 10
    expected_std = math.sqrt(sum((x - 11) ** 2 for x in window) / 19)
    assert zscore(11.0, stats(window)) == pytest.approx(0.0)
    assert zscore(21.0, stats(window)) == pytest.approx(10 / expected_std)
    assert zscore(50.0, stats(window[:9])) is None  # too few values to judge
    assert zscore(5.0, stats([4.0] * 20)) == math.inf
    assert zscore(4.0, stats([4.0] * 20)) is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"x" * 5000, "oversized"),
        (b"{not json", "malformed_json"),
        (b'"text"', "not_an_object"),
        (b'{"id": "a b", "metrics": {"temperature": 1}}', "bad_id"),
        (b'{"ts": "yesterday", "metrics": {"temperature": 1}}', "bad_timestamp"),
        (b'{"ts": 1800003600, "metrics": {"temperature": 1}}', "future_timestamp"),
        (b'{"ts": 1000000000, "metrics": {"temperature": 1}}', "too_old"),
        (b'{"metrics": {"radiation": 1}}', "unknown_metric"),
        (b'{"metrics": {"temperature": true}}', "wrong_type"),
        (b'{"metrics": []}', "wrong_type"),
        (b'{"metrics": {"humidity": 101}}', "absurd_value"),
        (b'{"metrics": {"temperature": NaN}}', "absurd_value"),
    ],
)
def test_each_bad_reading_is_rejected_with_its_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse(payload, "sensor-01", Limits(), now=NOW)
    assert caught.value.reason == reason


def test_a_good_reading_gets_an_id_scoped_to_its_device() -> None:
    reading = parse(
        b'{"id": "7", "ts": 1800000000, "metrics": {"vibration": 2}}', "s-1", Limits(), NOW
    )
    assert (reading.id, reading.ts, reading.metrics) == ("s-1:7", NOW, {"vibration": 2.0})
    with pytest.raises(Rejected, match="bad_device"):
        parse(b'{"metrics": {"vibration": 2}}', "a/b", Limits())


def test_rate_limiter_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2, burst=3)
    assert [limiter.allow("d", now=0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("other", now=0)  # per device
    assert limiter.allow("d", now=0.5) and not limiter.allow("d", now=0.5)


def item(n: int, kind: str = "reading") -> dict:
    return {"id": f"{kind}-{n}", "kind": kind, "device_id": "d", "ts": NOW + n}


def test_buffer_survives_reopening_and_ignores_a_repeated_id(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "b.db", max_items=100)
    buffer.put_many([item(1), item(2), item(1)])
    buffer.close()
    again = Buffer(tmp_path / "b.db", max_items=100)
    assert again.depth() == 2
    rows = again.peek(10)
    assert [body["id"] for _, body in rows] == ["reading-1", "reading-2"]
    again.remove([rows[0][0]])
    assert again.depth() == 1 and again.counters()["forwarded"] == 1


def test_full_buffer_drops_the_oldest_readings_and_keeps_summaries_and_alerts(
    tmp_path: Path,
) -> None:
    buffer = Buffer(tmp_path / "b.db", max_items=5)
    buffer.put_many([item(1, "summary"), item(2), item(3), item(4, "alert"), item(5)])
    dropped = buffer.put_many([item(6), item(7)])
    assert dropped == 2
    assert [body["id"] for _, body in buffer.peek(10)] == [
        "summary-1",
        "alert-4",
        "reading-5",
        "reading-6",
        "reading-7",
    ]
    assert buffer.counters()["dropped_full"] == 2
    buffer.put_many([item(n, "summary") for n in range(10, 16)])  # no readings left to drop
    assert buffer.depth() == 5
    assert buffer.peek(1)[0][1]["id"] == "summary-11"


def test_rules_are_parsed_and_bad_ones_refused() -> None:
    rules = parse_rules("temperature>80=cooling_on; vibration>5=stop")
    assert [(r.metric, r.above, r.action) for r in rules] == [
        ("temperature", 80.0, "cooling_on"),
        ("vibration", 5.0, "stop"),
    ]
    for bad in ("temperature=cool", "radiation>1=run", "temperature>x=cool", "humidity>1=a b"):
        with pytest.raises(ConfigError, match="ALERT_RULES"):
            parse_rules(bad)


def test_uplink_url_errors_are_one_line() -> None:
    with pytest.raises(ConfigError, match=r"UPLINK_URL=ftp://x: unsupported scheme"):
        open_uplink("ftp://x", "gw", {})
    with pytest.raises(ConfigError, match="AZURE_IOT_DEVICE_KEY"):
        open_uplink("azureiot://hub.azure-devices.net/gw", "gw", {})


def test_sas_token_matches_the_documented_algorithm() -> None:
    # Independent computation of Azure's SharedAccessSignature (HMAC-SHA256 over
    # "<url-encoded resource>\n<expiry>", key base64-decoded).
    import base64
    import hashlib
    import hmac
    import urllib.parse

    key = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    token = sas_token("hub.azure-devices.net/devices/gw", key, 1_900_000_000)
    fields = dict(
        part.split("=", 1) for part in token.removeprefix("SharedAccessSignature ").split("&")
    )
    assert fields["sr"] == "hub.azure-devices.net%2Fdevices%2Fgw" and fields["se"] == "1900000000"
    expected = hmac.new(
        b"0123456789abcdef0123456789abcdef",
        b"hub.azure-devices.net%2Fdevices%2Fgw\n1900000000",
        hashlib.sha256,
    ).digest()
    assert base64.b64decode(urllib.parse.unquote(fields["sig"])) == expected


def test_consumer_is_idempotent_and_dead_letters_poison(tmp_path: Path) -> None:
    settings = load_settings(
        {"DATA_DIR": str(tmp_path), "QUEUE_VISIBILITY_TIMEOUT": "0.1", "QUEUE_MAX_DELIVERIES": "2"},
        web=False,
    )
    consumer = build_consumer(settings)
    batch = {"gateway": "gw1", "status": {"buffer_depth": 3}, "items": [item(1), item(2, "alert")]}
    consumer.queue.send(batch)
    consumer.queue.send(batch)  # a redelivery of the same batch
    consumer.queue.send_raw("not a batch")
    consumer.queue.send({"gateway": "gw1", "items": [{"id": "x", "kind": "reading"}]})
    handled = []
    deadline = time.monotonic() + 10
    while len(consumer.queue.dead_letters()) < 2 and time.monotonic() < deadline:
        message = consumer.queue.receive(wait=0.5)
        if message is not None:
            handled.append(consumer.handle(message))
    assert handled.count(True) == 2
    assert consumer.series.count("reading") == 1 and consumer.series.count("alert") == 1
    dead = consumer.queue.dead_letters()
    assert dead[0] == "not a batch" and dead[1]["items"][0]["id"] == "x"
    archived = list((tmp_path / "objects").rglob("*.jsonl.gz"))
    assert len(archived) == 1  # the redelivered batch rewrote the same object
    lines = gzip.decompress(archived[0].read_bytes()).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["reading-1", "alert-2"]
    assert consumer.series.gateways()[0]["buffer_depth"] == 3
