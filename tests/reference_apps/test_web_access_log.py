"""The access log: every request, refused ones included, has its id and its own duration."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from reference_apps.cloud_drive import create_app

BASE = "https://drive.example"


def access_lines(err: str) -> list[dict]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("logger") == "cloud-drive.access"]


@pytest.mark.parametrize(
    ("why", "headers", "expected"),
    [
        ("no CSRF token", {}, 400),
        ("a client's request id", {"X-Request-Id": "req-from-the-lb-42"}, 400),
    ],
)
def test_a_refused_request_is_logged_with_its_id_and_duration(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], why: str, headers: dict, expected: int
) -> None:
    app = create_app({"DATA_DIR": str(tmp_path)})
    client = app.test_client()
    capfd.readouterr()
    before = time.perf_counter()
    response = client.post(f"{BASE}/api/v1/users", json={"username": "x"}, headers=headers)
    elapsed_ms = (time.perf_counter() - before) * 1000
    assert response.status_code == expected, why
    (line,) = access_lines(capfd.readouterr().err)
    assert line["status"] == expected and line["path"] == "/api/v1/users"
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert line["request_id"] == headers.get("X-Request-Id", line["request_id"])
    assert len(line["request_id"]) >= 16
    # Its own duration: inside the time the test spent on this one call.
    assert 0 <= line["duration_ms"] <= elapsed_ms


def test_a_rate_limited_request_is_logged_with_its_id(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "LOGIN_RATE_LIMIT": "1 per minute"})
    client = app.test_client()
    csrf = client.get(f"{BASE}/api/v1/csrf").json["csrf_token"]
    body = {"username": "nobody", "password": "guess guess guess"}
    assert (
        client.post(f"{BASE}/api/v1/session", json=body, headers={"X-CSRFToken": csrf}).status_code
        == 401
    )
    capfd.readouterr()
    before = time.perf_counter()
    limited = client.post(f"{BASE}/api/v1/session", json=body, headers={"X-CSRFToken": csrf})
    elapsed_ms = (time.perf_counter() - before) * 1000
    assert limited.status_code == 429
    (line,) = access_lines(capfd.readouterr().err)
    assert line["request_id"] == limited.headers["X-Request-Id"] and line["request_id"]
    assert 0 <= line["duration_ms"] <= elapsed_ms
