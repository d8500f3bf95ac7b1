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
from psycopg import sql

from reference_apps.backends import Settings
from reference_apps.backends.object_store import open_object_store
from reference_apps.backends.settings import parse_url
from reference_apps.backends.sql import open_database
from reference_apps.cloud_drive.storage import DriveService
from stacks.common.database_tls import HOST_CA_FILE
from tests.stacks.aws.support import SECRET_SIG


def provision(admin_dsn: str, database: str, user: str, password: str) -> None:
    """What the cloud creates: the login role with the generated password, and the database
    it owns (created again for each test: clouds share the name `drive`)."""
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(user), sql.Literal(password)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(database), sql.Identifier(user)
            )
        )


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
    endpoint: str,
    port: int,
    ca_file: Path,
    sslmode: str,
    database: str,
    user: str,
    tmp_path: Path,
) -> None:
    """The tier's settings, its password read through DATABASE_PASSWORD_REF, open the app's
    Database: cloud-drive's schema migration and a registration and login run against it, as
    the stack's user, in the stack's database, over TLS verified against the CA."""
    assert env.get("DATABASE_PASSWORD_REF"), "the tier gets no DATABASE_PASSWORD_REF"
    tier_env = {
        **env,
        "DATABASE_URL": local_url(env["DATABASE_URL"], endpoint, port, ca_file, sslmode),
    }
    settings = Settings.from_env("cloud-drive", tier_env, web="SECRET_KEY_REF" in env)
    db = open_database(settings.database_url)
    db.check()  # what /readyz runs
    objects = open_object_store(parse_url("OBJECT_STORE_URL", f"file://{tmp_path}", ("file",)))
    drive = DriveService(db, objects, 1024 * 1024)  # runs the app's schema migration
    user_row = drive.register("contract-user", "contract@example.org", "correct horse battery")
    assert drive.authenticate("contract-user", "correct horse battery") == user_row
    assert db.one("SELECT current_user AS who, current_database() AS name") == {
        "who": user,
        "name": database,
    }
    tls = db.one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert tls == {"ssl": True}
