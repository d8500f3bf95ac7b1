"""Offline CrossGuard: evaluates any Python policy pack against preview records, no Pulumi CLI.

The pack's `__main__.py` runs as the CLI would run it, except that `pulumi_policy.PolicyPack` is
intercepted: instead of serving gRPC and blocking, it hands over the policy objects. They are then
called through pulumi-policy's public argument classes (`ResourceValidationArgs`,
`StackValidationArgs`), with the inputs deserialized and proxied exactly as the analyzer does, so
a pack behaves the same here and under `pulumi preview --policy-pack`.

Policy config is the JSON accepted by `pulumi preview --policy-pack-config` (`all`, or a policy
name mapped to a level or to {"enforcementLevel": ..., <property>: ...}), validated strictly, plus
tierstack's `environments` block: {"dev": {...}, "prod": {...}} in the same shape, applied when
the stack's environment is known (a `-dev`/`-prod` stack-name suffix, else the `env` tags).
"""

from __future__ import annotations

import asyncio
import difflib
import json
import runpy
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from inspect import isawaitable, signature
from pathlib import Path
from typing import Any

import pulumi_policy
import pulumi_policy.policy as policy_module
import yaml
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

LEVELS = [level.value for level in EnforcementLevel]
ENVIRONMENTS = ("dev", "prod")
ENVIRONMENTS_KEY = "environments"
_LOAD_LOCK = threading.Lock()
_POLICY_PACK_SIGNATURE = signature(policy_module.PolicyPack.__init__)


class PolicyPackError(Exception):
    """The pack cannot be loaded, or one of its policies raised while validating."""


class PolicyConfigError(ValueError):
    """The policy config file does not match the pack's schema."""


@dataclass(frozen=True)
class PolicyPackInfo:
    """What `PolicyPack(...)` was called with."""

    name: str
    policies: list[Policy]
    enforcement_level: EnforcementLevel = EnforcementLevel.ADVISORY
    initial_config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Settings:
    level: EnforcementLevel
    config: dict[str, Any]


class _PackBuilt(Exception):
    """Raised by the stand-in PolicyPack to stop the pack's __main__ where the real one blocks."""

    def __init__(self, info: PolicyPackInfo) -> None:
        super().__init__(info.name)
        self.info = info


def _stand_in_pack(*args: Any, **kwargs: Any) -> None:
    bound = _POLICY_PACK_SIGNATURE.bind(None, *args, **kwargs)
    values = bound.arguments
    raise _PackBuilt(
        PolicyPackInfo(
            name=values.get("name") or "",
            policies=list(values.get("policies") or []),
            enforcement_level=values.get("enforcement_level") or EnforcementLevel.ADVISORY,
            initial_config=values.get("initial_config") or {},
        )
    )


_PACKS: dict[Path, PolicyPackInfo] = {}


def load_pack(pack_dir: Path) -> PolicyPackInfo:
    """Runs the pack's __main__.py with PolicyPack intercepted; cached per directory."""
    pack_dir = Path(pack_dir).resolve()
    with _LOAD_LOCK:
        if pack_dir not in _PACKS:
            _PACKS[pack_dir] = _load_pack_uncached(pack_dir)
        return _PACKS[pack_dir]


def _load_pack_uncached(pack_dir: Path) -> PolicyPackInfo:
    manifest = pack_dir / "PulumiPolicy.yaml"
    if not manifest.is_file():
        raise PolicyPackError(f"{pack_dir} is not a policy pack: it has no PulumiPolicy.yaml")
    runtime = (yaml.safe_load(manifest.read_text()) or {}).get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise PolicyPackError(f"{manifest}: runtime is {runtime_name!r}; only python packs run")
    entry = pack_dir / "__main__.py"
    if not entry.is_file():
        raise PolicyPackError(f"{pack_dir} has no __main__.py")
    modules_before = set(sys.modules)
    saved = (pulumi_policy.PolicyPack, policy_module.PolicyPack)
    pulumi_policy.PolicyPack = policy_module.PolicyPack = _stand_in_pack  # type: ignore[assignment]
    sys.path.insert(0, str(pack_dir))
    try:
        runpy.run_path(str(entry), run_name="__main__")
    except _PackBuilt as built:
        info = built.info
    else:
        raise PolicyPackError(f"{entry} finished without calling PolicyPack(...)")
    finally:
        pulumi_policy.PolicyPack, policy_module.PolicyPack = saved  # type: ignore[misc]
        sys.path.remove(str(pack_dir))
        _forget_modules_under(pack_dir, modules_before)
    _check_pack(info, entry)
    return info


def _forget_modules_under(pack_dir: Path, keep: set[str]) -> None:
    """Drop the pack's own modules so that another pack with the same module names loads its own."""
    for name in set(sys.modules) - keep:
        origin = getattr(sys.modules[name], "__file__", None)
        if origin and Path(origin).resolve().is_relative_to(pack_dir):
            del sys.modules[name]


def _check_pack(info: PolicyPackInfo, entry: Path) -> None:
    if not info.policies:
        raise PolicyPackError(f"{entry}: PolicyPack has no policies")
    seen: set[str] = set()
    for item in info.policies:
        if not isinstance(item, Policy):
            raise PolicyPackError(f"{entry}: {item!r} is not a pulumi_policy Policy")
        if item.name in seen:
            raise PolicyPackError(f"{entry}: policy name {item.name!r} is used twice")
        seen.add(item.name)


# --- configuration -----------------------------------------------------------------------------


def load_config(config_file: Path | None, pack: PolicyPackInfo) -> dict[str, Any]:
    """Reads and validates a policy config file (JSON, as for the CLI; YAML also accepted)."""
    if config_file is None:
        return {}
    path = Path(config_file)
    try:
        text = path.read_text()
    except OSError as error:
        raise PolicyConfigError(
            f"policy config {path}: cannot read it ({error.strerror})"
        ) from error
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise PolicyConfigError(f"policy config {path}: not valid JSON/YAML: {error}") from error
    validate_config(document or {}, pack, source=str(path))
    return document or {}


def validate_config(document: Any, pack: PolicyPackInfo, *, source: str = "policy config") -> None:
    """Raises PolicyConfigError naming the first key or value that does not fit the pack."""
    policies = {item.name: item for item in pack.policies}
    if not isinstance(document, dict):
        raise PolicyConfigError(f"{source}: the top level must be an object of policy settings")
    for key, setting in document.items():
        if key == ENVIRONMENTS_KEY:
            _validate_environments(setting, policies, source)
        else:
            _validate_entry(key, setting, policies, source)


def _validate_environments(block: Any, policies: dict[str, Policy], source: str) -> None:
    if not isinstance(block, dict):
        raise PolicyConfigError(f"{source}: '{ENVIRONMENTS_KEY}' must map dev/prod to settings")
    for env, settings in block.items():
        if env not in ENVIRONMENTS:
            raise PolicyConfigError(
                f"{source}: unknown environment {env!r} (use {' or '.join(ENVIRONMENTS)})"
            )
        if not isinstance(settings, dict):
            raise PolicyConfigError(f"{source}: environments.{env} must be an object")
        for key, setting in settings.items():
            _validate_entry(key, setting, policies, f"{source}: environments.{env}")


def _validate_entry(key: str, setting: Any, policies: dict[str, Policy], source: str) -> None:
    if key != "all" and key not in policies:
        close = difflib.get_close_matches(key, list(policies), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise PolicyConfigError(f"{source}: unknown policy {key!r}{hint}")
    if isinstance(setting, str):
        _validate_level(setting, f"{source}: {key}")
        return
    if key == "all" or not isinstance(setting, dict):
        raise PolicyConfigError(
            f"{source}: {key} must be one of {', '.join(LEVELS)}"
            + ("" if key == "all" else " or an object with enforcementLevel and properties")
        )
    properties = dict(setting)
    if "enforcementLevel" in properties:
        _validate_level(properties.pop("enforcementLevel"), f"{source}: {key}.enforcementLevel")
    schema = policies[key].config_schema
    known = schema.properties if schema else {}
    for name in properties:
        if name not in known:
            allowed = ", ".join(["enforcementLevel", *known])
            raise PolicyConfigError(f"{source}: {key} has no setting {name!r} (allowed: {allowed})")
    import jsonschema  # only a config file needs it: keeps it out of every preview's start-up

    try:
        jsonschema.validate(properties, {"type": "object", "properties": known})
    except jsonschema.ValidationError as error:
        where = ".".join(str(part) for part in error.absolute_path)
        raise PolicyConfigError(f"{source}: {key}.{where}: {error.message}") from error


def _validate_level(level: Any, where: str) -> None:
    if level not in LEVELS:
        raise PolicyConfigError(
            f"{where}: unknown enforcement level {level!r} (use one of {', '.join(LEVELS)})"
        )


def environment(resources: list[ResourceRecord], stack: str) -> str | None:
    """The stack's environment: a -dev/-prod stack-name suffix, else the resources' env tags
    (prod when any resource is tagged prod)."""
    suffix = stack.rsplit("-", 1)[-1]
    if suffix in ENVIRONMENTS:
        return suffix
    seen = set()
    for record in resources:
        for key in ("tags", "labels"):
            tags = record["inputs"].get(key)
            if isinstance(tags, dict) and tags.get("env") in ENVIRONMENTS:
                seen.add(tags["env"])
    if "prod" in seen:
        return "prod"
    return "dev" if seen else None


def resolve_settings(
    pack: PolicyPackInfo, config: Mapping[str, Any], env: str | None
) -> dict[str, _Settings]:
    """Each policy's level and config: policy default, pack initial config, the file's `all` and
    per-policy entries, then the same from the file's block for `env`."""
    layers: list[Mapping[str, Any]] = [_normalized(pack.initial_config), config]
    if env is not None:
        layers.append(config.get(ENVIRONMENTS_KEY, {}).get(env, {}))
    settings: dict[str, _Settings] = {}
    for item in pack.policies:
        level = item.enforcement_level or pack.enforcement_level
        properties: dict[str, Any] = {}
        if item.config_schema:
            properties = {
                name: spec["default"]
                for name, spec in item.config_schema.properties.items()
                if "default" in spec
            }
        for layer in layers:
            for key in ("all", item.name):
                level, properties = _apply(layer.get(key), level, properties)
        settings[item.name] = _Settings(level, properties)
    return settings


def _normalized(initial: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: (setting.value if isinstance(setting, EnforcementLevel) else setting)
        for key, setting in initial.items()
    }


def _apply(setting: Any, level: EnforcementLevel, properties: dict[str, Any]):
    if setting is None:
        return level, properties
    if isinstance(setting, str):
        return EnforcementLevel(setting), properties
    merged = dict(properties)
    for name, item in setting.items():
        if name == "enforcementLevel":
            level = EnforcementLevel(item.value if isinstance(item, EnforcementLevel) else item)
        else:
            merged[name] = item
    return level, merged


# --- evaluation --------------------------------------------------------------------------------


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


class _LazyPolicyResource(PolicyResource):
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

    @property
    def props(self) -> Mapping[str, Any]:
        if self._props is None:
            self._props = self._wire.props(self._record)
        return self._props

    @props.setter
    def props(self, value: Mapping[str, Any] | None) -> None:
        self._props = value


class _LazyResourceArgs(ResourceValidationArgs):
    """ResourceValidationArgs whose `props` are built on first read: most policies look at
    `resource_type` first and return, and those then cost no conversion at all."""

    def __init__(self, record: ResourceRecord, wire: _WireCache, *args: Any) -> None:
        self._record, self._wire, self._props = record, wire, None
        super().__init__(record["type"], None, record["urn"], record["name"], *args)

    @property
    def props(self) -> Mapping[str, Any]:
        if self._props is None:
            self._props = self._wire.props(self._record)
        return self._props

    @props.setter
    def props(self, value: Mapping[str, Any] | None) -> None:
        self._props = value


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


def _result(item: Policy, settings: _Settings, message: str, urn: str | None) -> PolicyResult:
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
    settings: _Settings,
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
    settings: _Settings,
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


def describe(pack_dir: Path) -> list[dict[str, Any]]:
    """The pack's policies as plain data (id, kind, default level, severity, tags, remediation)."""
    pack = load_pack(pack_dir)
    return [
        {
            "policy": item.name,
            "kind": "stack" if isinstance(item, StackValidationPolicy) else "resource",
            "level": (item.enforcement_level or pack.enforcement_level).value,
            "severity": item.severity.value if item.severity else None,
            "description": item.description,
            "remediation": item.remediation_steps,
            "tags": list(item.tags or []),
        }
        for item in pack.policies
    ]
