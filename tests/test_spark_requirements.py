"""The local target's Spark wheels (playbooks/requirements-spark.txt) are the lock's pyspark and
py4j, with the lock's hashes: the hosts run the Spark the tests ran."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_spark_requirements_pin_the_locked_versions_and_hashes() -> None:
    lock = {
        package["name"]: package
        for package in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    }
    text = (ROOT / "playbooks" / "requirements-spark.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", text, re.MULTILINE))
    assert pins == {name: lock[name]["version"] for name in ("pyspark", "py4j")}
    hashes = set(re.findall(r"--hash=(sha256:[0-9a-f]{64})", text))
    locked = {
        artifact["hash"]
        for name in pins
        for artifact in [lock[name].get("sdist", {}), *lock[name].get("wheels", [])]
        if artifact
    }
    assert len(hashes) == 2 and hashes <= locked
