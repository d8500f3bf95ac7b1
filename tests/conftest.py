"""Suite-wide options and the local target's fixtures.

`make snapshots` (pytest --update-snapshots) rewrites inventory snapshots. The host fixtures
serve tests/roles and tests/e2e: one pytest run creates and converges the hosts once.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import testinfra

from tierstack.local import testing
from tierstack.local.target import HOSTS, LocalTarget


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="rewrite tests/stacks/snapshots/*.yaml from the current program instead of comparing",
    )


@pytest.fixture
def update_snapshots(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-snapshots"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that converge the shared hosts again or re-create them run last, so that every
    other host test sees the target exactly as one converge left it; the fault tests (which
    break a service and restore it) run just before them. Tests marked ``wave(n)`` share hosts
    that exist one wave at a time: they run wave by wave, each wave's tests together."""

    def wave(item: pytest.Item) -> int:
        marker = item.get_closest_marker("wave")
        return int(marker.args[0]) if marker else 0

    items.sort(
        key=lambda item: (
            item.get_closest_marker("reconverges") is not None,
            item.get_closest_marker("faults") is not None,
            wave(item),
        )
    )


@pytest.fixture(scope="session")
def target() -> Iterator[LocalTarget]:
    """The converged local target of this session (see tierstack.local.testing)."""
    yield testing.acquire()
    testing.release()


@pytest.fixture(scope="session")
def hosts(target: LocalTarget) -> dict[str, Any]:
    """testinfra hosts by name: lb, app1, app2, worker, services, gateway."""
    return {
        spec.name: testinfra.get_host(f"podman://{target.container(spec.name)}") for spec in HOSTS
    }


@pytest.fixture(scope="session")
def inventory(target: LocalTarget) -> dict[str, Any]:
    """Host variables as the converge saw them, by host name."""
    groups = target.inventory()["all"]["children"]
    return {
        name: hostvars for group in groups.values() for name, hostvars in group["hosts"].items()
    }
