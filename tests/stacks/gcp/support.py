"""Shared by the GCP component tests: each stack runs once per test process (cached)."""

from __future__ import annotations

from functools import cache
from typing import Any

from stacks.program import deploy
from tests.stacks.gcp.conftest import run, settings_for
from tests.stacks.harness import Run


@cache
def stack(app: str, env: str = "dev") -> Run:
    overrides: dict[str, Any] = {"env": env}
    if env == "prod":
        overrides["certificate"] = f"{app}.example.com"
        overrides["repoRef"] = "0123456789abcdef0123456789abcdef01234567"
    return run(lambda: deploy(settings_for(app, **overrides), f"gcp-{app}"))
