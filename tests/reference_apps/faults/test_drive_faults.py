"""cloud-drive under gunicorn, on PostgreSQL and an S3 endpoint (moto server), while one of them
is stopped and started again under a logged-in user's steady listing and uploads: never a 500,
503 with Retry-After only while the service is really down, every accepted upload readable
afterwards, and no object without its row once the sweeper has run."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
import requests
from conftest import BIN, REPO, Gunicorn

from tests.faults import Outage, Traffic

from .conftest import Moto, Postgres, app_env, aws_env

pytestmark = [pytest.mark.emulators, pytest.mark.slow]

BUCKET = "drive-faults"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def env(postgres: Postgres, moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    boto3.client("s3", **client_args(moto)).create_bucket(Bucket=BUCKET)
    return app_env(
        tmp_path_factory.mktemp("drive"),
        DATABASE_URL=postgres.dsn,
        OBJECT_STORE_URL=f"s3://{BUCKET}",
        USER_QUOTA_MB="1000",
        **aws_env(moto),
    )


def client_args(moto: Moto) -> dict[str, str]:
    return {
        "endpoint_url": moto.endpoint,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "region_name": "us-east-1",
    }


@pytest.fixture(scope="module")
def drive(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    server = Gunicorn(
        "reference_apps.cloud_drive.wsgi:app", env, tmp_path_factory.mktemp("log") / "drive.log"
    )
    try:
        yield server
    finally:
        server.stop()


class User:
    """A logged-in browser-like client: session cookie and CSRF token."""

    def __init__(self, base: str, name: str) -> None:
        self.base, self.name = base, name
        self.http = requests.Session()
        self.csrf = self.http.get(f"{base}/api/v1/csrf", timeout=10).json()["csrf_token"]
        created = self.http.post(
            f"{base}/api/v1/users",
            headers={"X-CSRFToken": self.csrf},
            json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        # Logging in starts a new session (no fixation), and the token is bound to the session.
        self.csrf = self.http.get(f"{base}/api/v1/csrf", timeout=10).json()["csrf_token"]
        self.uploaded: dict[str, bytes] = {}  # file id -> content, for every 201
        self.numbers = itertools.count()

    def answer(self, response: requests.Response) -> tuple[int, str | None, str]:
        detail = response.text[:200] if response.status_code >= 400 else ""
        if response.status_code == 503:
            assert "unavailable" in response.json()["error"], response.text
        return response.status_code, response.headers.get("Retry-After"), detail

    def list_files(self) -> tuple[int, str | None, str]:
        return self.answer(self.http.get(f"{self.base}/api/v1/files", timeout=15))

    def upload(self) -> tuple[int, str | None, str]:
        number = next(self.numbers)
        content = f"file {number} of the fault test\n".encode() * 50
        response = self.http.post(
            f"{self.base}/api/v1/files",
            headers={"X-CSRFToken": self.csrf},
            files={"file": (f"file-{number}.txt", content)},
            timeout=15,
        )
        if response.status_code == 201:
            self.uploaded[response.json()["id"]] = content
        return self.answer(response)


def check_nothing_lost(user: User, env: dict[str, str], moto: Moto) -> None:
    """Every 201 is listed and readable, and after the sweeper no object lacks its row."""
    listed = user.http.get(f"{user.base}/api/v1/files", timeout=10).json()["files"]
    assert {row["id"] for row in listed} == set(user.uploaded)
    for file_id, content in user.uploaded.items():
        response = user.http.get(f"{user.base}/api/v1/files/{file_id}/content", timeout=10)
        assert response.status_code == 200 and response.content == content
    swept = subprocess.run(
        [
            str(BIN / "flask"),
            "--app",
            "reference_apps.cloud_drive",
            "sweep-orphans",
            "--older-than",
            "0",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert swept.returncode == 0, swept.stderr
    s3 = boto3.client("s3", **client_args(moto))
    with psycopg.connect(env["DATABASE_URL"]) as db:
        (user_id,) = db.execute("SELECT id FROM users WHERE username = %s", (user.name,)).fetchone()
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"users/{user_id}/")
    objects = {item["Key"].rsplit("/", 1)[-1] for item in listing.get("Contents", [])}
    assert objects == set(user.uploaded), swept.stdout


def run_fault(user: User, stop_service, start_service, down_seconds: float) -> Traffic:
    """Steady traffic; the service stopped for ``down_seconds``; traffic until a 2xx of each
    kind comes back."""
    traffic = Traffic({"list": user.list_files, "upload": user.upload}, interval=0.1)
    outage = Outage()
    with traffic:
        traffic.wait_for(lambda o: o.status == 201, timeout=30)
        outage.start()
        stop_service()
        try:
            traffic.wait_for(lambda o: o.status == 503, timeout=30)
            time.sleep(max(0.0, down_seconds - (time.monotonic() - outage.began)))
        finally:
            start_service()
            outage.stop()
        traffic.wait_for(lambda o: o.kind == "upload" and o.status == 201, timeout=30)
        traffic.wait_for(lambda o: o.kind == "list" and o.status == 200, timeout=30)
    traffic.outage = outage  # type: ignore[attr-defined]
    return traffic


def assert_rode_it_out(traffic: Traffic) -> None:
    outage: Outage = traffic.outage  # type: ignore[attr-defined]
    print(traffic.summary())
    assert traffic.server_errors() == [], traffic.summary()
    assert set(traffic.statuses()) <= {200, 201, 503}, traffic.outcomes
    unavailable = traffic.unavailable()
    assert unavailable, "the outage was never seen: the test did not test anything"
    assert all(o.retry_after == "5" for o in unavailable)
    assert traffic.outside(outage, slack=2.0) == [], traffic.summary()
    assert all(o.ended - o.started < 15 for o in traffic.outcomes), "a request hung"


def test_postgres_restart_under_a_logged_in_user(
    drive: Gunicorn, postgres: Postgres, env: dict[str, str], moto: Moto
) -> None:
    user = User(drive.url, "pgrestart")
    traffic = run_fault(user, postgres.stop, postgres.start, down_seconds=3)
    assert_rode_it_out(traffic)
    check_nothing_lost(user, env, moto)


def test_object_store_stopped_under_uploads(
    drive: Gunicorn, postgres: Postgres, env: dict[str, str], moto: Moto
) -> None:
    user = User(drive.url, "s3outage")
    traffic = run_fault(user, moto.stop, moto.start, down_seconds=5)
    assert_rode_it_out(traffic)
    listing = [o for o in traffic.outcomes if o.kind == "list"]
    assert all(o.status == 200 for o in listing), "listing needs only the database"
    check_nothing_lost(user, env, moto)


def test_readyz_names_the_dependency_that_is_down(drive: Gunicorn, moto: Moto) -> None:
    moto.stop()
    try:
        response = requests.get(f"{drive.url}/readyz", timeout=30)
    finally:
        moto.start()
    assert response.status_code == 503
    assert response.json()["unavailable"] == ["object_store"]
    assert response.json()["checks"]["database"] == "ok"
    assert requests.get(f"{drive.url}/readyz", timeout=30).status_code == 200


def test_started_while_the_database_is_down_it_waits_with_503s(
    postgres: Postgres, env: dict[str, str], tmp_path: Path
) -> None:
    """A server that starts before its database (a VM booting before RDS answers) serves 503
    with Retry-After instead of exiting into a restart loop, then serves, same process."""
    log = tmp_path / "late.log"
    postgres.stop()
    server, database_up = None, False
    try:
        server = Gunicorn("reference_apps.cloud_drive.wsgi:app", env, log, wait=False, workers=1)
        first = server.first_answer("/healthz")
        assert first.status_code == 503, first.text
        assert int(first.headers["Retry-After"]) >= 1
        postgres.start()
        database_up = True
        deadline = time.monotonic() + 60  # retries after 5 s, then 10 s more
        while requests.get(f"{server.url}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        assert server.process.poll() is None
    finally:
        if not database_up:
            postgres.start()
        if server is not None:
            server.stop()
    assert "DATABASE_URL: cannot create the schema" in log.read_text()
    assert "backends reachable: serving" in log.read_text()
