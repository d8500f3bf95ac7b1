"""postgres: one database and login role per app, reachable from the private network with
SCRAM passwords, and closed to the other apps' roles."""

from __future__ import annotations

import json
import shlex
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
    # Back by itself after it stopped on a failure (tests/e2e/test_faults.py fills its disk).
    restart = hosts["services"].check_output(
        "systemctl show -p Restart -p RestartUSec --value postgresql@15-main"
    )
    assert restart.split() == ["on-failure", "5s"]


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


def test_app_roles_are_least_privilege(hosts: dict[str, Any]) -> None:
    rows = hosts["services"].check_output(
        'psql -U postgres -tA -F " " -c "select rolname, rolsuper, rolcreatedb, rolcreaterole,'
        " rolreplication, rolbypassrls, has_database_privilege(rolname, 'cloud_drive', 'CONNECT'),"
        " has_database_privilege(rolname, 'image_processing', 'CONNECT') from pg_roles"
        " where rolname in ('image_processing', 'cloud_drive') order by rolname\""
    )
    # Each role may connect to its own database only (the privilege, not just pg_hba).
    assert rows.splitlines() == [
        "cloud_drive f f f f f t f",
        "image_processing f f f f f f t",
    ]


def connect_from_app_host(
    host: Any, password: str, *, host_name: str, ca: str, extra: str = ""
) -> Any:
    """Connects from an app host the way the apps do (their virtualenv's psycopg, TLS verified
    with verify-full) and prints whether the session is encrypted."""
    conninfo = (
        f"host={host_name} port=5432 dbname=cloud_drive user=cloud_drive"
        f" sslmode=verify-full sslrootcert={ca} connect_timeout=5 {extra}"
    )
    script = (
        "import os, psycopg\n"
        "with psycopg.connect(os.environ['CONNINFO']) as c:\n"
        "    print(c.execute('select ssl from pg_stat_ssl where pid = pg_backend_pid()')"
        ".fetchone()[0])\n"
    )
    return host.run(
        f"PGPASSWORD={password} CONNINFO={shlex.quote(conninfo)}"
        f" /opt/tierstack/venv/bin/python -c {shlex.quote(script)}"
    )


def test_verify_full_succeeds_with_the_targets_ca(hosts: dict[str, Any], target: Any) -> None:
    result = connect_from_app_host(
        hosts["app1"],
        target.secrets()["cloud_drive_db"],
        host_name="services",
        ca="/etc/tierstack/database-ca.pem",
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_verify_full_fails_for_a_name_the_certificate_lacks(
    hosts: dict[str, Any], target: Any
) -> None:
    result = connect_from_app_host(
        hosts["app1"],
        target.secrets()["cloud_drive_db"],
        host_name="db.example.internal",
        ca="/etc/tierstack/database-ca.pem",
        extra=f"hostaddr={target.ip('services')}",
    )
    assert result.rc != 0
    assert 'does not match host name "db.example.internal"' in result.stderr


def test_verify_full_fails_without_the_targets_ca(hosts: dict[str, Any], target: Any) -> None:
    result = connect_from_app_host(
        hosts["app1"],
        target.secrets()["cloud_drive_db"],
        host_name="services",
        ca="/etc/ssl/certs/ca-certificates.crt",
    )
    assert result.rc != 0
    assert "certificate verify failed" in result.stderr


def test_app_roles_are_refused_without_tls(hosts: dict[str, Any], target: Any) -> None:
    password = target.secrets()["cloud_drive_db"]
    result = hosts["services"].run(
        f"PGPASSWORD={password} PGSSLMODE=disable PGCONNECT_TIMEOUT=5"
        " psql -h services -U cloud_drive -d cloud_drive -tA -c 'select 1'"
    )
    assert result.rc != 0
    assert "no encryption" in result.stderr


def test_the_apps_connect_with_verify_full(hosts: dict[str, Any]) -> None:
    env = hosts["app1"].file("/etc/tierstack/cloud-drive.env").content_string
    line = next(line for line in env.splitlines() if line.startswith("DATABASE_URL="))
    url = json.loads(line.split("=", 1)[1])
    assert url.startswith("postgresql://cloud_drive:")
    assert url.endswith(
        "@services:5432/cloud_drive?sslmode=verify-full&sslrootcert=/etc/tierstack/database-ca.pem"
    )
