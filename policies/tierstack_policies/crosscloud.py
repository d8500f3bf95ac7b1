"""Rules that are the same in every cloud, written once: each cloud's family module calls them
with its own resource types, property paths and wording."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .registry import HIGH, MANDATORY, MEDIUM, Family
from .shared import REQUIRED_TAGS_SCHEMA, required_tags_check, size_allowed, sizes_schema

Props = Mapping[str, Any]
EnvOf = Callable[[Props, Mapping[str, Any], str], str | None]


def required_tags(
    family: Family,
    policy_id: str,
    types: Iterable[str],
    *,
    tag_key: str,
    description: str,
    remediation: str,
) -> None:
    """Governance: resources of `types` carry project, env (dev|prod), owner and cost-center in
    their `tag_key` input (tags or labels); the keys are configurable (`requiredTags`)."""
    family.resource(
        policy_id,
        severity=MEDIUM,
        level=MANDATORY,
        types=types,
        description=description,
        remediation=remediation,
        config=REQUIRED_TAGS_SCHEMA,
    )(required_tags_check(tag_key, tag_key))


def allowed_sizes(
    family: Family,
    policy_id: str,
    types: Iterable[str],
    *,
    size_of: Callable[[Props, str], Any],
    env_of: EnvOf,
    defaults: dict[str, list[str]],
    description: str,
    remediation: str,
) -> None:
    """Cost: the instance size (`size_of(props, type)`) is on the environment's allowed list."""

    @family.resource(
        policy_id,
        severity=MEDIUM,
        level=MANDATORY,
        types=types,
        description=description,
        remediation=remediation,
        config=sizes_schema(defaults),
    )
    def check(props: Props, config: Mapping[str, Any], type_: str) -> Iterable[str]:
        message = size_allowed(size_of(props, type_), env_of(props, config, type_), config)
        if message:
            yield message


def no_long_lived_keys(
    family: Family,
    policy_id: str,
    types: Iterable[str],
    *,
    message: str,
    description: str,
    remediation: str,
) -> None:
    """Identity: resources of `types` (access keys) are not created at all."""

    @family.resource(
        policy_id,
        severity=HIGH,
        level=MANDATORY,
        types=types,
        description=description,
        remediation=remediation,
    )
    def check(_props: Props, _config: Mapping[str, Any], _type: str) -> Iterable[str]:
        yield message
