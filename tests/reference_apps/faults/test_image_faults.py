"""image-processing under gunicorn with its queue worker, the queue and the job table in
PostgreSQL and the images in an S3 endpoint (moto server), as on the local target. PostgreSQL
is restarted, then the object store stopped, under a steady stream of queued jobs: no 500, the
worker never exits, and every job answered 202 is done afterwards."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest
import requests
from conftest import Gunicorn, jpeg

from tests.faults import Outage, Traffic

from .conftest import Moto, Postgres, app_env, aws_env

pytestmark = [pytest.mark.emulators, pytest.mark.slow]

BUCKET = "images-faults"
OWNER = "owner-token-of-the-fault-tests-0123456789"


@pytest.fixture(scope="module")
def env(postgres: Postgres, moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    return app_env(
        tmp_path_factory.mktemp("images"),
        QUEUE_URL=f"{postgres.dsn}?table=image_jobs",
        KV_URL=f"{postgres.dsn}?table=image_kv",
        OBJECT_STORE_URL=f"s3://{BUCKET}",
        QUEUE_VISIBILITY_TIMEOUT="5",
        **aws_env(moto),
    )


@pytest.fixture(scope="module")
def service(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    logs = tmp_path_factory.mktemp("log")
    web = Gunicorn("reference_apps.image_processing.wsgi:app", env, logs / "web.log")
    worker = Gunicorn("reference_apps.image_processing.worker", env, logs / "worker.log", True)
    web.worker = worker  # type: ignore[attr-defined]
    try:
        yield web
    finally:
        worker.stop()
        web.stop()


class Submitter:
    """Queues one job per call (mode=async) and remembers every job answered 202."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {OWNER}"
        self.accepted: list[str] = []
        self.image = jpeg(48, 32)

    def submit(self) -> tuple[int, str | None, str]:
        response = self.http.post(
            f"{self.base}/api/v1/images",
            files={"file": ("photo.jpg", self.image, "image/jpeg")},
            data={"filters": "grayscale", "mode": "async"},
            timeout=15,
        )
        if response.status_code == 202:
            self.accepted.append(response.json()["id"])
        detail = response.text[:200] if response.status_code >= 400 else ""
        return response.status_code, response.headers.get("Retry-After"), detail

    def status(self, job_id: str) -> str:
        response = self.http.get(f"{self.base}/api/v1/jobs/{job_id}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["status"]


def ride_out(submitter: Submitter, stop_service, start_service, down: float) -> Traffic:
    traffic = Traffic({"submit": submitter.submit}, interval=0.15)
    outage = Outage()
    with traffic:
        traffic.wait_for(lambda o: o.status == 202, timeout=30)
        wait_done(submitter, submitter.accepted[:1], 60)  # the worker is consuming
        outage.start()
        stop_service()
        try:
            traffic.wait_for(lambda o: o.status == 503, timeout=30)
            time.sleep(max(0.0, down - (time.monotonic() - outage.began)))
        finally:
            start_service()
            outage.stop()
        traffic.wait_for(lambda o: o.status == 202, timeout=30)
    print(traffic.summary())
    assert traffic.server_errors() == [], traffic.summary()
    assert set(traffic.statuses()) <= {202, 503}, traffic.outcomes
    assert all(o.retry_after == "5" for o in traffic.unavailable())
    assert traffic.outside(outage, slack=2.0) == [], traffic.summary()
    return traffic


def wait_done(submitter: Submitter, job_ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(job_ids)
    while waiting and time.monotonic() < deadline:
        waiting = [job_id for job_id in waiting if submitter.status(job_id) != "done"]
        time.sleep(0.2)
    assert not waiting, f"{len(waiting)} of {len(job_ids)} accepted jobs not done"


def all_done(submitter: Submitter, service: Gunicorn, timeout: float = 60) -> None:
    wait_done(submitter, submitter.accepted, timeout)
    assert service.worker.process.poll() is None, "the worker exited"  # type: ignore[attr-defined]


def test_postgres_restart_under_queued_jobs(service: Gunicorn, postgres: Postgres) -> None:
    submitter = Submitter(service.url)
    ride_out(submitter, postgres.stop, postgres.start, down=3)
    all_done(submitter, service)
    log = service.worker.log.read_text()  # type: ignore[attr-defined]
    assert "dependency unavailable; retrying" in log, "the worker never met the outage"
    assert "Traceback" not in log


def test_object_store_stopped_under_queued_jobs(service: Gunicorn, moto: Moto) -> None:
    submitter = Submitter(service.url)
    ride_out(submitter, moto.stop, moto.start, down=4)
    all_done(submitter, service)
    assert service.worker.process.poll() is None  # type: ignore[attr-defined]
