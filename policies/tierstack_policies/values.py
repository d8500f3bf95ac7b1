"""Unknown-safe reading of resource inputs (camelCase wire names, as the CLI sends them).

Values a preview cannot know arrive as pulumi-policy's unknown sentinels behind a proxy that raises
on access; `value()` turns them into `UNKNOWN` so that a check can skip them instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError


class _Unknown:
    """The marker for a value that is not known until the update runs."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
_MISSING = object()


def value(obj: Any, *path: str | int) -> Any:
    """The value at `path`, None when absent, UNKNOWN when it (or a parent) is unknown."""
    current = obj
    for key in path:
        try:
            if isinstance(key, int):
                if not isinstance(current, Sequence) or isinstance(current, str):
                    return None
                if key >= len(current):
                    return None
                current = current[key]
            else:
                if not isinstance(current, Mapping):
                    return None
                current = current.get(key, _MISSING)
                if current is _MISSING:
                    return None
        except UnknownValueError:
            return UNKNOWN
    return current


def elements(obj: Any, *path: str | int) -> list[Any] | _Unknown:
    """The list at `path` as a plain list (unknown elements become UNKNOWN), [] when absent."""
    found = value(obj, *path)
    if found is UNKNOWN:
        return UNKNOWN
    if not isinstance(found, Sequence) or isinstance(found, str):
        return []
    return [value(found, index) for index in range(len(found))]


def is_unknown(item: Any) -> bool:
    return item is UNKNOWN


def truthy(item: Any) -> bool:
    """True for True and "true": some providers (aws launch templates) type booleans as strings."""
    return item is True or (isinstance(item, str) and item.lower() == "true")


def falsy(item: Any) -> bool:
    """Explicitly false (not merely absent)."""
    return item is False or (isinstance(item, str) and item.lower() == "false")


def number(item: Any) -> float | None:
    """A number from an int, float or numeric string; None when absent or unknown."""
    if isinstance(item, bool) or item is None or item is UNKNOWN:
        return None
    try:
        return float(item)
    except (TypeError, ValueError):
        return None


def json_document(item: Any) -> Any:
    """A policy document given as a JSON string or a mapping; UNKNOWN when not known yet."""
    if item is UNKNOWN:
        return UNKNOWN
    if isinstance(item, str):
        try:
            return json.loads(item)
        except ValueError:
            return None
    if isinstance(item, Mapping):
        return _plain(item)
    return None


def _plain(item: Any) -> Any:
    """A proxied mapping/list as plain Python, unknown leaves as UNKNOWN."""
    if isinstance(item, Mapping):
        return {key: _plain(value(item, key)) for key in item}
    if isinstance(item, Sequence) and not isinstance(item, str):
        return [_plain(value(item, index)) for index in range(len(item))]
    return item


def as_list(item: Any) -> list[Any]:
    """JSON policy fields may hold one value or a list of them."""
    if item is None:
        return []
    if isinstance(item, list):
        return item
    return [item]


def scalars(obj: Any, key: str) -> list[Any]:
    """A field that holds one value or a list of values, as a list (UNKNOWN entries kept)."""
    found = value(obj, key)
    if found is None:
        return []
    if isinstance(found, Sequence) and not isinstance(found, str):
        listed = elements(obj, key)
        return listed if isinstance(listed, list) else [UNKNOWN]
    return [found]


def switched_off(obj: Any, *path: str | int) -> bool:
    """The flag at `path` is known and not true (absent counts as off)."""
    found = value(obj, *path)
    return found is not UNKNOWN and not truthy(found)
