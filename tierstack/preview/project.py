"""Reads a Pulumi Python project the way the Pulumi CLI does: Pulumi.yaml (name, runtime, main,
stackConfigDir, project-level config) and the stack files Pulumi.<stack>.yaml."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tierstack.records import SECRET

# Keys that mark a project-level config entry as a declaration rather than a bare value.
_DECLARATION_KEYS = {"type", "default", "value", "description", "secret", "items"}


class ProjectError(Exception):
    """The project or stack cannot be previewed as given (a usage error, exit code 2)."""


@dataclass(frozen=True)
class Project:
    directory: Path
    name: str
    main: Path  # a .py file or a directory with __main__.py
    stack_config_dir: Path
    defaults: dict[str, Any] = field(default_factory=dict)  # qualified key -> value
    runtime_options: dict[str, Any] = field(default_factory=dict)  # runtime.options

    @property
    def program_dir(self) -> Path:
        """Where the program runs (its working directory and first import path)."""
        return self.main if self.main.is_dir() else self.main.parent


@dataclass(frozen=True)
class StackConfig:
    values: dict[str, str]  # qualified key -> the string the SDK sees
    secret_keys: list[str]  # keys the SDK must treat as secret
    undecryptable: list[str]  # `secure:` keys: ciphertext offline, so the program sees SECRET


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ProjectError(f"{path}: not valid YAML ({error})") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected a mapping at the top level")
    return data


def find_project_file(directory: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        if (directory / name).is_file():
            return directory / name
    raise ProjectError(f"no Pulumi.yaml in {directory}: pass --cwd DIR of a Pulumi project")


def _qualify(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def load_project(directory: Path) -> Project:
    """Reads Pulumi.yaml; only Python programs can be previewed."""
    directory = directory.resolve()
    if not directory.is_dir():
        raise ProjectError(f"{directory} is not a directory")
    data = _read_yaml(find_project_file(directory))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError(f"{directory}/Pulumi.yaml: `name` is missing")
    runtime = data.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProjectError(
            f"{directory}/Pulumi.yaml: runtime is {runtime_name!r}; only `python` programs can "
            "be previewed"
        )
    main_setting = str(data.get("main") or ".")
    main = (directory / main_setting).resolve()
    entry = main / "__main__.py" if main.is_dir() or main_setting.endswith("/") else main
    if not entry.is_file():
        raise ProjectError(f"{directory}/Pulumi.yaml: the program {entry} does not exist")
    stack_dir = (directory / str(data.get("stackConfigDir") or ".")).resolve()
    defaults: dict[str, Any] = {}
    for key, entry_value in (data.get("config") or {}).items():
        value = entry_value
        if isinstance(entry_value, dict) and set(entry_value) <= _DECLARATION_KEYS:
            if "value" not in entry_value and "default" not in entry_value:
                continue
            value = entry_value.get("value", entry_value.get("default"))
        defaults[_qualify(str(key), name)] = value
    options = runtime.get("options") if isinstance(runtime, dict) else None
    if options is not None and not isinstance(options, dict):
        raise ProjectError(f"{directory}/Pulumi.yaml: runtime.options must be a mapping")
    return Project(directory, name, main, stack_dir, defaults, dict(options or {}))


def stack_file(project: Project, stack: str) -> Path:
    return project.stack_config_dir / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"


def list_stacks(project: Project) -> list[str]:
    """Stack names from the stack files found in stackConfigDir, sorted."""
    names = [
        path.name[len("Pulumi.") : -len(".yaml")]
        for path in project.stack_config_dir.glob("Pulumi.*.yaml")
    ]
    return sorted(name for name in names if name)


def _hide_secure(value: Any) -> tuple[Any, bool]:
    """Replaces `{secure: ciphertext}` (at any depth) by SECRET; says whether it found one."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET, True
        found = False
        out = {}
        for key, item in value.items():
            out[key], item_found = _hide_secure(item)
            found = found or item_found
        return out, found
    if isinstance(value, list):
        pairs = [_hide_secure(item) for item in value]
        return [item for item, _ in pairs], any(found for _, found in pairs)
    return value, False


def _as_config_string(value: Any) -> str:
    """The string the SDK reads: Pulumi passes booleans lower-case and objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def load_stack_config(project: Project, stack: str) -> StackConfig:
    """Project defaults overlaid by the stack file; an unknown stack lists the known ones."""
    path = stack_file(project, stack)
    if not path.is_file():
        known = ", ".join(list_stacks(project)) or "none"
        raise ProjectError(f"unknown stack {stack!r} in {project.directory}; available: {known}")
    raw = dict(project.defaults)
    for key, value in (_read_yaml(path).get("config") or {}).items():
        raw[_qualify(str(key), project.name)] = value
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    undecryptable: list[str] = []
    for key, value in raw.items():
        plain, is_secure = _hide_secure(value)
        values[key] = _as_config_string(plain)
        if is_secure:
            secret_keys.append(key)
            undecryptable.append(key)
    return StackConfig(values, sorted(secret_keys), sorted(undecryptable))
