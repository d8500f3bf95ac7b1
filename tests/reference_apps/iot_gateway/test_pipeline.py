"""End to end on this machine: devices → mosquitto (TLS, passwords, ACL) → gateway process →
PostgreSQL telemetry queue → consumer process → time-series table and archive. The link from
the gateway to the queue runs through a relay the test can cut, like an outage would."""

from __future__ import annotations

import gzip
import json
import signal
import threading

import pytest

from .conftest import Rig, wait_until

pytestmark = pytest.mark.slow


def test_every_reading_is_stored_exactly_once_through_an_outage_and_a_restart(rig: Rig) -> None:
    rig.start("gateway")
    rig.start("consumer")
    wait_until(rig.latest_status, 30, "the gateway's first status")

    expected = rig.publish(100)
    wait_until(lambda: len(rig.stored_ids()) >= len(expected), 60, "the first 1,000 readings")

    rig.cutter.cut()  # the uplink goes down: the gateway keeps taking readings and buffers them
    expected |= rig.publish(100, start=100)
    down = wait_until(
        lambda: (
            (s := rig.latest_status())["buffer_depth"] >= 1000
            and s["uplink"]["state"] == "down"
            and s
        ),
        30,
        "a growing buffer and the uplink reported down",
    )
    assert down["dropped"].get("buffer_full", 0) == 0

    # a gateway restart with a full buffer loses nothing
    rig.processes["gateway"].send_signal(signal.SIGTERM)
    assert rig.processes["gateway"].wait(30) == 0
    assert len(rig.stored_ids()) < len(expected)
    rig.start("gateway")
    expected |= rig.publish(50, start=200)

    rig.cutter.restore()
    wait_until(lambda: len(rig.stored_ids()) >= len(expected), 90, "the buffer to drain")
    stored = rig.stored_ids()
    assert len(stored) == len(set(stored)) == len(expected)
    assert set(stored) == expected
    drained = wait_until(
        lambda: (
            (s := rig.latest_status())["buffer_depth"] == 0 and s["uplink"]["state"] == "up" and s
        ),
        30,
        "the buffer empty and the uplink up",
    )
    assert drained["dropped"] == {"buffer_full": 0}

    # the archive holds the same readings, compressed, once per batch
    archived = set()
    for path in (rig.folder / "archive").rglob("*.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            item = json.loads(line)
            if item["kind"] == "reading":
                archived.add(item["id"])
    assert archived == expected
    assert rig.series.count("summary") > 0
    assert {g["gateway"] for g in rig.series.gateways()} == {"gw1"}


def test_a_killed_gateway_loses_nothing(rig: Rig) -> None:
    """10 devices x 1,000 readings, and SIGKILL in the middle of the ingest: what the broker
    delivered but the gateway had not committed was never acknowledged, so the broker delivers
    it again to the new process; every reading is stored exactly once."""
    unlimited = {"DEVICE_RATE_LIMIT": "100000", "DEVICE_RATE_BURST": "100000"}  # devices flood
    rig.start("gateway", **unlimited)
    rig.start("consumer")
    wait_until(rig.latest_status, 30, "the gateway's first status")
    publishing = threading.Thread(target=lambda: expected.update(rig.publish(1000)))
    expected: set[str] = set()
    publishing.start()
    wait_until(lambda: rig.latest_status().get("received", 0) >= 3000, 60, "ingest under way")
    rig.processes["gateway"].kill()
    rig.processes["gateway"].wait(10)
    rig.start("gateway", **unlimited)
    publishing.join(120)
    assert len(expected) == 10_000
    wait_until(lambda: len(rig.stored_ids()) >= len(expected), 120, "every reading stored")
    stored = rig.stored_ids()
    assert len(stored) == len(set(stored)) and set(stored) == expected
