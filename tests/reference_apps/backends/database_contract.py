"""The relational database as the stack declares it, made real in a local PostgreSQL server with
TLS and password authentication, and the app's own schema and queries run there through the URL
and password reference the stack gives the tier. Each cloud's stack <-> app contract calls
:func:`database_contract` with the names and password from its stack's resolved inputs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from reference_apps.backends import Settings
from reference_apps.backends import secrets as secret_refs
from reference_apps.backends.database_roles import main as app_role_step
from reference_apps.backends.object_store import open_object_store
from reference_apps.backends.settings import parse_url
from reference_apps.backends.sql import open_database
from reference_apps.cloud_drive.storage import DriveService
from stacks.common.database_tls import HOST_CA_FILE, app_role
from tests.stacks.aws.support import SECRET_SIG

OTHER_DATABASE = "another_app"
"""A second database on the same server, another app's."""


def provision(admin_dsn: str, database: str, user: str, password: str) -> None:
    """What the cloud creates: its admin login with the generated password, which may create
    roles and databases but is no superuser (RDS's master user, Cloud SQL's API user, Flexible
    Server's administrator), the database it owns and another one (created again for each test:
    clouds share the name `drive`)."""
    with psycopg.connect(admin_dsn, autocommit=True) as root:
        for name in (database, OTHER_DATABASE):
            root.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        for name in (app_role(database), user):
            exists = root.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            if exists:  # an earlier test's login, and whatever it still owns
                root.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
                root.execute(
                    sql.SQL("REASSIGN OWNED BY {} TO postgres").format(sql.Identifier(name))
                )
                root.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
        root.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEROLE CREATEDB PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
        for name in (database, OTHER_DATABASE):
            root.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(user)
                )
            )
        # Another app's database, closed to PUBLIC by its own app-role step.
        root.execute(
            sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(
                sql.Identifier(OTHER_DATABASE)
            )
        )


def admin_step_env(role_vars: Mapping[str, Any]) -> dict[str, str]:
    """What blueprint_host hands root's app-role step, from the tier's vars.yml."""
    return {
        "DATABASE_ADMIN_USER": str(role_vars["blueprint_host_database_admin_user"]),
        "DATABASE_ADMIN_PASSWORD_REF": str(role_vars["blueprint_host_database_admin_password_ref"]),
    }


def revealed(value: Any) -> Any:
    """A Pulumi secret as the mocks record it ({<signature>: ..., "value": v}) -> v."""
    return value["value"] if isinstance(value, dict) and SECRET_SIG in value else value


def local_url(url: str, endpoint: str, port: int, ca_file: Path, sslmode: str) -> str:
    """The tier's DATABASE_URL with only its host and port (which must be the server's
    `endpoint`, host:port) pointed at the local server and its CA file at the test CA (which the
    hosts would hold at HOST_CA_FILE). The stack's own query must ask for `sslmode` against that
    host file."""
    parts = urlsplit(url)
    assert parts.scheme == "postgresql", url
    assert f"{parts.hostname}:{parts.port}" == endpoint, f"{url} does not name {endpoint}"
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    assert query == {"sslmode": sslmode, "sslrootcert": HOST_CA_FILE}, url
    assert parts.password is None, "DATABASE_URL must carry no password (the reference does)"
    netloc = f"{parts.username}@127.0.0.1:{port}"
    query["sslrootcert"] = str(ca_file)
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))


def database_contract(
    env: Mapping[str, str],
    *,
    admin: Mapping[str, str],
    endpoint: str,
    port: int,
    ca_file: Path,
    sslmode: str,
    database: str,
    user: str,
    tmp_path: Path,
) -> None:
    """Root's converge step (`admin`: the admin login and its password reference from the
    tier's vars.yml, read with the tier's identity) makes the app role that the tier's
    DATABASE_URL names; then the tier's settings, its password read through
    DATABASE_PASSWORD_REF, open the app's Database: cloud-drive's schema migration and a
    registration and login run against it, as the app role, in the stack's database, over TLS
    verified against the CA. That role is no superuser, may not create roles or databases and
    cannot connect to the server's other database. `user` is the admin login the cloud makes:
    the app's environment never names it."""
    assert env.get("DATABASE_PASSWORD_REF"), "the tier gets no DATABASE_PASSWORD_REF"
    assert urlsplit(env["DATABASE_URL"]).username == app_role(database), env["DATABASE_URL"]
    assert user != app_role(database), "the app role is the admin login"
    assert admin["DATABASE_ADMIN_PASSWORD_REF"] not in env.values(), "the app gets the admin's"
    tier_env = {
        **env,
        "DATABASE_URL": local_url(env["DATABASE_URL"], endpoint, port, ca_file, sslmode),
    }
    assert app_role_step({**tier_env, **admin}) == 0, "root's app-role step failed"
    settings = Settings.from_env("cloud-drive", tier_env, web="SECRET_KEY_REF" in env)
    db = open_database(settings.database_url)
    db.check()  # what /readyz runs
    objects = open_object_store(parse_url("OBJECT_STORE_URL", f"file://{tmp_path}", ("file",)))
    drive = DriveService(db, objects, 1024 * 1024)  # runs the app's schema migration
    user_row = drive.register("contract-user", "contract@example.org", "correct horse battery")
    assert drive.authenticate("contract-user", "correct horse battery") == user_row
    assert db.one("SELECT current_user AS who, current_database() AS name") == {
        "who": app_role(database),
        "name": database,
    }
    tls = db.one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert tls == {"ssl": True}
    assert db.one(
        "SELECT rolsuper AS s, rolcreaterole AS r, rolcreatedb AS d FROM pg_roles"
        " WHERE rolname = current_user"
    ) == {"s": False, "r": False, "d": False}
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        db.execute("CREATE ROLE intruder LOGIN")
    resolved = secret_refs.resolve_references(tier_env)["DATABASE_URL"]
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(resolved.replace(f"/{database}?", f"/{OTHER_DATABASE}?"))
