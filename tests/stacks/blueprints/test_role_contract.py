"""The blueprints and the Ansible roles describe the same hosts: what the load balancer targets
and what cloud VMs run is exactly what the roles install (roles/blueprint_host/vars/main.yml)."""

import importlib.util
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
def test_each_worker_tier_runs_its_own_command(name: str) -> None:
    """A worker VM runs the catalog's consumers of its tier and no other: each tier of the
    blueprint names exactly one, with the blueprint's command (its identity is granted for it)."""
    tiers = {worker.name: worker.command for worker in BLUEPRINTS[name]().workers}
    catalog = {unit["tier"]: f"python -m {unit['module']}" for unit in CATALOG[name]["workers"]}
    assert catalog == tiers
    assert len(CATALOG[name]["workers"]) == len(tiers)


def test_every_blueprint_has_a_playbook() -> None:
    playbooks = Path(__file__).resolve().parents[3] / "playbooks"
    assert {p.stem for p in playbooks.glob("*.yml")} >= set(BLUEPRINTS)


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_every_module_a_blueprint_names_exists(name: str) -> None:
    """What the VMs will run is in reference_apps (found without running it)."""
    blueprint = BLUEPRINTS[name]()
    assert blueprint.app is not None
    modules = [blueprint.app.wsgi.split(":")[0]]
    modules += [worker.command.removeprefix("python -m ") for worker in blueprint.workers]
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module


def test_the_local_target_takes_its_apps_from_the_blueprints() -> None:
    from tierstack.local.catalog import APPS

    for name, spec in APPS.items():
        app = BLUEPRINTS[name]().app
        assert app is not None
        assert (spec.port, f"reference_apps.{spec.package}.wsgi:app") == (app.port, app.wsgi)
