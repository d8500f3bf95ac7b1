"""The app-role step (reference_apps.backends.database_roles) against a real PostgreSQL server
with TLS, run by an admin login with the rights the clouds give theirs (CREATEROLE, CREATEDB, not
superuser), with each cloud's admin login name and the blueprint's database."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from database_contract import OTHER_DATABASE, provision
from psycopg import sql

from reference_apps.backends import Settings
from reference_apps.backends.database_roles import PENDING_EXIT, Target, ensure_app_role, main
from reference_apps.backends.object_store import open_object_store
from reference_apps.backends.settings import parse_url
from reference_apps.backends.sql import open_database
from reference_apps.cloud_drive.storage import DriveService
from stacks.aws.relational_db import MASTER_USER
from stacks.azure.relational_db import ADMIN_LOGIN
from stacks.blueprints import BLUEPRINTS
from stacks.common.database_tls import app_role
from stacks.gcp.relational_db import ADMIN_USER
from tierstack.local.target import REPO

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


def closed_port() -> int:
    """A port nothing listens on (bound once and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_appearing_after(delay: float, upstream: int) -> Iterator[int]:
    """A port that refuses connections for `delay` seconds, then relays them to the real server
    on `upstream` byte for byte (TLS included): a database that is still being created when the
    VM boots."""
    port, stop = closed_port(), threading.Event()

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def serve() -> None:
        if stop.wait(delay):
            return
        with socket.create_server(("127.0.0.1", port)) as listener:
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                server = socket.create_connection(("127.0.0.1", upstream))
                for pair in ((client, server), (server, client)):
                    threading.Thread(target=pump, args=pair, daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(timeout=5)


def stored_secret(value: str) -> str:
    """A reference to a new secret in the AWS emulator holding `value`."""
    import boto3

    name = f"role-test-{uuid.uuid4().hex}"
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)
    return f"aws-secretsmanager://{name}"


def step_env(url: str, admin_ref: str, app_ref: str, wait: float) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "DATABASE_PASSWORD_REF": app_ref,
        "DATABASE_ADMIN_USER": MASTER_USER,
        "DATABASE_ADMIN_PASSWORD_REF": admin_ref,
        "DATABASE_ROLE_WAIT": str(wait),
    }


def test_an_unreachable_server_leaves_the_step_pending(
    postgres_tls, aws_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A VM that boots before its database: after the configured wait the step prints `pending`
    and exits 3 (the converge goes on) with one line naming the server, not a secret: the
    references here point at secrets that do not exist, and none is read before the server
    answers."""
    port = closed_port()
    url = app_url(port, postgres_tls.ca_file, SPEC.database, app_role(SPEC.database))
    missing = "aws-secretsmanager://no-such-secret"
    started = time.monotonic()
    assert main(step_env(url, missing, missing, wait=1)) == PENDING_EXIT == 3
    elapsed = time.monotonic() - started
    assert 1 <= elapsed < 6, elapsed
    out, err = capsys.readouterr()
    assert out == "pending\n"
    assert err.count("\n") == 1, err
    assert f"127.0.0.1:{port} does not answer" in err and "Connection refused" in err, err
    assert "secret" not in err, err


def run_step(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The step as root's converge runs it: its own process (libpq's ping holds this one's
    interpreter while it waits, so the relay below could not run beside it)."""
    return subprocess.run(
        [sys.executable, "-m", "reference_apps.backends.database_roles"],
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_server_that_comes_up_during_the_wait_gets_the_role(postgres_tls, aws_env: str) -> None:
    """The database becomes reachable two seconds into the wait: the step makes the role."""
    database, role = SPEC.database, app_role(SPEC.database)
    provision(postgres_tls.admin_dsn, database, MASTER_USER, ADMIN_PASSWORD)
    admin_ref, app_ref = stored_secret(ADMIN_PASSWORD), stored_secret(APP_PASSWORD)
    with server_appearing_after(2.0, postgres_tls.port) as port:
        url = app_url(port, postgres_tls.ca_file, database, role)
        started = time.monotonic()
        first = run_step(step_env(url, admin_ref, app_ref, wait=30))
        assert time.monotonic() - started >= 2.0
        assert (first.returncode, first.stdout, first.stderr) == (0, "changed\n", "")
        with Target.from_url(url).connect(role, APP_PASSWORD) as app:
            assert app.execute("SELECT current_user").fetchone() == (role,)
        again = run_step(step_env(url, admin_ref, app_ref, wait=30))
        assert (again.returncode, again.stdout) == (0, "ok\n")


def test_a_wrong_admin_password_or_a_missing_database_fails_at_once(
    postgres_tls, aws_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Waiting cannot fix these: exit 2 with one line, without using up the wait."""
    database, role = SPEC.database, app_role(SPEC.database)
    provision(postgres_tls.admin_dsn, database, MASTER_USER, ADMIN_PASSWORD)
    app_ref = stored_secret(APP_PASSWORD)
    url = app_url(postgres_tls.port, postgres_tls.ca_file, database, role)
    cases = [
        (url, stored_secret("not-the-password"), "password authentication failed"),
        (url.replace(f"/{database}?", "/no_such_db?"), stored_secret(ADMIN_PASSWORD), "no_such_db"),
    ]
    for case_url, admin_ref, reason in cases:
        started = time.monotonic()
        assert main(step_env(case_url, admin_ref, app_ref, wait=30)) == 2
        assert time.monotonic() - started < 10
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and reason in err, err
    with psycopg.connect(postgres_tls.admin_dsn) as root:
        assert root.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None


@pytest.mark.parametrize("wait", ["soon", "-1", "nan", "7200"])
def test_a_bad_wait_setting_exits_2(wait: str, capsys: pytest.CaptureFixture[str]) -> None:
    env = step_env("postgresql://drive_app@db:5432/drive", "x", "y", wait=0)
    assert main({**env, "DATABASE_ROLE_WAIT": wait}) == 2
    assert f"DATABASE_ROLE_WAIT={wait}" in capsys.readouterr().err
