"""iot-gateway on the local target, end to end: simulated devices publish over MQTT/TLS to the
gateway host's mosquitto; the fog gateway buffers every reading and forwards it to the telemetry
queue on the services host; the consumer on the worker host writes the time series, which the fog
API serves through the load balancer.

A fixed run (10 devices x READINGS readings) must be stored exactly once; the uplink is cut on the
gateway host (an nftables rule rejecting PostgreSQL) and the buffer must grow, then drain when the
link returns, losing and doubling nothing, also across a restart of the gateway with a full
buffer; the broker refuses a wrong password and another device's topic; an injected reading over
a threshold raises an alert and the command reaches the device, which acknowledges it."""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import LbClient, wait_until
from tierstack.local.inventory import (
    BROKER_CA,
    GATEWAY_ID,
    GATEWAY_UNIT,
    SIMULATOR_PASSWORDS,
    SIMULATOR_UNIT,
    device_secret,
)
from tierstack.local.target import LocalTarget

pytestmark = [pytest.mark.hosts, pytest.mark.faults]  # stops the simulator, cuts the uplink

APP = "iot-gateway"
DEVICES = [f"sensor-{n:02d}" for n in range(10)]
READINGS = 1000  # per device in the fixed run: 10,000 readings in 50 s
RUN_INTERVAL = 0.05
BURST = 100  # per device while the uplink is cut
CUT_TABLE = "e2e_uplink_cut"
PYTHON = "/opt/tierstack/venv/bin/python"


class Site:
    """The hosts this file drives, and what it reads from them."""

    def __init__(self, target: LocalTarget, hosts: dict[str, Any]) -> None:
        self.target = target
        self.gateway = hosts["gateway"]
        self.services = hosts["services"]
        self.lb = LbClient(target, APP)
        self.keys = target.secrets()

    def sql(self, query: str) -> str:
        return self.services.check_output(
            f"psql -U postgres -d iot_gateway -tA -F '|' -c {shlex.quote(query)}"
        ).strip()

    def now(self) -> int:
        return int(self.gateway.check_output("date +%s"))

    def run_devices(self, count: int, interval: float) -> tuple[dict[str, Any], int, int]:
        """Runs the simulator once on the gateway host (10 devices, ``count`` readings each, no
        gaps or spikes); returns its report and the seconds it started and ended in. The
        deployed simulator uses the same devices (and MQTT client ids), so it stops meanwhile
        and starts again a second after, its readings outside that range."""
        env = {
            "BROKER_URL": "mqtts://localhost:8883",
            "BROKER_CA_FILE": BROKER_CA,
            "DEVICE_PASSWORDS_FILE": SIMULATOR_PASSWORDS,
            "SIM_DEVICES": str(len(DEVICES)),
            "SIM_COUNT": str(count),
            "SIM_INTERVAL": str(interval),
            "SIM_GAP_RATE": "0",
            "SIM_ANOMALY_RATE": "0",
            "DATA_DIR": "/tmp/e2e-simulator",
            "LOG_LEVEL": "WARNING",
        }
        assignments = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        self.gateway.check_output(f"systemctl stop {SIMULATOR_UNIT}")
        try:
            # The deployed simulator may have started this very second (the previous run starts
            # it again at its end), and its ids carry that second: this run's window starts at
            # the next one.
            time.sleep(1.1)
            since = self.now()
            out = self.gateway.check_output(
                f"cd /opt/tierstack/src && env {assignments} timeout 300"
                f" {PYTHON} -m reference_apps.iot_gateway.simulator 2>/dev/null"
            )
            until = self.now()
        finally:
            time.sleep(1.1)
            self.gateway.check_output(f"systemctl start {SIMULATOR_UNIT}")
        return json.loads(out.splitlines()[-1]), since, until

    def stored(self, since: int, until: int) -> dict[str, tuple[int, int, int, int]]:
        """Readings stored from simulator runs started in [since, until] (the reading id is
        ``<device>:<boot second>-<seq>``): per device (rows, distinct seqs, min seq, max seq)."""
        boot = "substring(id from ':([0-9]+)-[0-9]+$')::bigint"
        seq = "substring(id from ':[0-9]+-([0-9]+)$')::bigint"
        rows = self.sql(
            f"select device_id, count(*), count(distinct {seq}), min({seq}), max({seq})"
            f" from kv where kind = 'reading' and {boot} between {since} and {until}"
            " group by device_id order by device_id"
        )
        return {
            line.split("|")[0]: tuple(int(v) for v in line.split("|")[1:])  # type: ignore[misc]
            for line in rows.splitlines()
            if line
        }

    def has_item(self, item_id: str) -> bool:
        return self.sql(f"select count(*) from kv where id = '{item_id}'") == "1"

    def status(self) -> dict[str, Any]:
        """The gateway's live status as the fog API shows it through the load balancer."""
        response = self.lb.get("/api/v1/gateways")
        assert response.status_code == 200, response.text
        found = [g for g in response.json()["gateways"] if g["gateway"] == GATEWAY_ID]
        return found[0] if found else {}

    def fresh_status(self, after: float) -> dict[str, Any]:
        """A live status the gateway published after ``after`` (epoch seconds)."""
        return wait_until(
            lambda: (
                (s := self.status()).get("source") == "live"
                and (s.get("seen_at") or 0) > after
                and s
            ),
            30,
            "a fresh live status of the gateway",
        )

    def cut_uplink(self) -> None:
        services = self.target.ip("services")
        self.gateway.check_output(
            f"nft add table inet {CUT_TABLE}"
            f" && nft 'add chain inet {CUT_TABLE} out {{ type filter hook output priority 0 ; }}'"
            f" && nft add rule inet {CUT_TABLE} out ip daddr {services} tcp dport 5432"
            " reject with tcp reset"
        )

    def restore_uplink(self) -> None:
        self.gateway.run(f"nft delete table inet {CUT_TABLE}")

    def publish(self, device: str, password: str, topic: str, reading: dict[str, Any]) -> Any:
        """One reading with mosquitto_pub (QoS 1) on the gateway host; the finished command."""
        return self.gateway.run(
            f"mosquitto_pub -h localhost -p 8883 --cafile {BROKER_CA} -q 1 -V mqttv311"
            f" -u {device} -P {shlex.quote(password)} -t {topic}"
            f" -m {shlex.quote(json.dumps(reading))}"
        )


def reading(reading_id: str, **metrics: float) -> dict[str, Any]:
    return {"id": reading_id, "ts": time.time(), "metrics": {"temperature": 21.5, **metrics}}


@pytest.fixture(scope="module")
def site(target: LocalTarget, hosts: dict[str, Any]) -> Iterator[Site]:
    if APP not in target.apps:
        pytest.fail(f"{APP} is not deployed on this target (apps: {target.apps})")
    found = Site(target, hosts)
    found.restore_uplink()  # a rule an interrupted run left
    wait_until(lambda: found.status().get("uplink_state") == "up", 60, "the uplink up")
    yield found
    found.restore_uplink()


def environment(host: Any, unit: str) -> dict[str, str]:
    """A unit's environment file as systemd reads it (KEY="value" lines, JSON-quoted)."""
    lines = host.check_output(f"cat /etc/tierstack/{unit}.env").splitlines()
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key: json.loads(value) for key, value in pairs}


def test_only_the_fog_api_holds_the_broker_account(site: Site, hosts: dict[str, Any]) -> None:
    """The fog API's broker account reaches the app servers only: the telemetry consumer's
    environment holds its own backends (queue, time series, archive) and no broker URL, broker
    password or session key; the fog API, with the account, shows the gateway's live status."""
    password = site.keys["mqtt_fogapi"]
    consumer = environment(hosts["worker"], "iot-gateway-consumer")
    assert {"QUEUE_URL", "KV_URL", "OBJECT_STORE_URL"} <= set(consumer)
    assert not {"BROKER_URL", "BROKER_CA_FILE", "SECRET_KEY"} & set(consumer)
    assert password not in hosts["worker"].check_output(
        "cat /etc/tierstack/iot-gateway-consumer.env"
    )
    for unit in (GATEWAY_UNIT, SIMULATOR_UNIT):
        units = environment(site.gateway, unit)
        assert "SECRET_KEY" not in units and password not in "".join(units.values())
    for app in ("app1", "app2"):
        api = environment(hosts[app], APP)
        assert api["BROKER_URL"] == f"mqtts://fogapi:{password}@gateway:8883"
    assert site.fresh_status(time.time() - 30)["source"] == "live"


def test_a_fixed_run_is_stored_exactly_once(site: Site) -> None:
    report, since, until = site.run_devices(READINGS, RUN_INTERVAL)
    assert {name: entry["published"] for name, entry in report.items()} == {
        name: READINGS for name in DEVICES
    }
    expected = {name: (READINGS, READINGS, 1, READINGS) for name in DEVICES}
    stored = wait_until(
        lambda: (found := site.stored(since, until)) == expected and found,
        120,
        f"{READINGS} readings of each device in the time series",
    )
    assert stored == expected
    # The API through the load balancer serves them (the newest first).
    response = site.lb.get(f"/api/v1/devices/{DEVICES[3]}/readings", params={"limit": 5})
    assert response.status_code == 200, response.text
    assert len(response.json()["readings"]) == 5


def test_a_broker_restart_under_traffic_loses_and_doubles_nothing(site: Site) -> None:
    """mosquitto restarted on the gateway host while ten devices publish: the devices and the
    gateway reconnect by themselves, and every reading is stored exactly once."""
    count = 200
    with ThreadPoolExecutor(max_workers=1) as pool:
        run = pool.submit(site.run_devices, count, RUN_INTERVAL)
        wait_until(
            lambda: site.gateway.run("pgrep -f reference_apps.iot_gateway.simulator").rc == 0,
            30,
            "the simulator run started",
        )
        time.sleep(3)
        restarted_at = site.now()
        site.gateway.check_output("systemctl restart mosquitto")
        report, since, until = run.result(timeout=300)
    assert since < restarted_at < until, "the broker restarted outside the run: nothing tested"
    assert {name: entry["published"] for name, entry in report.items()} == {
        name: count for name in DEVICES
    }
    expected = {name: (count, count, 1, count) for name in DEVICES}
    try:
        wait_until(
            lambda: site.stored(since, until) == expected,
            120,
            f"{count} readings of each device in the time series after the broker restart",
        )
    except AssertionError:
        # What is missing says where it was lost: per device (rows, distinct, min, max seq),
        # and what the gateway counted as dropped and still holds.
        assert site.stored(since, until) == expected, site.status()


def test_a_cut_uplink_buffers_then_drains_losing_and_doubling_nothing(site: Site) -> None:
    cut_at = time.time()
    site.cut_uplink()
    try:
        wait_until(
            lambda: site.fresh_status(cut_at)["uplink_state"] == "down", 30, "the uplink down"
        )
        before = site.fresh_status(time.time())["buffer_depth"]
        report, since, until = site.run_devices(BURST, 0.02)
        assert all(entry["published"] == BURST for entry in report.values())
        # Hold the link down for 30 s in all, watching the buffer grow.
        time.sleep(max(0.0, cut_at + 30 - time.time()))
        during = site.fresh_status(time.time())
        assert during["uplink_state"] == "down"
        assert during["buffer_depth"] >= before + len(DEVICES) * BURST, (before, during)
        assert site.stored(since, until) == {}  # nothing passed the cut
    finally:
        site.restore_uplink()
    expected = {name: (BURST, BURST, 1, BURST) for name in DEVICES}
    wait_until(lambda: site.stored(since, until) == expected, 120, "the burst stored")
    after = wait_until(
        lambda: (s := site.fresh_status(time.time()))["buffer_depth"] < 50 and s,
        60,
        "the buffer drained",
    )
    assert after["uplink_state"] == "up"
    assert after["dropped"].get("buffer_full", 0) == 0
    assert site.stored(since, until) == expected


def test_a_gateway_restarted_with_a_full_buffer_loses_nothing(site: Site) -> None:
    cut_at = time.time()
    site.cut_uplink()
    try:
        wait_until(
            lambda: site.fresh_status(cut_at)["uplink_state"] == "down", 30, "the uplink down"
        )
        _, since, until = site.run_devices(BURST // 2, 0.02)
        held = site.fresh_status(time.time())["buffer_depth"]
        assert held >= len(DEVICES) * BURST // 2
        pid = site.gateway.check_output(f"systemctl show -p MainPID --value {GATEWAY_UNIT}")
        site.gateway.check_output(f"systemctl restart {GATEWAY_UNIT}")
        assert site.gateway.check_output(f"systemctl show -p MainPID --value {GATEWAY_UNIT}") != pid
        # The new process starts with the buffer the old one left (received counts from zero).
        restarted = wait_until(
            lambda: (s := site.fresh_status(time.time()))["received"] < held and s,
            30,
            "the restarted gateway's status",
        )
        assert restarted["buffer_depth"] >= len(DEVICES) * BURST // 2
        assert restarted["uplink_state"] == "down"
    finally:
        site.restore_uplink()
    expected = {name: (BURST // 2, BURST // 2, 1, BURST // 2) for name in DEVICES}
    wait_until(lambda: site.stored(since, until) == expected, 120, "the held readings stored")
    assert site.stored(since, until) == expected


def test_a_wrong_password_is_refused(site: Site) -> None:
    token = os.urandom(4).hex()
    device = DEVICES[0]
    refused = site.publish(
        device, "not-" + token, f"devices/{device}/telemetry", reading(f"e2e-{token}-bad")
    )
    assert refused.rc != 0
    assert "not authori" in (refused.stderr + refused.stdout).lower()
    accepted = site.publish(
        device,
        site.keys[device_secret(device)],
        f"devices/{device}/telemetry",
        reading(f"e2e-{token}-good"),
    )
    assert accepted.rc == 0, accepted.stderr
    wait_until(lambda: site.has_item(f"{device}:e2e-{token}-good"), 60, "the accepted reading")
    assert not site.has_item(f"{device}:e2e-{token}-bad")


def test_a_device_cannot_publish_on_another_devices_topic(site: Site) -> None:
    token = os.urandom(4).hex()
    device, other = DEVICES[1], DEVICES[2]
    password = site.keys[device_secret(device)]
    # The foreign reading first: once the device's own later reading is stored, the foreign one
    # would have been too had the broker passed it.
    site.publish(device, password, f"devices/{other}/telemetry", reading(f"e2e-{token}-foreign"))
    own = site.publish(device, password, f"devices/{device}/telemetry", reading(f"e2e-{token}-own"))
    assert own.rc == 0, own.stderr
    wait_until(lambda: site.has_item(f"{device}:e2e-{token}-own"), 60, "the device's own reading")
    assert site.sql(f"select count(*) from kv where id like '%e2e-{token}-foreign%'") == "0"


def test_an_anomaly_raises_an_alert_and_the_device_obeys_the_command(site: Site) -> None:
    token = os.urandom(4).hex()
    device = DEVICES[5]
    password = site.keys[device_secret(device)]
    log = f"/tmp/e2e-commands-{token}.txt"
    # The deployed simulator's device is connected (and subscribed to its commands) once a
    # reading it sent after now is stored.
    since = time.time()
    wait_until(
        lambda: (
            site.sql(
                f"select count(*) from kv where device_id = '{device}' and kind = 'reading'"
                f" and ts > {since} and id not like '%:e2e-%'"
            )
            != "0"
        ),
        60,
        f"a reading of the deployed simulator's {device}",
    )
    # Listen as the device (another client id) to its commands and acknowledgements.
    site.gateway.check_output(
        f"nohup timeout 90 mosquitto_sub -h localhost -p 8883 --cafile {BROKER_CA} -q 1 -v"
        f" -u {device} -P {shlex.quote(password)} -t devices/{device}/commands"
        f" -t devices/{device}/events > {log} 2>/dev/null &"
    )
    time.sleep(1)
    try:
        hot = reading(f"e2e-{token}-humid", humidity=99.0)
        assert site.publish(device, password, f"devices/{device}/telemetry", hot).rc == 0

        def vent() -> tuple[dict[str, Any], dict[str, Any]] | None:
            lines = [
                line.split(" ", 1) for line in site.gateway.check_output(f"cat {log}").splitlines()
            ]
            commands = [
                json.loads(body)
                for topic, body in lines
                if topic.endswith("/commands") and '"vent"' in body
            ]
            events = {
                json.loads(body)["command_id"]: json.loads(body)
                for topic, body in lines
                if topic.endswith("/events")
            }
            for command in commands:
                if command["id"] in events:
                    return command, events[command["id"]]
            return None

        command, event = wait_until(vent, 60, "the vent command acknowledged by the device")
        assert command["reason"] == "humidity > 95"
        assert (event["action"], event["status"]) == ("vent", "done")
        alert_id = f"alert:{device}:e2e-{token}-humid:humidity:threshold"

        def alerted() -> dict[str, Any] | None:
            response = site.lb.get("/api/v1/alerts", params={"limit": 200})
            assert response.status_code == 200, response.text
            return next((a for a in response.json()["alerts"] if a["id"] == alert_id), None)

        alert = wait_until(alerted, 60, "the alert in the fog API")
        assert (alert["device_id"], alert["action"], alert["value"]) == (device, "vent", 99.0)
        assert re.fullmatch(r"[0-9a-f]{32}", command["id"])
    finally:
        site.gateway.run(f"rm -f {log}")
