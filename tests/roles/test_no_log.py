"""Secrets never reach the converge log: every task that writes or passes a variable the role's
argument spec marks `no_log` (or a template that renders one) is itself `no_log: true`.

A task without it prints the secret with `--diff`, and in the failure message of a loop item;
on the local target that lands in converge.log, on a cloud VM in the journal."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"


def secret_patterns(role: Path) -> list[re.Pattern[str]]:
    """A pattern per secret the spec declares: the variable itself, or for a secret field of a
    list variable, `<loop variable>.<field>` (what a task or template looping over it renders)."""
    spec_file = role / "meta" / "argument_specs.yml"
    if not spec_file.is_file():
        return []
    spec = yaml.safe_load(spec_file.read_text())["argument_specs"]
    patterns = []
    for entry in spec.values():
        for name, option in (entry.get("options") or {}).items():
            if option.get("no_log"):
                patterns.append(re.compile(rf"\b{name}\b"))
            for field, sub in (option.get("options") or {}).items():
                if sub.get("no_log"):
                    patterns.append(re.compile(rf"\b\w+(\.\d+)?\.{field}\b"))
    return patterns


def tasks(document: Any) -> list[dict[str, Any]]:
    """Every task, blocks flattened (a block's no_log covers its tasks)."""
    found = []
    for task in document or []:
        inner = [*task.get("block", []), *task.get("rescue", []), *task.get("always", [])]
        if inner:
            for child in tasks(inner):
                found.append({**child, "no_log": child.get("no_log", task.get("no_log"))})
        else:
            found.append(task)
    return found


JINJA = re.compile(r"{{.*?}}|{%.*?%}", re.S)


def rendered_text(role: Path, task: dict[str, Any]) -> str:
    """The Jinja expressions of the task and of the template it renders, if any (prose that
    only names a variable, as in a failure message, renders nothing secret)."""
    text = yaml.safe_dump(task, width=10_000)
    template = (task.get("ansible.builtin.template") or {}).get("src")
    if template and (role / "templates" / template).is_file():
        text += (role / "templates" / template).read_text()
    return "\n".join(JINJA.findall(text))


CASES = [
    (role, path, task)
    for role in sorted(p for p in ROLES.iterdir() if p.is_dir())
    for folder in ("tasks", "handlers")
    for path in sorted((role / folder).glob("*.yml"))
    for task in tasks(yaml.safe_load(path.read_text()))
]


def test_the_specs_declare_the_secrets_the_roles_handle() -> None:
    """The rule below is only as good as the specs: the known secrets are declared."""
    declared = {
        role.name: [p.pattern for p in secret_patterns(role)]
        for role in ROLES.iterdir()
        if role.is_dir()
    }
    assert any(p.endswith(".env\\b") for p in declared["python_app"])
    assert any(p.endswith(".env\\b") for p in declared["worker"])
    assert any("mqtt_broker_tls_key" in p for p in declared["mqtt_broker"])
    assert any("password" in p for p in declared["mqtt_broker"])
    assert any("secret_key" in p for p in declared["object_store"])


@pytest.mark.parametrize(
    ("role", "path", "task"),
    CASES,
    ids=[f"{role.name}:{task.get('name', '?')}" for role, _, task in CASES],
)
def test_a_task_that_handles_a_secret_is_no_log(role: Path, path: Path, task: dict) -> None:
    text = rendered_text(role, task)
    hits = [p.pattern for p in secret_patterns(role) if p.search(text)]
    if hits:
        assert task.get("no_log") is True, f"{path.relative_to(ROLES)}: renders {hits}"
