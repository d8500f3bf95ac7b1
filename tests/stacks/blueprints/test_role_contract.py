"""The blueprints and the Ansible roles describe the same hosts: what the load balancer targets
and what cloud VMs run is exactly what the roles install (roles/blueprint_host/vars/main.yml)."""

from pathlib import Path

import pytest
import yaml

from stacks.blueprints import BLUEPRINTS

CATALOG = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "roles/blueprint_host/vars/main.yml").read_text()
)["blueprint_host_catalog"]


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_app_tier_matches_the_role_catalog(name: str) -> None:
    blueprint = BLUEPRINTS[name]()
    assert blueprint.app is not None
    assert blueprint.app.wsgi == CATALOG[name]["module"]
    assert blueprint.app.port == CATALOG[name]["port"]


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_worker_commands_match_the_role_catalog(name: str) -> None:
    commands = sorted(worker.command for worker in BLUEPRINTS[name]().workers)
    expected = sorted(f"python -m {worker['module']}" for worker in CATALOG[name]["workers"])
    assert commands == expected


def test_every_blueprint_has_a_playbook() -> None:
    playbooks = Path(__file__).resolve().parents[3] / "playbooks"
    assert {p.stem for p in playbooks.glob("*.yml")} >= set(BLUEPRINTS)
