"""Backing services that a test can stop and start again on the same port, and the settings of
the apps served by gunicorn (tests/reference_apps/conftest.py) in front of them.

The session fixtures of tests/reference_apps/conftest.py are shared by many tests and never
stopped; these are the fault tests' own, one set per module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PG_BIN, free_port, wait_for_port

SECRET_KEY = "fault-tests-secret-key-0123456789abcdef0123456789"


class Postgres:
    """A PostgreSQL 15 cluster on a fixed port; ``stop`` is a fast shutdown, what
    ``systemctl restart postgresql`` does first."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
        subprocess.run([*self.as_postgres, *initdb, "--no-sync"], check=True, capture_output=True)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-w", "-l", str(self.root / "log"), "-o", options, "start")

    def stop(self) -> None:
        self._ctl("-w", "-m", "fast", "stop")

    def remove(self) -> None:
        subprocess.run(
            [
                *self.as_postgres,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)


class Moto:
    """moto's S3/SQS server in this process on a fixed port. Its state lives in the process,
    so the buckets and objects are there again after a restart, as on a real object store."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server: object | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port)
        self.server.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    server = Moto()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def aws_env(moto: Moto) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def app_env(tmp: Path, **extra: str) -> dict[str, str]:
    """What every app process gets here: its own data folder, a shared secret key, plain HTTP
    cookies, readiness answered fresh (no cache) so it shows the outage as it happens."""
    return {
        "DATA_DIR": str(tmp),
        "SECRET_KEY": SECRET_KEY,
        "SESSION_COOKIE_SECURE": "false",
        "READYZ_CACHE_SECONDS": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
