"""postgres: one database and login role per app, reachable from the private network with
SCRAM passwords, and closed to the other apps' roles."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.hosts


def psql(host: Any, user: str, password: str, database: str, sql: str) -> Any:
    return host.run(
        f"PGPASSWORD={password} PGCONNECT_TIMEOUT=5 psql -h services -U {user} -d {database}"
        f" -tA -c {json.dumps(sql)}"
    )


def test_postgresql_runs_and_is_enabled(hosts: dict[str, Any]) -> None:
    service = hosts["services"].service("postgresql@15-main")
    assert service.is_running
    assert service.is_enabled
    assert hosts["services"].service("postgresql").is_enabled


def test_each_app_owns_its_database(hosts: dict[str, Any], target: Any) -> None:
    keys = target.secrets()
    for user in ("image_processing", "cloud_drive"):
        result = psql(
            hosts["services"],
            user,
            keys[f"{user}_db"],
            user,
            "select current_user || ' ' || current_database()",
        )
        assert result.rc == 0, result.stderr
        assert result.stdout.strip() == f"{user} {user}"


def test_an_app_cannot_open_another_apps_database(hosts: dict[str, Any], target: Any) -> None:
    keys = target.secrets()
    result = psql(
        hosts["services"],
        "image_processing",
        keys["image_processing_db"],
        "cloud_drive",
        "select 1",
    )
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr or "permission denied" in result.stderr


def test_a_wrong_password_is_refused(hosts: dict[str, Any]) -> None:
    result = psql(hosts["services"], "cloud_drive", "not-the-password", "cloud_drive", "select 1")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_passwords_are_stored_as_scram(hosts: dict[str, Any]) -> None:
    stored = (
        hosts["services"]
        .check_output(
            'psql -U postgres -tA -c "select rolpassword from pg_authid'
            " where rolname in ('image_processing', 'cloud_drive')\""
        )
        .splitlines()
    )
    assert len(stored) == 2
    assert all(value.startswith("SCRAM-SHA-256$") for value in stored)


def test_config_files_are_private(hosts: dict[str, Any]) -> None:
    hba = hosts["services"].file("/etc/postgresql/15/main/pg_hba.conf")
    assert (hba.user, hba.group, hba.mode) == ("postgres", "postgres", 0o640)
