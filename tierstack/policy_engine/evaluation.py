"""Running the policies over preview records through pulumi-policy's public argument classes
(`ResourceValidationArgs`, `StackValidationArgs`), with the inputs deserialized and proxied
exactly as the analyzer does, so a pack behaves the same here and under `pulumi preview
--policy-pack`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from inspect import isawaitable
from pathlib import Path
from typing import Any

import pulumi_policy.policy as policy_module
from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from tierstack.records import UNKNOWN, PolicyResult, ResourceRecord

from .config import PolicySettings, environment, load_config, resolve_settings
from .pack import PolicyPackError, load_pack


def evaluate(
    resources: list[ResourceRecord],
    *,
    stack: str,
    project: str,
    pack_dir: Path,
    config_file: Path | None,
) -> list[PolicyResult]:
    """Runs every enabled policy of the pack in `pack_dir` over the preview's records."""
    pack = load_pack(pack_dir)
    config = load_config(config_file, pack)
    settings = resolve_settings(pack, config, environment(resources, stack))
    results: list[PolicyResult] = []
    enabled = [
        item for item in pack.policies if settings[item.name].level != EnforcementLevel.DISABLED
    ]
    resource_policies = [
        item
        for item in enabled
        if isinstance(item, ResourceValidationPolicy) and item.has_validation()
    ]
    wire = _WireCache()
    for record in resources:
        for item in resource_policies:
            _run_resource_policy(item, record, settings[item.name], results, wire)
    for item in enabled:
        if isinstance(item, StackValidationPolicy):
            _run_stack_policy(item, resources, settings[item.name], results, wire)
    return results


class _WireCache:
    """Each record's inputs converted to the analyzer's form once, however many policies read
    them (the conversion costs far more than most policies). Policies never see the cached dict
    itself: each gets its own `unknown_checking_proxy`, which copies every container."""

    def __init__(self) -> None:
        self._by_urn: dict[str, dict[str, Any]] = {}
        self._options: dict[str | None, PolicyResourceOptions] = {}

    def props(self, record: ResourceRecord) -> Mapping[str, Any]:
        wire = self._by_urn.get(record["urn"])
        if wire is None:
            wire = self._by_urn[record["urn"]] = _wire_props(record["inputs"])
        return unknown_checking_proxy(wire)

    def options(self, record: ResourceRecord) -> PolicyResourceOptions:
        """Options only carry the parent here; one instance per parent serves every policy."""
        parent = record["parent"]
        if parent not in self._options:
            self._options[parent] = _options(parent)
        return self._options[parent]


class _LazyProps:
    """`props` built on first read from the record's cached wire form: most policies look at
    the type first and return, and those then cost no conversion at all."""

    _record: ResourceRecord
    _wire: _WireCache
    _props: Mapping[str, Any] | None

    @property
    def props(self) -> Mapping[str, Any]:
        if self._props is None:
            self._props = self._wire.props(self._record)
        return self._props

    @props.setter
    def props(self, value: Mapping[str, Any] | None) -> None:
        self._props = value


class _LazyPolicyResource(_LazyProps, PolicyResource):
    """A stack policy's view of one resource, its `props` built on first read (most stack
    policies only look at a few resource types)."""

    def __init__(self, record: ResourceRecord, wire: _WireCache) -> None:
        self._record, self._wire, self._props = record, wire, None
        super().__init__(
            record["type"],
            None,
            record["urn"],
            record["name"],
            wire.options(record),
            None,
            None,
            [],
            {},
        )


class _LazyResourceArgs(_LazyProps, ResourceValidationArgs):
    """ResourceValidationArgs whose `props` are built on first read: most policies look at
    `resource_type` first and return, and those then cost no conversion at all."""

    def __init__(self, record: ResourceRecord, wire: _WireCache, *args: Any) -> None:
        self._record, self._wire, self._props = record, wire, None
        super().__init__(record["type"], None, record["urn"], record["name"], *args)


def _wire_props(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs as the analyzer receives them: unknown markers as pulumi's sentinels, numbers as
    floats (they travel as a protobuf Struct)."""
    struct = struct_pb2.Struct()
    struct.update(_with_sentinels(dict(inputs)))
    return deserialize_properties(json_format.MessageToDict(struct))


def _with_sentinels(item: Any) -> Any:
    if item == UNKNOWN:
        return UNKNOWN_STRING_VALUE
    if isinstance(item, dict):
        return {key: _with_sentinels(inner) for key, inner in item.items()}
    if isinstance(item, list | tuple):
        return [_with_sentinels(inner) for inner in item]
    return item


def _options(parent: str | None) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def _result(item: Policy, settings: PolicySettings, message: str, urn: str | None) -> PolicyResult:
    mandatory = settings.level in (EnforcementLevel.MANDATORY, EnforcementLevel.REMEDIATE)
    return {
        "policy": item.name,
        "level": "mandatory" if mandatory else "advisory",
        "resource": urn or None,
        "message": message or item.description,
    }


def _call(item: Policy, args: Any, report: Any, where: str) -> None:
    """Calls the policy; unknown values and not-applicable end it quietly, anything else is the
    policy's own bug and is reported with its name."""
    try:
        outcome = item.validate(args, report)
        if isawaitable(outcome):
            asyncio.run(_awaited(outcome))
    except (UnknownValueError, policy_module._NotApplicableError):
        return
    except Exception as error:
        raise PolicyPackError(
            f"policy {item.name!r} raised {type(error).__name__} on {where}: {error}"
        ) from error


async def _awaited(outcome: Any) -> None:
    await outcome


def _run_resource_policy(
    item: ResourceValidationPolicy,
    record: ResourceRecord,
    settings: PolicySettings,
    results: list[PolicyResult],
    wire: _WireCache,
) -> None:
    args = _LazyResourceArgs(record, wire, wire.options(record), None, settings.config, {})

    def report(message: str, _urn: str | None = None) -> None:
        results.append(_result(item, settings, message, record["urn"]))

    _call(item, args, report, record["urn"])


def _run_stack_policy(
    item: StackValidationPolicy,
    records: list[ResourceRecord],
    settings: PolicySettings,
    results: list[PolicyResult],
    wire: _WireCache,
) -> None:
    by_urn: dict[str, PolicyResource] = {}
    for record in records:
        by_urn[record["urn"]] = _LazyPolicyResource(record, wire)
    for record in records:
        resource = by_urn[record["urn"]]
        resource.parent = by_urn.get(record["parent"] or "")
        resource.dependencies = [by_urn[urn] for urn in record["dependencies"] if urn in by_urn]
        resource.property_dependencies = {
            name: [by_urn[urn] for urn in urns if urn in by_urn]
            for name, urns in record["propertyDependencies"].items()
        }
    args = StackValidationArgs(list(by_urn.values()), settings.config, {})

    def report(message: str, urn: str | None = None) -> None:
        results.append(_result(item, settings, message, urn))

    _call(item, args, report, "the stack")
