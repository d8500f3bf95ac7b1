"""Every role checks its variables against meta/argument_specs.yml before it touches a host:
a wrong or missing variable stops the play with a message that names it (checks only, on
localhost, nothing changed: see tests/playbook_check.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.playbook_check import check_role_variables, check_variables
from tierstack.local.target import REPO, describe_failure

ROLES = sorted(path.parent.parent.name for path in REPO.glob("roles/*/meta/argument_specs.yml"))

# The smallest set of variables each role accepts beyond its defaults.
VALID: dict[str, dict[str, Any]] = {
    "blueprint_host": {
        "tierstack_app": "cloud-drive",
        "tierstack_tier": "app",
        "python_app_env": {"DATABASE_URL": "postgresql://db/cloud_drive"},
    },
    "common": {},
    "load_balancer": {"load_balancer_apps": [{"name": "cloud-drive", "servers": ["app1:8002"]}]},
    "mail_sink": {},
    "mqtt_broker": {
        "mqtt_broker_devices": [
            {"name": "sensor-1", "password": "pw-1"},
            {
                "name": "gw-1",
                "password_ref": "gcp-secretmanager://projects/p/secrets/s/versions/latest",
            },
        ]
    },
    "object_store": {},
    "postgres": {},
    "python_app": {
        "python_app_apps": [
            {"name": "cloud-drive", "module": "m:app", "port": 8002, "env": {"A": "1"}}
        ]
    },
    "spark": {"spark_roles": ["master", "worker"]},
    "worker": {"worker_units": [{"name": "w", "module": "m", "env": {}}]},
}

# (role, variables that break it, what the message must say)
INVALID: list[tuple[str, dict[str, Any], str]] = [
    (
        "blueprint_host",
        {**VALID["blueprint_host"], "tierstack_tier": "database"},
        "value of blueprint_host_tier must be one of: app, worker, gateway, got: database",
    ),
    (
        "blueprint_host",
        {"tierstack_tier": "app", "python_app_env": {}},
        "'tierstack_app' is undefined",
    ),
    (
        "common",
        {"common_firewall_allow": [{"source": "10.0.0.0/8"}]},
        "missing required arguments: port found in common_firewall_allow",
    ),
    (
        "common",
        {"common_admin_users": [{"name": "ops"}]},
        "missing required arguments: authorized_keys found in common_admin_users",
    ),
    (
        "load_balancer",
        {**VALID["load_balancer"], "load_balancer_https_port": "https"},
        "argument 'load_balancer_https_port' is of type str and we were unable to convert to int",
    ),
    (
        "load_balancer",
        {"load_balancer_apps": [{"name": "cloud-drive"}]},
        "missing required arguments: servers found in load_balancer_apps",
    ),
    (
        "mail_sink",
        {"mail_sink_port": "smtp"},
        "argument 'mail_sink_port' is of type str and we were unable to convert to int",
    ),
    (
        "mqtt_broker",
        {"mqtt_broker_devices": [{"name": "sensor-1"}]},
        "one of the following is required: password, password_ref found in mqtt_broker_devices",
    ),
    (
        "mqtt_broker",
        {"mqtt_broker_users": [{"name": "bridge", "password": "pw", "password_ref": "x"}]},
        "parameters are mutually exclusive: password|password_ref found in mqtt_broker_users",
    ),
    (
        "mqtt_broker",
        {"mqtt_broker_devices": [{"name": "gw-1", "password_ref": "projects/p/secrets/s"}]},
        "password_ref must be gcp-secretmanager://projects/<project>/secrets/<id>/versions/",
    ),
    (
        "object_store",
        {"object_store_s3_port": [8333]},
        "argument 'object_store_s3_port' is of type list",
    ),
    (
        "postgres",
        {"postgres_databases": [{"name": "app", "owner": "app", "password": "pw-not-logged"}]},
        "missing required arguments: allowed_networks found in postgres_databases",
    ),
    (
        "python_app",
        {"python_app_apps": [{"name": "cloud-drive", "port": 8002}]},
        "missing required arguments: env, module found in python_app_apps",
    ),
    (
        "spark",
        {"spark_roles": ["driver"]},
        "value of spark_roles must be one or more of: master, worker. Got no match for: driver",
    ),
    (
        "worker",
        {"worker_units": [{"name": "w", "env": {}}]},
        "missing required arguments: module found in worker_units",
    ),
]


def test_every_role_has_a_case_of_each_kind() -> None:
    assert sorted(VALID) == ROLES
    assert {role for role, _, _ in INVALID} == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_valid_variables_pass_validation(role: str, tmp_path: Path) -> None:
    result = check_role_variables(role, VALID[role], tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    assert f"TASK [{role} : Validating arguments against arg spec" in result.stdout


@pytest.mark.parametrize(
    ("role", "variables", "message"),
    INVALID,
    ids=[f"{role}-{index}" for index, (role, _, _) in enumerate(INVALID)],
)
def test_wrong_or_missing_variables_stop_the_play_naming_them(
    role: str, variables: dict[str, Any], message: str, tmp_path: Path
) -> None:
    result = check_role_variables(role, variables, tmp_path)
    assert result.returncode != 0
    line = describe_failure(result.stdout, tmp_path / "converge.log")
    assert "\n" not in line
    assert line.startswith("converge failed on host localhost at task "), line
    assert message in line, line
    assert "pw-not-logged" not in result.stdout + result.stderr


BLUEPRINT_VARS = {
    "tierstack_app": "image-processing",
    "tierstack_tier": "worker",
    "tierstack_env": "dev",
    "python_app_env": {"QUEUE_URL": "postgresql://services/image_processing"},
}


def test_the_blueprint_playbook_checks_the_tiers_role(tmp_path: Path) -> None:
    result = check_variables(REPO / "playbooks/image-processing.yml", BLUEPRINT_VARS, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "TASK [worker : Validating arguments against arg spec" in result.stdout
    assert "TASK [python_app : Validating" not in result.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tierstack_tier": "database"}, "tierstack_tier (app, worker or gateway)"),
        ({"tierstack_env": "staging"}, "tierstack_env (dev or prod)"),
        ({"python_app_env": None}, "python_app_env (the app's environment)"),
    ],
)
def test_the_blueprint_playbook_refuses_bad_boot_variables(
    change: dict[str, Any], message: str, tmp_path: Path
) -> None:
    variables = {**BLUEPRINT_VARS, **change}
    variables = {key: value for key, value in variables.items() if value is not None}
    result = check_variables(REPO / "playbooks/image-processing.yml", variables, tmp_path)
    assert result.returncode != 0
    line = describe_failure(result.stdout, tmp_path / "check.log")
    assert "at task 'Check the blueprint variables'" in line
    assert message in line, line
