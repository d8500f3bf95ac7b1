"""Helpers every cloud's checks share: tags and environment, links between resources, port
ranges, and the config schemas of the per-environment rules."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from .registry import ResourceCheck, Schema
from .values import UNKNOWN, _Unknown, number, switched_off, value

ENVIRONMENTS = ("dev", "prod")
REQUIRED_TAGS = ["project", "env", "owner", "cost-center"]
PUBLIC_CIDRS = {"0.0.0.0/0", "::/0"}
WORLD_PREFIX = {4: 8, 6: 16}  # a public range this wide or wider counts as the internet
ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
DEFAULT_CAPS = {"dev": 4, "prod": 20}


def is_world(cidr: Any) -> bool:
    """0.0.0.0/0 and ::/0, also written another way (0.0.0.0/00, ::0/0) or in pieces
    (0.0.0.0/1 + 128.0.0.0/1): any public range as wide as a /8 (IPv6: /16) or wider."""
    if not isinstance(cidr, str):
        return False
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return False
    return network.prefixlen <= WORLD_PREFIX[network.version] and not network.is_private


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


ENV_SCHEMA: Schema = {
    "env": {
        "type": "string",
        "enum": list(ENVIRONMENTS),
        "description": "The stack's environment; overrides the resource's `env` tag/label.",
    },
}


def tag_env(props: Mapping[str, Any], config: Mapping[str, Any], _type: str = "") -> str | None:
    """The environment from the resource's `tags` (AWS, Azure)."""
    return env_of(tags_of(props), config)


# --- links between resources (stack policies) -------------------------------------------------


def linked_urns(resource: PolicyResource, *properties: str) -> set[str]:
    """Urns the given input properties were computed from (the dependency graph, not ids)."""
    urns: set[str] = set()
    for name in properties:
        urns.update(dep.urn for dep in resource.property_dependencies.get(name, []))
    return urns


def of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [resource for resource in resources if resource.resource_type in types]


def uncovered(
    resources: list[PolicyResource],
    targets: Iterable[str],
    companions: Iterable[str],
    link: str,
    is_good: Callable[[Mapping[str, Any]], bool] = lambda _props: True,
) -> list[PolicyResource]:
    """Resources of `targets` that no companion passing `is_good` points at through `link`
    (a bucket without its public access block, a VPC without its flow log)."""
    covered: set[str] = set()
    for companion in of_type(resources, *companions):
        if is_good(companion.props):
            covered |= linked_urns(companion, link)
    return [target for target in of_type(resources, *targets) if target.urn not in covered]


# --- tags required ----------------------------------------------------------------------------


def missing_tags(tags: Any, required: Sequence[str]) -> list[str] | None:
    """Required keys that are absent or empty (also blank: " " names no owner); None when the
    tags are unknown at preview."""
    if tags is UNKNOWN:
        return None
    present = tags if isinstance(tags, dict) else {}
    return [key for key in required if _blank(present.get(key))]


def _blank(item: Any) -> bool:
    return item is None or (isinstance(item, str) and not item.strip())


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


def min_tls_check(accepted: Sequence[str], *, unset: str, suffix: str = "") -> ResourceCheck:
    """A check that the resource's `minimumTlsVersion` is one of `accepted` (a value known only
    at deploy time passes); `unset` names what an absent minimum means, `suffix` ends the
    message. Azure spells the versions per service ('TLS1_2' for storage, '1.2' for Service
    Bus), so the accepted spellings are the caller's."""

    def check(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str) -> Iterable[str]:
        version = value(props, "minimumTlsVersion")
        if version not in (*accepted, UNKNOWN):
            yield f"minimumTlsVersion is {version or unset}{suffix}"

    return check


def flag_check(path: Sequence[str], message: str, *, prod_only: bool = False) -> ResourceCheck:
    """A check that the flag at `path` is true (absent counts as off; a value known only at
    deploy time passes): encryption, versioning, point-in-time recovery. With `prod_only` it
    applies only to resources whose environment (`tag_env`) is prod; give it ENV_SCHEMA."""

    def check(props: Mapping[str, Any], config: Mapping[str, Any], _type: str) -> Iterable[str]:
        if prod_only and tag_env(props, config) != "prod":
            return
        if switched_off(props, *path):
            yield message

    return check


REQUIRED_TAGS_SCHEMA: Schema = {
    "requiredTags": {
        "type": "array",
        "items": {"type": "string"},
        "default": REQUIRED_TAGS,
        "description": "Tag/label keys every resource must carry.",
    },
}


# --- per-environment settings -----------------------------------------------------------------


def sizes_schema(defaults: dict[str, list[str]]) -> Schema:
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


def cap_schema(defaults: dict[str, int]) -> Schema:
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


def retention_schema(description: str) -> Schema:
    """Config: the least backup retention in prod."""
    return {
        "minRetentionDays": {
            "type": "integer",
            "minimum": 1,
            "default": 7,
            "description": description,
        },
        **ENV_SCHEMA,
    }


# --- ports open to the internet ---------------------------------------------------------------


def port_exposure(low: float | None, high: float | None) -> str | None:
    """What the port range low..high opens that must not face the internet, or None."""
    if low is None or high is None:
        return None
    if low <= 0 and high >= 65535:
        return "all ports"
    for port, name in ADMIN_PORTS.items():
        if low <= port <= high:
            return f"{name} (port {port})"
    return None


def range_exposure(port_range: Any) -> str | None:
    """`port_exposure` of a "22" or "20-23" range string (GCP firewalls, Azure NSG rules)."""
    if not isinstance(port_range, str):
        return None
    low, _, high = port_range.partition("-")
    return port_exposure(number(low), number(high or low))


# PostgreSQL's log_statement settings that log at least every schema change.
STATEMENT_LOGGING = ("ddl", "mod", "all")
