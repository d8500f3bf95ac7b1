"""The queue worker: retries, dead-lettering, idempotent redelivery, and a worker process that is
killed in the middle of a job (real subprocesses sharing the embedded SQLite queue and files)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, jpeg
from PIL import Image

from reference_apps.image_processing import build_service, load_settings
from reference_apps.image_processing.filters import parse_pipeline
from reference_apps.image_processing.service import ImageService
from reference_apps.image_processing.worker import handle


def make_service(tmp_path: Path, **env: str) -> ImageService:
    return build_service(load_settings({"DATA_DIR": str(tmp_path), **env}))


def test_worker_processes_a_queued_job(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    job = service.submit(jpeg(80, 60), "a.jpg", parse_pipeline("thumbnail:size=40"), "async")
    message = service.queue.receive()
    assert message is not None and handle(service, message) is True
    done = service.get(job["id"])
    assert (done["status"], done["attempts"]) == ("done", 1)
    _, data = service.result(job["id"])
    assert Image.open(io.BytesIO(data)).size == (40, 30)
    assert service.queue.receive() is None  # acked


def test_duplicate_delivery_of_a_done_job_is_acked_without_rerunning(tmp_path: Path) -> None:
    service = make_service(tmp_path)
    job = service.submit(jpeg(), "a.jpg", parse_pipeline("emboss"), "async")
    assert handle(service, service.queue.receive()) is True
    service.queue.send({"job_id": job["id"]})  # e.g. a producer retry
    assert handle(service, service.queue.receive()) is True
    assert service.get(job["id"])["attempts"] == 1
    assert service.objects.list("results/") == [f"results/{job['id']}"]


@pytest.mark.parametrize(
    "body", ["not json", '{"job_id": "../../etc"}', '{"job_id": "' + "a" * 28 + '"}']
)
def test_poison_message_reaches_the_dead_letter_queue(tmp_path: Path, body: str) -> None:
    service = make_service(tmp_path, QUEUE_MAX_DELIVERIES="3", QUEUE_VISIBILITY_TIMEOUT="0.1")
    service.queue.send_raw(body)
    for delivery in (1, 2, 3):
        time.sleep(0.15)
        message = service.queue.receive()
        assert message is not None and message.deliveries == delivery
        assert handle(service, message) is False
    time.sleep(0.15)
    assert service.queue.receive() is None
    assert len(service.queue.dead_letters()) == 1


def test_job_that_keeps_failing_is_marked_failed_and_dead_lettered(tmp_path: Path) -> None:
    service = make_service(tmp_path, QUEUE_MAX_DELIVERIES="2", QUEUE_VISIBILITY_TIMEOUT="0.1")
    job = service.submit(jpeg(), "a.jpg", parse_pipeline("emboss"), "async")
    service.objects.put(job["original_key"], b"corrupted after upload")
    for _ in range(2):
        time.sleep(0.15)
        assert handle(service, service.queue.receive()) is False
    failed = service.get(job["id"])
    assert failed["status"] == "failed"
    assert "could not be decoded" in failed["error"] or "not an image" in failed["error"]
    time.sleep(0.15)
    assert service.queue.receive() is None
    assert service.queue.dead_letters() == [{"job_id": job["id"]}]


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "reference_apps.image_processing.worker"],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_status(service: ImageService, job_id: str, wanted: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = service.get(job_id)
        if job["status"] == wanted:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {service.get(job_id)['status']!r}, not {wanted!r}")


@pytest.mark.slow
def test_worker_killed_mid_job_is_redelivered_and_completes_once(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "QUEUE_VISIBILITY_TIMEOUT": "2", "LOG_LEVEL": "WARNING"}
    service = make_service(tmp_path, **env)
    big = io.BytesIO()
    Image.effect_noise((3000, 3000), 64).convert("RGB").save(big, "JPEG")
    heavy = ",".join(["blur:radius=40", "sharpen", "emboss"] * 3)  # seconds of work
    job = service.submit(big.getvalue(), "big.jpg", parse_pipeline(heavy), "async")

    first = start_worker(env)
    try:
        wait_for_status(service, job["id"], "running", timeout=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    assert service.get(job["id"])["status"] == "running"  # died before finishing
    assert service.objects.list("results/") == []

    second = start_worker(env)
    try:
        done = wait_for_status(service, job["id"], "done", timeout=90)
        second.send_signal(signal.SIGTERM)  # graceful stop after the current job
        assert second.wait(timeout=15) == 0
    finally:
        second.kill()
    assert done["attempts"] == 2
    assert service.objects.list("results/") == [f"results/{job['id']}"]
    _, data = service.result(job["id"])
    assert Image.open(io.BytesIO(data)).size == (3000, 3000)
    assert service.queue.receive() is None
    assert service.queue.dead_letters() == []
