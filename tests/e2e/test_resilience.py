"""Failures the architecture must absorb: an app server going away, and a worker killed in the
middle of a job."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest
from PIL import Image

from tierstack.local import podman
from tierstack.local.target import APPS

pytestmark = pytest.mark.hosts


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def test_stopping_app1_keeps_requests_succeeding(
    client: Any, lb_servers: Any, target: Any, hosts: dict[str, Any]
) -> None:
    """app1 shuts down while requests flow; every request through the LB still succeeds."""
    app = target.apps[0]
    lb = client(app)
    results: list[int | str] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                results.append(lb.get("/healthz", timeout=10).status_code)
            except Exception as error:  # a failed request is a result to report, not a crash
                results.append(type(error).__name__)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        time.sleep(1.0)
        podman.run(["stop", "-t", "10", target.container("app1")])
        wait_until(
            lambda: lb_servers(app)[f"app1_{APPS[app].port}"][0].startswith("DOWN"),
            30,
            "the LB marking app1 down",
        )
        time.sleep(2.0)
    finally:
        stop.set()
        worker.join()
        podman.run(["start", target.container("app1")])
    failures = [result for result in results if result != 200]
    assert len(results) >= 10
    assert failures == [], f"{len(failures)} of {len(results)} requests failed: {failures[:5]}"
    wait_until(
        lambda: all(status.startswith("UP") for status, _ in lb_servers(app).values()),
        120,
        "app1 coming back into rotation",
    )


def test_killing_the_worker_mid_job_still_completes_the_job(
    client: Any, hosts: dict[str, Any]
) -> None:
    """The worker dies (SIGKILL) while a job is running; systemd restarts it and the job, whose
    queue message becomes visible again, completes."""
    lb = client("image-processing")
    worker = hosts["worker"]
    unit = "image-processing-worker"
    heavy = ",".join(["resize:width=4096;height=4096"] + ["blur:radius=40"] * 4 + ["grayscale"])
    response = lb.post(
        "/api/v1/images",
        files={"file": ("big.png", tiny_png(), "image/png")},
        data={"filters": heavy, "mode": "async"},
    )
    assert response.status_code == 202, response.text
    job_url = response.headers["Location"]
    wait_until(lambda: lb.get(job_url).json()["status"] == "running", 60, "the job starting")
    pid_before = worker.check_output(f"systemctl show -p MainPID --value {unit}")
    worker.check_output(f"systemctl kill -s SIGKILL {unit}")
    assert lb.get(job_url).json()["status"] == "running"  # killed mid-job, not after it
    wait_until(
        lambda: (
            worker.check_output(f"systemctl show -p MainPID --value {unit}")
            not in ("0", pid_before)
        ),
        30,
        "systemd restarting the worker",
    )
    wait_until(
        lambda: lb.get(job_url).json()["status"] in ("done", "failed"), 240, "the job finishing"
    )
    job = lb.get(job_url).json()
    assert job["status"] == "done", job
    assert job["attempts"] >= 2
    result = lb.get(job["result_url"])
    assert result.status_code == 200
    image = Image.open(io.BytesIO(result.content))
    assert (image.mode, image.size) == ("L", (4096, 4096))
