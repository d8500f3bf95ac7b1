"""Shared by the GCP component tests: each stack runs once per test process (cached), and the
tier tests' names and readers."""

from __future__ import annotations

from functools import cache
from typing import Any

from stacks.blueprints import BLUEPRINTS
from stacks.blueprints.model import Blueprint
from stacks.gcp.common import fit
from stacks.program import deploy
from tests.playbook_check import boot_vars
from tests.stacks.gcp.conftest import run, settings_for
from tests.stacks.harness import Registered, Run


@cache
def stack(app: str, env: str = "dev") -> Run:
    overrides: dict[str, Any] = {"env": env}
    if env == "prod":
        overrides["certificate"] = f"{app}.example.com"
        overrides["repoRef"] = "0123456789abcdef0123456789abcdef01234567"
    return run(lambda: deploy(settings_for(app, **overrides), f"gcp-{app}"))


TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
AUTOSCALER = "gcp:compute/regionAutoscaler:RegionAutoscaler"
SECRET_GRANT = "gcp:secretmanager/secretIamMember:SecretIamMember"
ACCESSOR = "roles/secretmanager.secretAccessor"


def account(app: str, tier: str) -> str:
    """The IAM member of a tier's service account in the dev stack of `app`."""
    return f"serviceAccount:{fit(f'{app}-dev-{tier}', 30)}@tierstack-dev.iam.gserviceaccount.com"


def app_blueprint(app: str) -> Blueprint:
    blueprint = BLUEPRINTS[app]()
    assert blueprint.app is not None, f"{app} has no app tier"
    return blueprint


def startup_vars(template: Registered) -> dict[str, Any]:
    """The vars.yml the bootstrap writes, parsed back out of the startup script."""
    script = template.inputs["metadata"]["startup-script"]
    return boot_vars(script)
