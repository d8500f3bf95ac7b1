"""The simulator's devices through the gateway and consumer, then the fog-node API and dashboard
served by gunicorn on the stored data: devices, charts, alerts, the gateway's buffer and uplink,
a command that reaches the device, and bad requests answered 400 with a message."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, free_port, stop, wait_for_port
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import PHONE, Browser, browser  # noqa: F401  (the fixture)

from .conftest import Rig, wait_until

pytestmark = pytest.mark.slow
SIM_DEVICES = ["sensor-00", "sensor-01", "sensor-02"]


def call(url: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture
def simulated(rig: Rig) -> tuple[Rig, dict[str, Any]]:
    """Three simulated devices, 60 readings each with a spike at the 40th, through the pipeline."""
    rig.start("gateway")
    rig.start("consumer")
    wait_until(rig.latest_status, 30, "the gateway subscribed (its first status)")
    passwords = rig.folder / "devices.src"
    passwords.write_text("".join(f"{d}:{rig.broker.password(d)}\n" for d in SIM_DEVICES))
    result = subprocess.run(
        [sys.executable, "-m", "reference_apps.iot_gateway.simulator"],
        cwd=REPO,
        env={
            **rig.env,
            "BROKER_URL": f"mqtts://localhost:{rig.broker.port}",
            "DEVICE_PASSWORDS_FILE": str(passwords),
            "SIM_DEVICES": "3",
            "SIM_INTERVAL": "0.02",
            "SIM_COUNT": "60",
            "SIM_ANOMALY_EVERY": "40",
            "SIM_GAP_RATE": "0.05",
            "SIM_SEED": "7",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return rig, report


@pytest.fixture
def served(simulated: tuple[Rig, dict[str, Any]]) -> Iterator[tuple[Rig, dict[str, Any], str]]:
    rig, report = simulated
    port = free_port()
    log = (rig.folder / "gunicorn.log").open("ab")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "reference_apps.iot_gateway.wsgi:app",
        ],
        cwd=REPO,
        env={
            **rig.env,
            "BROKER_URL": rig.broker.url("fogapi"),
            "SESSION_COOKIE_SECURE": "false",
            "SECRET_KEY": "test-only-key-shared-by-the-gunicorn-workers",
        },
        stdout=log,
        stderr=log,
    )
    try:
        wait_for_port(port, process)
        yield rig, report, f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def test_simulated_devices_are_stored_and_obey_commands(
    simulated: tuple[Rig, dict[str, Any]],
) -> None:
    rig, report = simulated
    assert sorted(report) == SIM_DEVICES
    for device, numbers in report.items():
        assert numbers["published"] + numbers["gaps"] == 60
        assert numbers["anomalies"] == 1
        assert "cooling_on" in numbers["commands"], (device, numbers)  # the spike's rule
    published = sum(numbers["published"] for numbers in report.values())
    assert sum(numbers["gaps"] for numbers in report.values()) > 0  # SIM_GAP_RATE made gaps
    wait_until(
        lambda: len(rig.stored_ids()) >= published,
        30,
        f"every published reading stored ({published}; {rig.latest_status()})",
    )
    stored = rig.stored_ids()
    assert len(stored) == published, (len(stored), sorted(stored)[:5])
    alerts = rig.series.alerts(50)
    assert {a["device_id"] for a in alerts if a["action"] == "cooling_on"} == set(SIM_DEVICES)


def test_fog_node_api_and_commands(served: tuple[Rig, dict[str, Any], str]) -> None:
    rig, report, base = served
    wait_until(lambda: len(call(f"{base}/api/v1/devices")[1]["devices"]) == 3, 30, "devices")
    status, body = call(f"{base}/api/v1/devices")
    counts = {d["device_id"]: d["readings"] for d in body["devices"]}
    assert counts == {name: numbers["published"] for name, numbers in report.items()}

    status, body = call(f"{base}/api/v1/devices/sensor-01/readings?limit=10")
    assert status == 200 and len(body["readings"]) == 10
    assert [r["ts"] for r in body["readings"]] == sorted(r["ts"] for r in body["readings"])

    gateways = wait_until(
        lambda: [
            g for g in call(f"{base}/api/v1/gateways")[1]["gateways"] if g["source"] == "live"
        ],
        15,
        "the live gateway status",
    )
    assert gateways[0]["gateway"] == "gw1" and gateways[0]["uplink_state"] == "up"
    assert gateways[0]["buffer_depth"] == 0

    observer = rig.broker.client("observer", subscribe=("devices/sensor-02/commands",))
    status, sent = call(
        f"{base}/api/v1/devices/sensor-02/commands", {"action": "set_interval", "value": 5}
    )
    assert status == 202, sent
    assert observer.wait_for(lambda messages: len(messages) == 1)
    assert json.loads(observer.messages[0][1]) | {} == {
        "id": sent["id"],
        "action": "set_interval",
        "value": 5,
        "reason": "operator",
    }
    observer.close()

    bad = [
        (f"{base}/api/v1/devices/sensor-02/commands", {"action": "self_destruct"}, None),
        (
            f"{base}/api/v1/devices/sensor-02/commands",
            {"action": "set_interval", "value": -1},
            None,
        ),
        (f"{base}/api/v1/devices/sensor-02/commands", None, b"not json"),
        (f"{base}/api/v1/devices/bad%20id/commands", {"action": "vent"}, None),
        (f"{base}/api/v1/devices/sensor-01/readings?limit=0", None, None),
        (f"{base}/api/v1/alerts?limit=x", None, None),
    ]
    for url, body, raw in bad:
        status, answer = call(url, body, raw)
        assert status == 400, (url, status, answer)
        assert answer["error"]

    assert call(f"{base}/readyz") == (
        200,
        {"status": "ready", "checks": {"timeseries": "ok", "broker": "ok"}},
    )


def test_dashboard_in_a_browser(served: tuple[Rig, dict[str, Any], str], browser: Browser) -> None:  # noqa: F811
    _, _, base = served
    for size in (PHONE, (1366, 900)):
        driver = browser.open(f"{base}/", size=size)
        devices = driver.find_elements(By.CSS_SELECTOR, "article.device")
        assert [d.find_element(By.TAG_NAME, "h3").text for d in devices] == SIM_DEVICES
        assert len(driver.find_elements(By.CSS_SELECTOR, "article.device svg polyline")) == 9
        assert "up" in driver.find_element(By.CSS_SELECTOR, "td.uplink-up").text
        assert driver.find_element(By.CSS_SELECTOR, "td.buffer-depth").text.startswith("0")
        assert (
            "cooling_on" in driver.find_element(By.ID, "alerts").find_element(By.XPATH, "..").text
        )
        assert browser.console_errors() == []
        assert browser.unlabelled_controls() == []
    browser.screenshot("iot-dashboard-desktop")

    # a command from the form
    form = driver.find_element(By.CSS_SELECTOR, "#device-sensor-01 form")
    Select(form.find_element(By.TAG_NAME, "select")).select_by_visible_text("vent")
    form.find_element(By.TAG_NAME, "button").click()
    message = WebDriverWait(driver, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "p.message")  # after the form's round trip
    )
    assert "vent sent to sensor-01" in message[0].text
