"""The gateway process under bad input and anomalies, through the real broker: every bad message
is dropped with a counted reason and the gateway goes on; a rule that fires commands the device
at once, even with the cloud unreachable."""

from __future__ import annotations

import json
import random
import time

import pytest

from .conftest import Rig, wait_until

pytestmark = pytest.mark.slow


def test_bad_input_is_dropped_with_a_counted_reason(rig: Rig) -> None:
    rig.start("gateway", DEVICE_RATE_LIMIT="5", DEVICE_RATE_BURST="10")
    rig.start("consumer")
    wait_until(rig.latest_status, 30, "the gateway's first status")
    now = time.time()
    bad = {
        "malformed_json": b'{"metrics": {"temperature": 2',
        "wrong_type": {"metrics": {"temperature": "hot"}},
        "absurd_value": {"metrics": {"humidity": 250}},
        "future_timestamp": {"ts": now + 86400, "metrics": {"temperature": 20}},
        "oversized": json.dumps({"metrics": {"temperature": 20}, "pad": "x" * 5000}).encode(),
        "unknown_metric": {"metrics": {"radiation": 1}},
        "not_an_object": b"[1, 2, 3]",
    }
    device = rig.broker.client("sensor-01")
    for payload in bad.values():
        device.publish("devices/sensor-01/telemetry", payload)
    flood = rig.broker.client("sensor-09")
    for seq in range(50):
        flood.publish("devices/sensor-09/telemetry", {"id": f"f{seq}", "metrics": {"vibration": 1}})
    device.publish("devices/sensor-01/telemetry", {"id": "good", "metrics": {"temperature": 21}})
    device.close()
    flood.close()

    wait_until(lambda: "sensor-01:good" in rig.stored_ids(), 30, "the good reading stored")
    status = wait_until(
        lambda: (s := rig.latest_status())["received"] == len(bad) + 51 and s, 30, "the counts"
    )
    dropped = status["dropped"]
    for reason in bad:
        assert dropped.get(reason) == 1, (reason, dropped)
    assert 35 <= dropped["rate_limited"] <= 40  # burst of 10, refilled at 5/s while publishing
    stored = rig.stored_ids()
    assert len([i for i in stored if i.startswith("sensor-09:")]) == 50 - dropped["rate_limited"]
    assert [i for i in stored if i.startswith("sensor-01:")] == ["sensor-01:good"]
    assert rig.processes["gateway"].poll() is None


def test_an_anomaly_raises_an_alert_and_commands_the_device_with_the_cloud_down(rig: Rig) -> None:
    rig.start("gateway")
    rig.start("consumer")
    wait_until(rig.latest_status, 30, "the gateway's first status")
    rig.cutter.cut()
    device = rig.broker.client("sensor-03", subscribe=("devices/sensor-03/commands",))
    noise = random.Random(3)
    for seq in range(40):
        reading = {"id": f"n{seq}", "metrics": {"temperature": 21 + noise.gauss(0, 0.3)}}
        device.publish("devices/sensor-03/telemetry", reading)
    assert not device.messages  # normal readings fire nothing
    device.publish("devices/sensor-03/telemetry", {"id": "spike", "metrics": {"temperature": 95}})

    assert device.wait_for(lambda messages: len(messages) >= 2, timeout=10)
    actions = sorted(json.loads(payload)["action"] for _, payload in device.messages)
    assert actions == ["cooling_on", "self_test"]  # threshold rule, then the z-score detector
    wait_until(lambda: rig.latest_status()["uplink"]["state"] == "down", 10, "uplink down")

    rig.cutter.restore()
    alerts = wait_until(lambda: rig.series.alerts(10), 30, "the alerts stored in the cloud")
    assert {(a["device_id"], a["metric"], a["action"]) for a in alerts} == {
        ("sensor-03", "temperature", "cooling_on"),
        ("sensor-03", "temperature", "self_test"),
    }
    device.close()
