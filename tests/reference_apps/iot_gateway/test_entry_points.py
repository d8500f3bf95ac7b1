"""The processes start the ways operators start them: `flask run` with zero configuration,
gunicorn on wsgi (test_simulator_and_api), `python -m` for the services; a bad setting stops each
with one line and exit status 1; SIGTERM stops a service cleanly (status 0)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, Gunicorn, free_port, stop

BIN = Path(sys.executable).parent


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    keep = {"PATH", "LANG", "LC_ALL"}
    return {**{k: v for k, v in os.environ.items() if k in keep}, "HOME": str(home), **extra}


def get_json(url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.load(response)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.slow
def test_flask_run_with_zero_configuration(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "flask"), "--app", "reference_apps.iot_gateway", "run", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert get_json(f"http://127.0.0.1:{port}/readyz") == {
            "status": "ready",
            "checks": {"timeseries": "ok"},
        }
        assert get_json(f"http://127.0.0.1:{port}/api/v1/devices") == {"devices": []}
        assert get_json(f"http://127.0.0.1:{port}/openapi.json")["openapi"] == "3.1.0"
    finally:
        stop(process)
    assert (tmp_path / ".local/share/tierstack/iot-gateway/kv.db").is_file()


@pytest.mark.parametrize(
    ("module", "env", "line"),
    [
        (
            "gateway",
            {"BROKER_URL": "ftp://broker"},
            "configuration error: BROKER_URL=ftp://broker: unsupported scheme;"
            " use one of mqtt://, mqtts://",
        ),
        (
            "gateway",
            {"ALERT_RULES": "heat>1=run"},
            "configuration error: ALERT_RULES=heat>1=run: unknown metric or bad action in"
            " 'heat>1=run'",
        ),
        (
            "gateway",
            {"BROKER_URL": "mqtts://gw:pw@localhost:8883", "BROKER_CA_FILE": "/nonexistent/ca.crt"},
            "configuration error: BROKER_CA_FILE/CERT_FILE: cannot read ([Errno 2] No such file"
            " or directory)",
        ),
        (
            "consumer",
            {"KV_URL": "firestore://readings/extra"},
            "configuration error: KV_URL=firestore://readings/extra: use"
            " firestore://collection[?database=id]",
        ),
        (  # a table the time series cannot serve is refused before waiting for Pub/Sub
            "consumer",
            {
                "KV_URL": "aztable://account?service=cosmos",
                "QUEUE_URL": "pubsub://tierstack-dev/telemetry/telemetry-sub",
            },
            "configuration error: KV_URL=aztable://account?service=cosmos: use"
            " aztable://account/table[?service=storage|cosmos]",
        ),
        (
            "simulator",
            {"DEVICE_PASSWORDS_FILE": "/nonexistent/devices"},
            "configuration error: DEVICE_PASSWORDS_FILE=/nonexistent/devices: cannot read"
            " (No such file or directory)",
        ),
        (
            "wsgi",
            {"KV_URL": "ftp://x"},
            "configuration error: KV_URL=ftp://x: unsupported scheme; use one of sqlite://,"
            " dynamodb://, firestore://, aztable://, postgresql://",
        ),
    ],
)
def test_bad_setting_stops_with_one_line(
    tmp_path: Path, module: str, env: dict[str, str], line: str
) -> None:
    command = [sys.executable, "-m", f"reference_apps.iot_gateway.{module}"]
    if module == "wsgi":
        command = [sys.executable, "-c", "import reference_apps.iot_gateway.wsgi"]
    result = subprocess.run(
        command,
        cwd=REPO,
        env=clean_env(tmp_path, DATA_DIR=str(tmp_path / "data"), **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [line]


def test_consumer_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_apps.iot_gateway.consumer"],
        cwd=REPO,
        env=clean_env(tmp_path, DATA_DIR=str(tmp_path / "data")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    assert "consumer started" in process.stderr.readline()
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    assert "consumer stopped" in process.stderr.read()


@pytest.mark.parametrize(
    "env",
    [  # the KV_URLs the GCP and Azure stacks render for the consumer (tests/stacks snapshots)
        {
            "KV_URL": "firestore://readings?database=iot-gateway-dev-readings",
            "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",  # no credentials needed; nothing answers
        },
        {
            "KV_URL": "aztable://tierstack-dev-readings-cosmos/Readings?service=cosmos",
            "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=a;"
            "AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/a;",  # nothing answers
        },
    ],
    ids=["firestore", "aztable"],
)
def test_consumer_starts_on_the_cloud_tables(tmp_path: Path, env: dict[str, str]) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_apps.iot_gateway.consumer"],
        cwd=REPO,
        env=clean_env(tmp_path, DATA_DIR=str(tmp_path / "data"), **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines = iter(process.stderr.readline, "")  # the SDKs may warn first (FutureWarning)
    started = next((line for line in lines if "consumer" in line), "")
    assert '"consumer started"' in started, started
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0


def test_fog_api_waits_for_firestore_credentials(tmp_path: Path) -> None:
    """A GCP VM whose service account has no token yet: the API answers 503 with Retry-After
    (the load balancer keeps it out of rotation) and keeps running, instead of exiting into a
    systemd restart loop."""
    server = Gunicorn(
        "reference_apps.iot_gateway.wsgi:app",
        {
            "HOME": str(tmp_path),
            "DATA_DIR": str(tmp_path / "data"),
            "KV_URL": "firestore://readings?database=iot-gateway-dev-readings",
            "NO_GCE_CHECK": "True",  # no metadata server here: no credentials at all
        },
        tmp_path / "api.log",
        wait=False,
        workers=1,
    )
    try:
        response = server.first_answer("/readyz")
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"].isdigit()
        assert response.json()["error"].startswith("starting:")
        time.sleep(2)
        assert server.process.poll() is None, server.log.read_text()
        assert "default credentials were not found" in server.log.read_text()
    finally:
        server.stop()
