"""The data volume full and freed again, under a logged-in user's traffic: cloud-drive with its
embedded backends (SQLite and the file object store) on a small tmpfs that a ballast file fills
to 100 %. Uploads answer 503 while nothing fits, listing and reading keep working, no 500;
once the ballast is gone uploads succeed again, and every accepted file is there, whole.

(On the local target the data volumes are Podman volumes on the machine's own disk, which a
test must not fill; this is the same fault on a volume of its own.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BIN, REPO, Gunicorn

from tests.faults import Outage, Traffic

from .conftest import app_env
from .test_drive_faults import User

pytestmark = [pytest.mark.slow]

VOLUME_MB = 48
SWEEP = ["sweep-orphans", "--older-than", "0"]


@pytest.fixture
def volume() -> Iterator[Path]:
    """A tmpfs of its own (mounting needs root, as `make test` runs)."""
    if os.geteuid() != 0:
        pytest.fail("mounting the test's tmpfs needs root (make test runs as root)")
    folder = Path(tempfile.mkdtemp(prefix="faults-volume-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={VOLUME_MB}m,mode=0700", "tmpfs", str(folder)],
        check=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()


def fill(path: Path) -> None:
    """Write until the volume has no byte left (ENOSPC)."""
    chunk = b"\0" * (1 << 20)
    with path.open("wb", buffering=0) as ballast:
        try:
            while True:
                ballast.write(chunk)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
        with contextlib.suppress(OSError):
            while True:
                ballast.write(b"\0" * 4096)


def test_data_volume_full_and_freed(volume: Path, tmp_path: Path) -> None:
    env = app_env(volume / "drive", USER_QUOTA_MB="1000")
    server = Gunicorn("reference_apps.cloud_drive.wsgi:app", env, tmp_path / "drive.log")
    try:
        user = User(server.url, "fullvolume")
        ballast = volume / "ballast"
        traffic = Traffic({"list": user.list_files, "upload": user.upload}, interval=0.1)
        outage = Outage()
        with traffic:
            traffic.wait_for(lambda o: o.status == 201, timeout=30)
            outage.start()
            fill(ballast)
            try:
                traffic.wait_for(lambda o: o.kind == "upload" and o.status == 503, timeout=30)
                time.sleep(3)
            finally:
                ballast.unlink()
                outage.stop()
            traffic.wait_for(lambda o: o.kind == "upload" and o.status == 201, timeout=30)
        print(traffic.summary())
        assert traffic.server_errors() == [], traffic.summary()
        assert set(traffic.statuses()) <= {200, 201, 503}, traffic.outcomes
        assert all(o.retry_after == "5" for o in traffic.unavailable())
        assert all(o.kind == "upload" for o in traffic.unavailable()), "reads need no space"
        assert traffic.outside(outage, slack=2.0) == [], traffic.summary()
        listed = user.http.get(f"{user.base}/api/v1/files", timeout=10).json()["files"]
        assert {row["id"] for row in listed} == set(user.uploaded)
        for file_id, content in user.uploaded.items():
            response = user.http.get(f"{user.base}/api/v1/files/{file_id}/content", timeout=10)
            assert response.content == content
        swept = subprocess.run(
            [str(BIN / "flask"), "--app", "reference_apps.cloud_drive", *SWEEP],
            cwd=REPO,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert swept.returncode == 0, swept.stderr
        stored = {path.name for path in (volume / "drive" / "objects").rglob("*") if path.is_file()}
        assert stored == set(user.uploaded), "an object without its row, or a row without object"
    finally:
        server.stop()
