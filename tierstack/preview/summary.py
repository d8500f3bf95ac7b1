"""A preview's counts, in their own small module: the runner needs them without importing the
engine's project-reading code (every import is start-up time of every preview process)."""

from __future__ import annotations

from typing import Any

from tierstack.records import ResourceRecord


def summarize(resources: list[ResourceRecord], policy: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts by type and by kind, and policy results by level."""
    by_type: dict[str, int] = {}
    for record in resources:
        by_type[record["type"]] = by_type.get(record["type"], 0) + 1
    return {
        "resources": len(resources),
        "custom": sum(1 for r in resources if r["custom"]),
        "components": sum(1 for r in resources if not r["custom"]),
        "byType": dict(sorted(by_type.items())),
        "policy": {
            level: sum(1 for result in policy if result["level"] == level)
            for level in ("mandatory", "advisory")
        },
    }
