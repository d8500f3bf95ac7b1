"""Helpers shared by the cloud modules: policy builders, unknown-safe property access, env and tags.

Values a preview cannot know arrive as pulumi-policy's unknown sentinels behind a proxy that raises
on access; `value()` turns them into `UNKNOWN` so that a check can skip them instead of failing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

ENVIRONMENTS = ("dev", "prod")
REQUIRED_TAGS = ["project", "env", "owner", "cost-center"]
PUBLIC_CIDRS = {"0.0.0.0/0", "::/0"}
ADMIN_PORTS = {22: "SSH", 3389: "RDP"}


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


# --- tags, labels and environment -------------------------------------------------------------


def tags_of(props: Mapping[str, Any], key: str = "tags") -> dict[str, Any] | _Unknown | None:
    """Tags/labels as a plain dict. AWS autoscaling groups give a list of {key, value} instead."""
    found = value(props, key)
    if found is UNKNOWN:
        return UNKNOWN
    if isinstance(found, Mapping):
        return {name: value(found, name) for name in found}
    if isinstance(found, Sequence) and not isinstance(found, str):
        tags: dict[str, Any] = {}
        for index in range(len(found)):
            tag_key, tag_value = value(found, index, "key"), value(found, index, "value")
            if isinstance(tag_key, str):
                tags[tag_key] = tag_value
        return tags
    return None


def env_of(tags: Any, config: Mapping[str, Any]) -> str | None:
    """The environment: policy config `env` first, then the resource's `env` tag/label."""
    configured = config.get("env")
    if configured in ENVIRONMENTS:
        return configured
    if isinstance(tags, dict) and tags.get("env") in ENVIRONMENTS:
        return tags["env"]
    return None


def stack_env(resources: Iterable[PolicyResource], config: Mapping[str, Any]) -> str | None:
    """The stack's environment for resources that carry no labels (GCP MIGs, autoscalers):
    policy config `env`, else prod if any resource is tagged prod, else dev if any is tagged."""
    configured = config.get("env")
    if configured in ENVIRONMENTS:
        return configured
    seen: set[str] = set()
    for resource in resources:
        for key in ("tags", "labels"):
            tags = tags_of(resource.props, key)
            if isinstance(tags, dict) and tags.get("env") in ENVIRONMENTS:
                seen.add(tags["env"])
    if "prod" in seen:
        return "prod"
    return "dev" if seen else None


ENV_SCHEMA: dict[str, dict[str, Any]] = {
    "env": {
        "type": "string",
        "enum": list(ENVIRONMENTS),
        "description": "The stack's environment; overrides the resource's `env` tag/label.",
    },
}


# --- links between resources (stack policies) -------------------------------------------------


def linked_urns(resource: PolicyResource, *properties: str) -> set[str]:
    """Urns the given input properties were computed from (the dependency graph, not ids)."""
    urns: set[str] = set()
    for name in properties:
        urns.update(dep.urn for dep in resource.property_dependencies.get(name, []))
    return urns


def of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [resource for resource in resources if resource.resource_type in types]


# --- policy builders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Meta:
    """What every tierstack policy declares; `family` and `cloud` become the policy's tags."""

    id: str
    cloud: str
    family: str
    severity: Severity
    level: EnforcementLevel
    description: str
    remediation: str


ResourceCheck = Callable[[Mapping[str, Any], Mapping[str, Any], str], Iterable[str]]
StackCheck = Callable[[list[PolicyResource], Mapping[str, Any]], Iterable[tuple[str, str | None]]]


def _schema(properties: dict[str, dict[str, Any]] | None) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties=properties) if properties else None


def resource_policy(
    meta: Meta,
    types: Iterable[str],
    check: ResourceCheck,
    config: dict[str, dict[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    """A policy run once per resource of `types`; `check(props, config, type)` yields messages."""
    wanted = frozenset(types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in wanted:
            return
        for message in check(
            args.props, _config_with_defaults(args.get_config(), config), args.resource_type
        ):
            report_violation(f"{args.name}: {message}", None)

    return ResourceValidationPolicy(
        name=meta.id,
        description=meta.description,
        validate=validate,
        enforcement_level=meta.level,
        config_schema=_schema(config),
        severity=meta.severity,
        tags=[meta.cloud, meta.family],
        remediation_steps=meta.remediation,
    )


def stack_policy(
    meta: Meta, check: StackCheck, config: dict[str, dict[str, Any]] | None = None
) -> StackValidationPolicy:
    """A policy over the whole stack; `check(resources, config)` yields (message, urn)."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        for message, urn in check(
            list(args.resources), _config_with_defaults(args.get_config(), config)
        ):
            report_violation(message, urn)

    return StackValidationPolicy(
        name=meta.id,
        description=meta.description,
        validate=validate,
        enforcement_level=meta.level,
        config_schema=_schema(config),
        severity=meta.severity,
        tags=[meta.cloud, meta.family],
        remediation_steps=meta.remediation,
    )


def _config_with_defaults(
    given: Mapping[str, Any], schema: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    """The CLI fills schema defaults in; do the same so a pack run without config behaves alike."""
    merged = {name: spec["default"] for name, spec in (schema or {}).items() if "default" in spec}
    merged.update(given or {})
    return merged


def missing_tags(tags: Any, required: Sequence[str]) -> list[str] | None:
    """Required keys that are absent or empty; None when the tags are unknown at preview."""
    if tags is UNKNOWN:
        return None
    present = tags if isinstance(tags, dict) else {}
    return [key for key in required if present.get(key) in (None, "")]


def required_tags_check(tag_key: str, noun: str) -> ResourceCheck:
    """A check that the resource's tags/labels hold every required key and a valid env."""

    def check(props: Mapping[str, Any], config: Mapping[str, Any], _type: str) -> Iterable[str]:
        tags = tags_of(props, tag_key)
        missing = missing_tags(tags, config.get("requiredTags", REQUIRED_TAGS))
        if missing:
            yield f"missing {noun} {', '.join(missing)}"
        if isinstance(tags, dict):
            env = tags.get("env")
            if isinstance(env, str) and env not in ENVIRONMENTS:
                yield f"{noun[:-1]} env={env!r} is not one of {', '.join(ENVIRONMENTS)}"

    return check


REQUIRED_TAGS_SCHEMA: dict[str, dict[str, Any]] = {
    "requiredTags": {
        "type": "array",
        "items": {"type": "string"},
        "default": REQUIRED_TAGS,
        "description": "Tag/label keys every resource must carry.",
    },
}


def sizes_schema(defaults: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Config: allowed instance sizes per environment."""
    return {
        "allowedSizes": {
            "type": "object",
            "properties": {
                env: {"type": "array", "items": {"type": "string"}} for env in ENVIRONMENTS
            },
            "additionalProperties": False,
            "default": defaults,
            "description": "Allowed instance sizes per environment.",
        },
        **ENV_SCHEMA,
    }


def cap_schema(defaults: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Config: the autoscaling maximum allowed per environment."""
    return {
        "maxSizeCap": {
            "type": "object",
            "properties": {env: {"type": "integer", "minimum": 1} for env in ENVIRONMENTS},
            "additionalProperties": False,
            "default": defaults,
            "description": "Highest autoscaling maximum allowed per environment.",
        },
        **ENV_SCHEMA,
    }


def size_allowed(size: Any, env: str | None, config: Mapping[str, Any]) -> str | None:
    """A message when `size` is not allowed in `env` (dev when no env is known)."""
    if not isinstance(size, str):
        return None
    allowed = config.get("allowedSizes", {}).get(env or "dev", [])
    if size in allowed:
        return None
    return f"size {size} is not allowed in {env or 'dev'} (allowed: {', '.join(allowed)})"


def cap_exceeded(maximum: Any, env: str | None, config: Mapping[str, Any]) -> str | None:
    """A message when the autoscaling maximum exceeds the cap for `env`."""
    found = number(maximum)
    cap = config.get("maxSizeCap", {}).get(env or "dev")
    if found is None or cap is None or found <= cap:
        return None
    return f"autoscaling maximum {found:g} exceeds the {env or 'dev'} cap of {cap}"


def scalars(obj: Any, key: str) -> list[Any]:
    """A field that holds one value or a list of values, as a list (UNKNOWN entries kept)."""
    found = value(obj, key)
    if found is None:
        return []
    if isinstance(found, Sequence) and not isinstance(found, str):
        listed = elements(obj, key)
        return listed if isinstance(listed, list) else [UNKNOWN]
    return [found]
