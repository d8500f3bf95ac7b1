"""Rules that are the same in every cloud, written once: each cloud's family module calls them
with its own resource types, property paths and wording."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .registry import Config, Family, Findings, Props, Resources, StackFindings
from .shared import REQUIRED_TAGS_SCHEMA, required_tags_check, size_allowed, sizes_schema, uncovered

EnvOf = Callable[[Props, Config, str], str | None]


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
        severity="medium",
        level="mandatory",
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
    """Cost: the instance size (`size_of(props, type)`, or each of a list of sizes) is on the
    environment's allowed list."""

    @family.resource(
        policy_id,
        severity="medium",
        level="mandatory",
        types=types,
        description=description,
        remediation=remediation,
        config=sizes_schema(defaults),
    )
    def check(props: Props, config: Config, type_: str) -> Findings:
        sizes = size_of(props, type_)
        env = env_of(props, config, type_)
        for size in sizes if isinstance(sizes, list) else [sizes]:
            message = size_allowed(size, env, config)
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
        severity="high",
        level="mandatory",
        types=types,
        description=description,
        remediation=remediation,
    )
    def check(_props: Props, _config: Config, _type: str) -> Findings:
        yield message


def companion_required(
    family: Family,
    policy_id: str,
    *,
    severity: str,
    level: str,
    targets: Iterable[str],
    companions: Iterable[str],
    link: str,
    message: str,
    description: str,
    remediation: str,
) -> None:
    """Every resource of `targets` has a companion of `companions` whose `link` input was
    computed from it (a network and its flow log, a gateway and its diagnostic setting).
    `message` is formatted with the target's `name`."""

    @family.stack(
        policy_id, severity=severity, level=level, description=description, remediation=remediation
    )
    def check(resources: Resources, _config: Config) -> StackFindings:
        for target in uncovered(resources, targets, companions, link):
            yield message.format(name=target.name), target.urn
