"""End to end through the load balancer: both app servers answer, an image comes back
processed by the worker tier, and a cloud-drive user registers, uploads and downloads."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from PIL import Image

pytestmark = pytest.mark.hosts


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def wait_for_job(client: Any, url: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(url).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job still {job.get('status')} after {timeout}s: {job}")


def test_both_app_servers_answer(client: Any, lb_servers: Any, target: Any) -> None:
    for app in target.apps:
        before = lb_servers(app)
        lb = client(app)
        statuses = [lb.get("/healthz").status_code for _ in range(10)]
        after = lb_servers(app)
        assert statuses == [200] * 10
        served = {server: after[server][1] - before[server][1] for server in after}
        assert {server.split("_")[0] for server in served} == {"app1", "app2"}
        assert all(count >= 3 for count in served.values()), served


def test_uploaded_image_comes_back_processed(client: Any) -> None:
    lb = client("image-processing")
    response = lb.post(
        "/api/v1/images",
        files={"file": ("red.png", png(120, 80, (200, 30, 30)), "image/png")},
        data={"filters": "grayscale,rotate:angle=90", "mode": "async"},
    )
    assert response.status_code == 202, response.text
    job = wait_for_job(lb, response.headers["Location"], timeout=90)
    assert job["status"] == "done", job
    result = lb.get(job["result_url"])
    assert result.status_code == 200
    image = Image.open(io.BytesIO(result.content))
    assert image.mode == "L"
    assert image.size == (80, 120)  # rotated by 90 degrees with expand


def test_cloud_drive_user_registers_uploads_and_downloads(client: Any) -> None:
    lb = client("cloud-drive")
    token = lb.get("/api/v1/csrf").json()["csrf_token"]
    lb.session.headers["X-CSRFToken"] = token
    name = f"e2e{int(time.time() * 1000) % 10**9}"
    registered = lb.post(
        "/api/v1/users",
        json={
            "username": name,
            "email": f"{name}@example.org",
            "password": "correct horse battery 9",
        },
    )
    assert registered.status_code == 201, registered.text
    # Logging in starts a new session (no fixation), so it needs a fresh CSRF token.
    lb.session.headers["X-CSRFToken"] = lb.get("/api/v1/csrf").json()["csrf_token"]
    content = b"quarterly report\n" * 100
    uploaded = lb.post("/api/v1/files", files={"file": ("report.txt", content, "text/plain")})
    assert uploaded.status_code == 201, uploaded.text
    file_id = uploaded.json()["id"]
    assert uploaded.json()["size"] == len(content)
    # Several downloads so that both app servers serve this session.
    for _ in range(4):
        downloaded = lb.get(f"/api/v1/files/{file_id}/content")
        assert downloaded.status_code == 200
        assert downloaded.content == content
    listed = lb.get("/api/v1/files").json()["files"]
    assert [item["name"] for item in listed] == ["report.txt"]
