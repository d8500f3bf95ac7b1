"""Policies declared next to their check: `Family.resource(...)` / `Family.stack(...)` decorate
the check with its metadata, and `collect()` gathers every cloud's families in a fixed order.

Each `<cloud>/<module>.py` holds one `family = Family(cloud, family)`; the cloud and family become
the policy's tags, which the README table is generated from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

CLOUDS = ("aws", "gcp", "azure")
# Family tag -> the module that holds it in every cloud package.
FAMILY_MODULES = {
    "object-storage": "storage",
    "network": "network",
    "compute": "compute",
    "databases": "databases",
    "queues": "queues",
    "load-balancers": "load_balancers",
    "identity": "identity",
    "governance": "governance",
    "cost": "cost",
    "reliability": "reliability",
}
FAMILIES = tuple(FAMILY_MODULES)


Schema = dict[str, dict[str, Any]]
Props = Mapping[str, Any]  # a resource's inputs (camelCase wire names)
Config = Mapping[str, Any]  # the policy's settings, schema defaults filled in
Resources = list[PolicyResource]
Findings = Iterable[str]  # messages about one resource
StackFindings = Iterable[tuple[str, str | None]]  # (message, urn of the resource or None)
ResourceCheck = Callable[[Props, Config, str], Findings]
StackCheck = Callable[[Resources, Config], StackFindings]


@dataclass(frozen=True)
class Meta:
    """What every tierstack policy declares; `cloud` and `family` become the policy's tags."""

    id: str
    cloud: str
    family: str
    severity: Severity
    level: EnforcementLevel
    description: str
    remediation: str

    def policy_args(self, config: Schema | None) -> dict[str, Any]:
        return {
            "name": self.id,
            "description": self.description,
            "enforcement_level": self.level,
            "config_schema": PolicyConfigSchema(properties=config) if config else None,
            "severity": self.severity,
            "tags": [self.cloud, self.family],
            "remediation_steps": self.remediation,
        }


@dataclass
class Family:
    """The policies of one cloud and family, in the order they are declared."""

    cloud: str
    name: str
    policies: list[Policy] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.cloud not in CLOUDS or self.name not in FAMILY_MODULES:
            raise ValueError(f"unknown cloud/family {self.cloud}/{self.name}")

    def _meta(
        self,
        policy_id: str,
        severity: str,
        level: str,
        description: str,
        remediation: str,
    ) -> Meta:
        if not policy_id.startswith(f"{self.cloud}-"):
            raise ValueError(f"policy {policy_id} does not start with {self.cloud}-")
        return Meta(
            policy_id,
            self.cloud,
            self.name,
            Severity(severity),
            EnforcementLevel(level),
            description,
            remediation,
        )

    def resource(
        self,
        policy_id: str,
        *,
        severity: str,
        level: str,
        types: Iterable[str],
        description: str,
        remediation: str,
        config: Schema | None = None,
    ) -> Callable[[ResourceCheck], ResourceCheck]:
        """Registers `check(props, config, type)`, run once per resource of `types`; it yields
        messages, reported as `<resource name>: <message>`. Severity: low, medium, high or
        critical; level: advisory or mandatory (the default, which policy config overrides)."""
        meta = self._meta(policy_id, severity, level, description, remediation)
        wanted = frozenset(types)

        def register(check: ResourceCheck) -> ResourceCheck:
            def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
                if args.resource_type not in wanted:
                    return
                settings = _config_with_defaults(args.get_config(), config)
                for message in check(args.props, settings, args.resource_type):
                    report_violation(f"{args.name}: {message}", None)

            self.policies.append(
                ResourceValidationPolicy(validate=validate, **meta.policy_args(config))
            )
            return check

        return register

    def stack(
        self,
        policy_id: str,
        *,
        severity: str,
        level: str,
        description: str,
        remediation: str,
        config: Schema | None = None,
    ) -> Callable[[StackCheck], StackCheck]:
        """Registers `check(resources, config)` over the whole stack; it yields (message, urn)."""
        meta = self._meta(policy_id, severity, level, description, remediation)

        def register(check: StackCheck) -> StackCheck:
            def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
                settings = _config_with_defaults(args.get_config(), config)
                for message, urn in check(list(args.resources), settings):
                    report_violation(message, urn)

            self.policies.append(
                StackValidationPolicy(validate=validate, **meta.policy_args(config))
            )
            return check

        return register


def _config_with_defaults(given: Mapping[str, Any], schema: Schema | None) -> dict[str, Any]:
    """The CLI fills schema defaults in; do the same so a pack run without config behaves alike."""
    merged = {name: spec["default"] for name, spec in (schema or {}).items() if "default" in spec}
    merged.update(given or {})
    return merged


def collect(package: str) -> list[Policy]:
    """Every policy of `<package>.<cloud>.<family module>`, cloud by cloud, family by family.

    A missing family module, a module declaring another cloud or family, or a policy id used
    twice stops the pack from loading."""
    policies: list[Policy] = []
    for cloud in CLOUDS:
        for family_name, module_name in FAMILY_MODULES.items():
            module = import_module(f"{package}.{cloud}.{module_name}")
            family = module.family
            if (family.cloud, family.name) != (cloud, family_name):
                raise ValueError(
                    f"{module.__name__} declares {family.cloud}/{family.name}, "
                    f"not {cloud}/{family_name}"
                )
            policies += family.policies
    seen: set[str] = set()
    for item in policies:
        if item.name in seen:
            raise ValueError(f"policy id {item.name} is declared twice")
        seen.add(item.name)
    return policies
