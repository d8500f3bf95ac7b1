"""End to end on this machine: devices → mosquitto (TLS, passwords, ACL) → gateway process →
PostgreSQL telemetry queue → consumer process → time-series table and archive. The link from
the gateway to the queue runs through a relay the test can cut, like an outage would."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, stop

from reference_apps.backends.settings import parse_url
from reference_apps.iot_gateway.timeseries import TimeSeries

from .conftest import DEVICES, Broker, Client, LinkCutter

pytestmark = pytest.mark.slow


def wait_until(condition: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(0.1)


@dataclass
class Rig:
    broker: Broker
    env: dict[str, str]
    series: TimeSeries
    cutter: LinkCutter
    folder: Path
    processes: dict[str, subprocess.Popen]
    status: Client

    def start(self, name: str) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", f"reference_apps.iot_gateway.{name}"],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=log,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def latest_status(self) -> dict[str, Any]:
        for topic, payload in reversed(self.status.messages):
            if topic == "gateways/gw1/status":
                return json.loads(payload)
        return {}

    def publish(self, count: int, start: int = 0, devices: list[str] = DEVICES) -> set[str]:
        """``count`` readings per device; returns their stored ids."""
        ids = set()
        for device in devices:
            client = self.broker.client(device)
            infos = []
            for seq in range(start, start + count):
                reading = {
                    "id": f"r{seq}",
                    "ts": time.time(),
                    "metrics": {"temperature": 20 + (seq % 7) * 0.1, "humidity": 40.0},
                }
                infos.append(
                    client.client.publish(f"devices/{device}/telemetry", json.dumps(reading), qos=1)
                )
                ids.add(f"{device}:r{seq}")
            for info in infos:
                info.wait_for_publish(30)
            client.close()
        return ids

    def stored_ids(self) -> list[str]:
        rows = self.series.db.execute(f"SELECT id FROM {self.series.table} WHERE kind = 'reading'")
        return [row["id"] for row in rows]


@pytest.fixture
def rig(
    make_broker: Callable[..., Broker], postgres_dsn: str, fresh_pg_table: str, tmp_path: Path
) -> Iterator[Rig]:
    broker = make_broker()
    cutter = LinkCutter(int(postgres_dsn.rsplit(":", 1)[1].split("/")[0]))
    relayed = postgres_dsn.replace(postgres_dsn.rsplit(":", 1)[1].split("/")[0], str(cutter.port))
    queue_table, series_table = f"{fresh_pg_table}_q", f"{fresh_pg_table}_ts"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_ID": "gw1",
        "BROKER_URL": broker.url("gw1"),
        "BROKER_CA_FILE": str(broker.ca),
        "UPLINK_URL": f"{relayed}?table={queue_table}",
        "UPLINK_RETRY_SECONDS": "0.2",
        "UPLINK_TIMEOUT_SECONDS": "3",
        "STATUS_SECONDS": "0.2",
        "QUEUE_URL": f"{postgres_dsn}?table={queue_table}",
        "KV_URL": f"{postgres_dsn}?table={series_table}",
        "OBJECT_STORE_URL": f"file://{tmp_path}/archive",
        "QUEUE_VISIBILITY_TIMEOUT": "5",
        "LOG_LEVEL": "INFO",
    }
    series = TimeSeries(parse_url("KV_URL", env["KV_URL"], ("postgresql",)), 86400)
    status = broker.client("fogapi", subscribe=("gateways/+/status",))
    rig = Rig(broker, env, series, cutter, tmp_path, {}, status)
    try:
        yield rig
    finally:
        status.close()
        for process in rig.processes.values():
            if process.poll() is None:
                stop(process)
        cutter.cut()


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
