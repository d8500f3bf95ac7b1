"""Fixtures for the GCP component tests. The outputs GCP would compute and the one invoke the
program makes (the project number, for the Google-managed service agents) live in
tierstack/mocks/gcp.py, shared with `tierstack boot-script`: they stand in for the GCP API, which
has no local emulator for Compute Engine, Cloud SQL, Dataproc or Monitoring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stacks.blueprints.settings import Settings, parse_settings
from stacks.common.args import StackContext
from tests.stacks.harness import Run, run_pulumi
from tierstack.mocks.gcp import (  # noqa: F401  (re-exported for the tests)
    API,
    CONFIG,
    DB_PRIVATE_IP,
    DB_SERVER_CA,
    EXTERNAL_ADDRESSES,
    INVOKES,
    PROJECT,
    PROJECT_NUMBER,
    REGION,
    computed,
    get_project,
)


def settings_for(app: str, **overrides: Any) -> Settings:
    """Validated settings of a gcp stack, as the stack file plus `overrides` would give."""
    config = {**CONFIG, "tierstack:cloud": "gcp", "tierstack:app": app}
    config.update({f"tierstack:{key}": value for key, value in overrides.items()})
    return parse_settings(config)


def context_for(app: str, **overrides: Any) -> StackContext:
    return StackContext(settings=settings_for(app, **overrides), stack=f"gcp-{app}")


def run(program: Callable[[], Any]) -> Run:
    """Runs `program` under the GCP mocks (preview=False: every apply runs)."""
    return run_pulumi(program, computed=computed, invokes=INVOKES, config=CONFIG)


@pytest.fixture
def context() -> StackContext:
    return context_for("image-processing")
