"""Role tests on the local target's Podman systemd hosts (shared with tests/e2e)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import testinfra

from tierstack.local import testing
from tierstack.local.target import LocalTarget


@pytest.fixture(scope="session")
def target() -> Iterator[LocalTarget]:
    yield testing.acquire()
    testing.release()


@pytest.fixture(scope="session")
def hosts(target: LocalTarget) -> dict[str, Any]:
    """testinfra hosts by name: lb, app1, app2, worker, services."""
    names = ("lb", "app1", "app2", "worker", "services")
    return {name: testinfra.get_host(f"podman://{target.container(name)}") for name in names}


@pytest.fixture(scope="session")
def inventory(target: LocalTarget) -> dict[str, Any]:
    """Host variables as the converge saw them, by host name."""
    groups = target.inventory()["all"]["children"]
    return {
        name: hostvars for group in groups.values() for name, hostvars in group["hosts"].items()
    }
