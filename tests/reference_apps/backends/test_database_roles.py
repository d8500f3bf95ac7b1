"""The app-role step (reference_apps.backends.database_roles) against a real PostgreSQL server
with TLS, run by an admin login with the rights the clouds give theirs (CREATEROLE, CREATEDB, not
superuser), with each cloud's admin login name and the blueprint's database."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from database_contract import OTHER_DATABASE, provision
from psycopg import sql

from reference_apps.backends import Settings
from reference_apps.backends.database_roles import Target, ensure_app_role, main
from reference_apps.backends.object_store import open_object_store
from reference_apps.backends.settings import parse_url
from reference_apps.backends.sql import open_database
from reference_apps.cloud_drive.storage import DriveService
from stacks.aws.relational_db import MASTER_USER
from stacks.azure.relational_db import ADMIN_LOGIN
from stacks.blueprints import BLUEPRINTS
from stacks.common.database_tls import app_role
from stacks.gcp.relational_db import ADMIN_USER

ADMIN_PASSWORD = "admin-Pa55-word"
APP_PASSWORD = "app-Pa55-word"
[SPEC] = BLUEPRINTS["cloud-drive"]().databases


def app_url(port: int, ca_file: Path, database: str, role: str) -> str:
    return (
        f"postgresql://{role}@127.0.0.1:{port}/{database}?sslmode=verify-full&sslrootcert={ca_file}"
    )


@pytest.mark.parametrize("admin", [MASTER_USER, ADMIN_USER, ADMIN_LOGIN])
def test_app_role_runs_the_app_and_nothing_more(postgres_tls, admin: str, tmp_path: Path) -> None:
    """On a server as the cloud makes it (database_contract.provision: an admin login that may
    create roles and databases but is no superuser), after the step the app role migrates
    cloud-drive's schema and logs a user in over verified TLS; it is no superuser, cannot create
    roles or databases, and cannot connect to the server's other database (whose own step took
    CONNECT from PUBLIC), nor that app's role to this one; a second run changes nothing."""
    database, role = SPEC.database, app_role(SPEC.database)
    other = OTHER_DATABASE
    provision(postgres_tls.admin_dsn, database, admin, ADMIN_PASSWORD)
    url = app_url(postgres_tls.port, postgres_tls.ca_file, database, role)
    target = Target.from_url(url)
    # An earlier release ran the app as the admin: its tables move to the app role.
    with target.connect(admin, ADMIN_PASSWORD) as legacy:
        legacy.execute("CREATE TABLE legacy_rows (id serial PRIMARY KEY, note text)")
    assert ensure_app_role(target, admin, ADMIN_PASSWORD, APP_PASSWORD) is True
    assert ensure_app_role(target, admin, ADMIN_PASSWORD, APP_PASSWORD) is False
    other_target = Target.from_url(app_url(postgres_tls.port, postgres_tls.ca_file, other, "o_app"))
    assert ensure_app_role(other_target, admin, ADMIN_PASSWORD, "other-Pa55") is True

    env = {"DATABASE_URL": url.replace(f"{role}@", f"{role}:{APP_PASSWORD}@")}
    settings = Settings.from_env("cloud-drive", env, web=False)
    db = open_database(settings.database_url)
    objects = open_object_store(parse_url("OBJECT_STORE_URL", f"file://{tmp_path}", ("file",)))
    drive = DriveService(db, objects, 1024 * 1024)
    user = drive.register("role-user", "role@example.org", "correct horse battery")
    assert drive.authenticate("role-user", "correct horse battery") == user
    db.execute("INSERT INTO legacy_rows (note) VALUES ('kept')")

    with target.connect(role, APP_PASSWORD) as app:
        assert app.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False, False, False)
        assert app.execute(
            "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member"
            " WHERE r.rolname = current_user"
        ).fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("CREATE ROLE intruder LOGIN")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("CREATE DATABASE intruder")
        assert app.execute(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        ).fetchone() == (True,)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        target.connect(role, APP_PASSWORD, database=other)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        other_target.connect("o_app", "other-Pa55", database=database)


def test_the_step_changes_a_stale_password_and_strips_rights(postgres_tls) -> None:
    """A role left with another password, CREATEROLE and a membership (Cloud SQL's API users
    are members of cloudsqlsuperuser) is brought back to a plain login with the secret's
    password."""
    database, role, admin = SPEC.database, app_role(SPEC.database), ADMIN_USER
    provision(postgres_tls.admin_dsn, database, admin, ADMIN_PASSWORD)
    with psycopg.connect(postgres_tls.admin_dsn, autocommit=True) as root:
        root.execute("DROP ROLE IF EXISTS powerful")
        root.execute("CREATE ROLE powerful CREATEROLE")
        root.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD 'old' IN ROLE powerful").format(
                sql.Identifier(role)
            )
        )
        root.execute(
            sql.SQL("GRANT powerful TO {} WITH ADMIN OPTION").format(sql.Identifier(admin))
        )
    target = Target.from_url(app_url(postgres_tls.port, postgres_tls.ca_file, database, role))
    assert ensure_app_role(target, admin, ADMIN_PASSWORD, APP_PASSWORD) is True
    with target.connect(role, APP_PASSWORD) as app:
        assert app.execute(
            "SELECT rolcreaterole, pg_has_role(current_user, 'powerful', 'MEMBER') FROM pg_roles"
            " WHERE rolname = current_user"
        ).fetchone() == (False, False)


def test_bad_settings_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main({"DATABASE_URL": "postgresql://drive_app@db:5432/drive"}) == 2
    assert "set DATABASE_PASSWORD_REF, DATABASE_ADMIN_USER" in capsys.readouterr().err
    env = {
        "DATABASE_URL": "postgresql://tierstack@db:5432/drive",
        "DATABASE_PASSWORD_REF": "x",
        "DATABASE_ADMIN_USER": "tierstack",
        "DATABASE_ADMIN_PASSWORD_REF": "y",
    }
    assert main(env) == 2
    assert "names the admin login tierstack" in capsys.readouterr().err
