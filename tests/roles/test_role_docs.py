"""Every role variable is declared where Ansible checks it and explained where people read it:
each default in defaults/main.yml is an option of meta/argument_specs.yml and is named in full
in the role's README, and each option of the spec is named there too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tierstack.local.target import REPO

ROLES = sorted(path for path in (REPO / "roles").iterdir() if (path / "tasks").is_dir())


def test_every_role_is_here() -> None:
    assert [role.name for role in ROLES] == [
        "blueprint_host",
        "common",
        "load_balancer",
        "mail_sink",
        "mqtt_broker",
        "object_store",
        "postgres",
        "python_app",
        "spark",
        "worker",
    ]


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_defaults_are_declared_and_documented(role: Path) -> None:
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]
    readme = (role / "README.md").read_text()
    assert sorted(set(defaults) - set(options)) == [], "defaults missing from argument_specs"
    undocumented = [name for name in [*defaults, *options] if f"`{name}`" not in readme]
    assert undocumented == [], f"not named in {role.name}/README.md"
    for name, option in options.items():
        assert option.get("description"), f"{name} has no description in argument_specs"
        assert name.startswith(f"{role.name}_"), f"{name} is not prefixed with the role name"
