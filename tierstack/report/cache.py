"""Previews of a base commit, kept between runs: a commit's code never changes, so its preview
only changes with the engine, the provider SDKs or the policy switch. CI re-runs the report on
every push to a pull request against the same base; with the cache it previews only the head.

Kept in <repo>/.tierstack/report-cache/ (ignored by git); failed previews are never kept.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import tierstack

_PACKAGES = ("pulumi", "pulumi-aws", "pulumi-gcp", "pulumi-azure-native", "pulumi-policy")
_ENGINE = ("preview/**/*.py", "policy_engine/*.py", "records.py")


@functools.cache
def engine_fingerprint() -> str:
    """What a preview's result depends on besides the commit: the engine's code, the default
    policy pack, the SDK versions and the interpreter."""
    digest = hashlib.sha256(sys.version.encode())
    root = Path(tierstack.__file__).parent
    for pattern in _ENGINE:
        for path in sorted(root.glob(pattern)):
            digest.update(path.name.encode() + path.read_bytes())
    pack = tierstack.REPO_ROOT / "policies"  # the default pack, for projects without one
    for path in sorted(pack.rglob("*")) if pack.is_dir() else []:
        if path.suffix in (".py", ".yaml", ".json") and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(pack)).encode() + path.read_bytes())
    for package in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{package}=={metadata.version(package)}".encode())
    return digest.hexdigest()


class PreviewCache:
    def __init__(self, repo: Path, commit: str, project: str, policy: bool) -> None:
        self.directory = repo / ".tierstack" / "report-cache"
        self.prefix = json.dumps([commit, project, policy, engine_fingerprint()])

    def _path(self, stack: str) -> Path:
        key = hashlib.sha256(f"{self.prefix}/{stack}".encode()).hexdigest()
        return self.directory / f"{key}.json.gz"

    def get(self, stack: str) -> dict[str, Any] | None:
        path = self._path(stack)
        try:
            with gzip.open(path, "rt", encoding="utf-8") as stream:
                result = json.load(stream)
        except (OSError, ValueError):
            return None
        return result if result.get("stack") == stack else None

    def put(self, result: dict[str, Any]) -> None:
        if result.get("error"):
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(result["stack"])
        partial = path.with_suffix(".partial")
        with gzip.open(partial, "wt", encoding="utf-8") as stream:
            json.dump(result, stream)
        partial.replace(path)
