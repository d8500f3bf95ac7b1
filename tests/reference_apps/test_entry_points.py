"""The apps start the ways operators start them: `flask run` with zero configuration, gunicorn
on the wsgi entry points; a bad setting stops them with one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import requests
from conftest import BIN, REPO, Gunicorn, free_port, stop


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


def clean_env(home: Path) -> dict[str, str]:
    """No app settings at all: only HOME (where the embedded defaults keep their files)."""
    keep = {"PATH", "LANG", "LC_ALL", "SYSTEMROOT"}
    env = {key: value for key, value in os.environ.items() if key in keep}
    return {**env, "HOME": str(home)}


@pytest.mark.slow
@pytest.mark.parametrize("module", ["image_processing", "cloud_drive"])
def test_flask_run_with_zero_configuration(tmp_path: Path, module: str) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "flask"), "--app", f"reference_apps.{module}", "run", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = get_json(f"http://127.0.0.1:{port}/readyz")
        assert ready["status"] == "ready"
        assert get_json(f"http://127.0.0.1:{port}/healthz") == {"status": "ok"}
    finally:
        stop(process)
    app_name = module.replace("_", "-")
    data = tmp_path / ".local" / "share" / "tierstack" / app_name
    assert (data / "objects").is_dir()  # the embedded defaults live under the user's data dir


@pytest.mark.slow
@pytest.mark.parametrize("module", ["image_processing", "cloud_drive"])
def test_gunicorn_entry_point(tmp_path: Path, module: str) -> None:
    env = {**clean_env(tmp_path), "DATA_DIR": str(tmp_path / "data")}
    server = Gunicorn(
        f"reference_apps.{module}.wsgi:app", env, tmp_path / "gunicorn.log", wait=False, workers=1
    )
    try:
        assert get_json(f"{server.url}/healthz") == {"status": "ok"}
        spec = get_json(f"{server.url}/openapi.json")
        assert spec["openapi"] == "3.1.0"
    finally:
        server.stop()


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-c", "import reference_apps.image_processing.wsgi"],
        [sys.executable, "-c", "import reference_apps.cloud_drive.wsgi"],
        [sys.executable, "-m", "reference_apps.image_processing.worker"],
    ],
)
def test_bad_setting_stops_with_one_line(tmp_path: Path, command: list[str]) -> None:
    env = {**clean_env(tmp_path), "OBJECT_STORE_URL": "ftp://files.example/x"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "configuration error: OBJECT_STORE_URL=ftp://files.example/x: unsupported scheme;"
        " use one of file://, s3://, gs://, azblob://"
    ]


@pytest.mark.slow
def test_gunicorn_waits_for_an_unreadable_secret_with_503s(tmp_path: Path, aws_env: str) -> None:
    """The secret store refuses (here the secret does not exist yet; on a fresh VM, a grant that
    has not propagated): the server answers 503 with Retry-After instead of exiting into a
    restart loop, and serves as soon as the secret can be read, in the same process."""
    import boto3

    name = f"late-session-key-{os.urandom(4).hex()}"
    aws = {key: value for key, value in os.environ.items() if key.startswith("AWS_")}
    log = tmp_path / "gunicorn.log"
    env = {
        **clean_env(tmp_path),
        **aws,
        "APP_ENV": "production",
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY_REF": f"aws-secretsmanager://{name}",
    }
    server = Gunicorn("reference_apps.cloud_drive.wsgi:app", env, log, wait=False, workers=1)
    try:
        first = server.first_answer("/healthz")
        assert first.status_code == 503, first.text
        assert int(first.headers["Retry-After"]) >= 1
        assert first.json()["error"].startswith("starting: a backend or the secret store")
        assert name not in first.text  # the reference stays in the log, not in answers

        boto3.client("secretsmanager").create_secret(Name=name, SecretString="s" * 48)
        deadline = time.monotonic() + 60  # first retry after 5 s, the next 10 s later
        url = f"{server.url}/healthz"
        while (status := requests.get(url, timeout=5).status_code) != 200 and (
            time.monotonic() < deadline
        ):
            time.sleep(0.5)
        assert status == 200, log.read_text()
        assert server.process.poll() is None
    finally:
        server.stop()
    text = log.read_text()
    assert f"SECRET_KEY_REF=aws-secretsmanager://{name}: cannot read the secret (Resource" in text
    assert "backends reachable: serving" in text
    assert "Worker failed to boot" not in text
