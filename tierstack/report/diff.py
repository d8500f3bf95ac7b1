"""What a change does to one stack: two offline previews (base and head) compared resource by
resource. Resources are matched by URN, which the offline engine derives from the stack, the
parent chain, the type and the name, exactly as a real deployment would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tierstack.records import SECRET, ResourceRecord
from tierstack.report.replace import replaces

ACTIONS = ("create", "update", "replace", "delete")
VALUE_WIDTH = 120  # longest value shown in a change; the rest is elided with its length


@dataclass
class Change:
    """One input path that differs: `old`/`new` are None when the path is absent on that side."""

    path: str
    old: Any
    new: Any
    replaces: bool = False


@dataclass
class ResourceChange:
    action: str  # create | update | replace | delete
    urn: str
    type: str
    name: str
    custom: bool
    changes: list[Change] = field(default_factory=list)


@dataclass
class StackDiff:
    stack: str
    base: dict[str, Any] | None  # the base preview result; None when the stack is new
    head: dict[str, Any] | None  # None when the stack file was deleted
    resources: list[ResourceChange] = field(default_factory=list)
    unchanged: int = 0

    def counts(self) -> dict[str, int]:
        counts = {action: 0 for action in ACTIONS}
        for change in self.resources:
            counts[change.action] += 1
        counts["unchanged"] = self.unchanged
        return counts


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested maps as dotted paths (`tags.env`); lists and scalars are leaves, so a changed list
    is shown whole, as the provider would send it."""
    if isinstance(value, dict) and value and value.get("asset") is None:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _contains_secret(value: Any) -> bool:
    if value == SECRET:
        return True
    if isinstance(value, dict):
        return any(_contains_secret(item) for item in value.values())
    if isinstance(value, list):
        return any(_contains_secret(item) for item in value)
    return False


def show(value: Any) -> str:
    """A value as the report prints it: secrets (whole, if any part is secret) as [secret],
    long values cut with their length."""
    if value is None:
        return "(none)"
    if _contains_secret(value):
        return SECRET
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = text.replace("\n", "\\n")
    if len(text) > VALUE_WIDTH:
        return f"{text[: VALUE_WIDTH - 20]}… ({len(text)} chars)"
    return text


def input_changes(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    before, after = flatten(old), flatten(new)
    changes = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            changes.append(Change(path, before.get(path), after.get(path)))
    return changes


def _by_urn(result: dict[str, Any] | None) -> dict[str, ResourceRecord]:
    if not result:
        return {}
    return {record["urn"]: record for record in result["resources"] if record["parent"]}


def diff_stack(stack: str, base: dict[str, Any] | None, head: dict[str, Any] | None) -> StackDiff:
    """Resources of `head` against `base`, in head's tree order, deletions last."""
    old, new = _by_urn(base), _by_urn(head)
    result = StackDiff(stack, base, head)
    for urn, record in new.items():
        previous = old.get(urn)
        if previous is None:
            result.resources.append(
                ResourceChange("create", urn, record["type"], record["name"], record["custom"])
            )
            continue
        changes = input_changes(previous["inputs"], record["inputs"])
        if not changes:
            result.unchanged += 1
            continue
        forcing = set(replaces(record["type"], [c.path for c in changes]))
        for change in changes:
            change.replaces = change.path in forcing
        action = "replace" if forcing else "update"
        result.resources.append(
            ResourceChange(action, urn, record["type"], record["name"], record["custom"], changes)
        )
    for urn, record in old.items():
        if urn not in new:
            result.resources.append(
                ResourceChange("delete", urn, record["type"], record["name"], record["custom"])
            )
    return result
