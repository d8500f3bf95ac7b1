"""Inventory snapshots: one YAML file per stack, compared in a test, rewritten on request."""

from pathlib import Path
from typing import Any

import yaml

SNAPSHOT_DIR = Path(__file__).resolve().parent / "snapshots"


def check_snapshot(stack: str, inventory: dict[str, Any], update: bool) -> None:
    """Fails with the first differing key; `make snapshots` rewrites after an intended change."""
    path = SNAPSHOT_DIR / f"{stack}.yaml"
    text = yaml.safe_dump(inventory, sort_keys=True, default_flow_style=False, width=120)
    if update or not path.exists():
        if not update:
            raise AssertionError(f"no snapshot for {stack}: run `make snapshots` and review it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    expected = yaml.safe_load(path.read_text())
    assert expected["counts"] == inventory["counts"], f"{stack}: resource counts changed"
    for key, values in expected["values"].items():
        assert inventory["values"].get(key) == values, f"{stack}: {key} changed"
    assert expected == inventory, f"{stack}: inventory changed (run `make snapshots` if intended)"
