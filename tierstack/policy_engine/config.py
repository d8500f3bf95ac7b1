"""Policy config: the JSON accepted by `pulumi preview --policy-pack-config` (`all`, or a policy
name mapped to a level or to {"enforcementLevel": ..., <property>: ...}), validated strictly, plus
tierstack's `environments` block: {"dev": {...}, "prod": {...}} in the same shape, applied when
the stack's environment is known (a `-dev`/`-prod` stack-name suffix, else the `env` tags).
Kept apart from evaluation: a config error must name the key at fault before any policy runs."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi_policy import EnforcementLevel, Policy

from tierstack.records import ResourceRecord

from .pack import PolicyConfigError, PolicyPackInfo

LEVELS = [level.value for level in EnforcementLevel]
ENVIRONMENTS = ("dev", "prod")
ENVIRONMENTS_KEY = "environments"


@dataclass(frozen=True)
class PolicySettings:
    """One policy's resolved enforcement level and config properties."""

    level: EnforcementLevel
    config: dict[str, Any]


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
) -> dict[str, PolicySettings]:
    """Each policy's level and config: policy default, pack initial config, the file's `all` and
    per-policy entries, then the same from the file's block for `env`."""
    layers: list[Mapping[str, Any]] = [_normalized(pack.initial_config), config]
    if env is not None:
        layers.append(config.get(ENVIRONMENTS_KEY, {}).get(env, {}))
    settings: dict[str, PolicySettings] = {}
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
        settings[item.name] = PolicySettings(level, properties)
    return settings


def _normalized(initial: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: (setting.value if isinstance(setting, EnforcementLevel) else setting)
        for key, setting in initial.items()
    }


def _apply(
    setting: Any, level: EnforcementLevel, properties: dict[str, Any]
) -> tuple[EnforcementLevel, dict[str, Any]]:
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
