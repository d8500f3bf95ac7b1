"""Suite-wide options. `make snapshots` (pytest --update-snapshots) rewrites inventory snapshots."""

import pytest


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
    other host test sees the target exactly as one converge left it."""
    items.sort(key=lambda item: item.get_closest_marker("reconverges") is not None)
