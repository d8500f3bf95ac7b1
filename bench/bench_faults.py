"""Fault windows: how long users see degraded answers when a backing service goes away.

cloud-drive under gunicorn (2 workers) on PostgreSQL and an S3 endpoint (moto server), a
logged-in user listing and uploading, one request every 0.1 s per kind. For each fault: the
degraded window (first 503 to the first 2xx after the last 503), how long the service itself
was away, and the count of each status. A 500 or a request without an answer is an error.

Faults: PostgreSQL restarted (fast shutdown, then start, as `systemctl restart` does);
PostgreSQL stopped for 10 s; the S3 endpoint stopped for 10 s.
The local target's figures (through HAProxy, SeaweedFS, systemd) come from
tests/e2e/test_faults.py, which prints the same line for each fault.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "reference_apps")]

import boto3  # noqa: E402
from faults.conftest import Gunicorn, Moto, Postgres, app_env, aws_env  # noqa: E402
from faults.test_drive_faults import BUCKET, User  # noqa: E402

from tests.faults import Outage, Traffic  # noqa: E402


def measure(
    user: User, name: str, stop: Callable[[], None], start: Callable[[], None], down: float
) -> None:
    traffic = Traffic({"list": user.list_files, "upload": user.upload}, interval=0.1)
    outage = Outage()
    with traffic:
        traffic.wait_for(lambda o: o.status == 201, timeout=30)
        outage.start()
        stop()
        time.sleep(down)
        start()
        outage.stop()
        for kind, status in (("upload", 201), ("list", 200)):
            traffic.wait_for(lambda o, k=kind, s=status: o.kind == k and o.status == s, 60)
        time.sleep(1)
    seconds, count = traffic.window()
    errors = len(traffic.server_errors())
    counts = ", ".join(f"{status}: {n}" for status, n in sorted(traffic.statuses().items()))
    print(
        f"{name:<32} service away {outage.ended - outage.began:5.1f} s | degraded window"
        f" {seconds:5.1f} s, {count} responses | errors (500 / no answer) {errors} | {counts}"
    )


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    postgres, moto = Postgres(), Moto()
    postgres.start()
    moto.start()
    server = None
    try:
        boto3.client(
            "s3",
            endpoint_url=moto.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        ).create_bucket(Bucket=BUCKET)
        folder = Path(tempfile.mkdtemp(prefix="bench-faults-"))
        env = app_env(
            folder,
            DATABASE_URL=postgres.dsn,
            OBJECT_STORE_URL=f"s3://{BUCKET}",
            USER_QUOTA_MB="1000",
            **aws_env(moto),
        )
        server = Gunicorn("reference_apps.cloud_drive.wsgi:app", env, folder / "gunicorn.log")
        user = User(server.url, "bench")
        measure(user, "PostgreSQL restart", postgres.stop, postgres.start, 0)
        measure(user, "PostgreSQL stopped 10 s", postgres.stop, postgres.start, 10)
        measure(user, "S3 endpoint stopped 10 s", moto.stop, moto.start, 10)
    finally:
        if server is not None:
            server.stop()
        moto.stop()
        postgres.remove()


if __name__ == "__main__":
    main()
