"""The app's own login role on a managed PostgreSQL server, made by its admin login.

The clouds create a server with one admin login (RDS's master user, Cloud SQL's API user, Flexible
Server's administrator), which may create roles and databases. The app must not connect as that
login: a SQL injection would then run with the admin's rights. The hosts of the tiers that use the
database run this step as root, once per converge and before the app starts:

    DATABASE_URL=postgresql://<app role>@<host>:<port>/<database>?sslmode=...  (the app's own URL)
    DATABASE_PASSWORD_REF=<reference>        the app role's password
    DATABASE_ADMIN_USER=<admin login>
    DATABASE_ADMIN_PASSWORD_REF=<reference>  the admin's password
    DATABASE_ROLE_WAIT=<seconds>             how long to wait for the server (default 60)
    python -m reference_apps.backends.database_roles

On a cloud VM this runs at first boot, possibly while the server is still being created. It
waits for the server (up to DATABASE_ROLE_WAIT seconds, with backoff) before reading any secret,
so a server that is not there yet never looks like a bad setting. If the server (or the secret
store) still does not answer, it prints one line on stderr, ``pending`` on stdout and exits 3:
the converge goes on, the reconverge timer tries again, and the app's readiness stays red until
its role exists. A wrong admin password, a missing database or a bad setting exit 2 with one line.

It makes the app role a plain login (no superuser, no CREATEDB, no CREATEROLE, member of no
other role), hands it the database and what the admin owns in its public schema (tables an
earlier release made as the admin), and takes CONNECT on that database from PUBLIC, so no other
app's role on the same server gets in. It is idempotent: a second run changes nothing and says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

from .resilience import Backoff
from .secrets import SecretUnavailable, read_secret
from .settings import ConfigError

PENDING_EXIT = 3
"""The exit code of a run that found no server (or secret store) to talk to within the wait: not
a failure of the converge, and nothing changed."""
DEFAULT_WAIT = 60.0
"""Seconds to wait for the server by default: a fresh VM often boots before its database is."""

SCRAM_ITERATIONS = 4096
"""PostgreSQL's own default (scram_iterations) for the verifier sent instead of the password."""


@dataclass(frozen=True)
class Target:
    """Where the app role lives: the app's DATABASE_URL split into its parts."""

    role: str
    database: str
    conninfo: str
    """The server's address and TLS settings without user, password or database."""

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        database = unquote(parts.path.lstrip("/"))
        if parts.scheme != "postgresql" or not parts.username or not database or parts.password:
            raise ConfigError(
                "DATABASE_URL must be postgresql://<app role>@<host>:<port>/<database> without a "
                "password"
            )
        params = {"host": parts.hostname or "", "port": str(parts.port or 5432)}
        for pair in parts.query.split("&"):
            if pair:
                key, _, value = pair.partition("=")
                params[key] = unquote(value)
        conninfo = psycopg.conninfo.make_conninfo(**params)
        return cls(unquote(parts.username), database, conninfo)

    @property
    def address(self) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        return f"{info.get('host')}:{info.get('port')}"

    def answers(self, timeout: float) -> bool:
        """Whether a server answers at the address (libpq's ping: no login, so no secret is
        needed; a server still starting up does not count)."""
        seconds = max(2, math.ceil(timeout))  # libpq's smallest connect_timeout
        info = psycopg.conninfo.make_conninfo(
            self.conninfo, dbname=self.database, connect_timeout=seconds
        )
        return psycopg.pq.PGconn.ping(info.encode()) == psycopg.pq.Ping.OK

    def why_not(self) -> str:
        """libpq's reason for not reaching the server (refused, timed out, certificate)."""
        conn = psycopg.pq.PGconn.connect(
            psycopg.conninfo.make_conninfo(
                self.conninfo, dbname=self.database, connect_timeout=2
            ).encode()
        )
        try:
            return _first_line(conn.get_error_message())
        finally:
            conn.finish()

    def connect(self, user: str, password: str, database: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            self.conninfo,
            user=user,
            password=password,
            dbname=database or self.database,
            autocommit=True,
            connect_timeout=10,
        )


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores (RFC 7677): sent instead of the password, so
    the server's statement log (log_statement=ddl on every cloud here) never holds the password."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    encode = base64.b64encode
    return (
        f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{encode(salt).decode()}"
        f"${encode(stored_key).decode()}:{encode(server_key).decode()}"
    )


def _logs_in(target: Target, password: str) -> bool:
    try:
        with target.connect(target.role, password):
            return True
    except psycopg.OperationalError:
        return False


def ensure_app_role(target: Target, admin_user: str, admin_password: str, password: str) -> bool:
    """Makes the app role and its database as the module docstring says; True if anything
    changed. Serialised by an advisory lock: every host of the tier runs it at once at boot."""
    role, database = sql.Identifier(target.role), sql.Identifier(target.database)
    if target.role == admin_user:
        raise ConfigError(f"DATABASE_URL names the admin login {admin_user}: name the app's role")
    changed = False
    password_works = _logs_in(target, password)
    with target.connect(admin_user, admin_password) as admin, admin.transaction():
        admin.execute("SELECT pg_advisory_xact_lock(hashtext('tierstack app role'))")
        found = admin.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles"
            " WHERE rolname = %s",
            (target.role,),
        ).fetchone()
        verifier = sql.Literal(scram_verifier(password))
        if found is None:
            admin.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
                ).format(role, verifier)
            )
            changed = True
        else:
            if found[0]:
                raise ConfigError(f"role {target.role} is a superuser: drop it and converge again")
            if found[1] or found[2] or not found[3] or not password_works:
                admin.execute(
                    sql.SQL("ALTER ROLE {} LOGIN NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                        role, verifier
                    )
                )
                changed = True
        # Member of nothing (a Cloud SQL API user, as earlier releases made it, is a member of
        # cloudsqlsuperuser, which may create roles and databases).
        for (granted,) in admin.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s",
            (target.role,),
        ).fetchall():
            admin.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(granted), role))
            changed = True
        # The admin must be able to act as the role to give it what the admin owns.
        member = admin.execute(
            "SELECT pg_has_role(current_user, %s, 'USAGE')", (target.role,)
        ).fetchone()
        if not (member and member[0]):
            admin.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(role))
        owner = admin.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
            (target.database,),
        ).fetchone()
        if owner is None:
            raise ConfigError(f"database {target.database} does not exist on the server")
        if owner[0] != target.role:
            admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, role))
            changed = True
        public = admin.execute(
            "SELECT has_database_privilege('public', %s, 'CONNECT')", (target.database,)
        ).fetchone()
        if public and public[0]:
            admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
            changed = True
        # Tables, views and sequences of their own that an earlier release made as the admin.
        for kind, schema, name in admin.execute(
            "SELECT c.relkind::text, n.nspname, c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relowner = (SELECT oid FROM pg_roles"
            " WHERE rolname = current_user) AND c.relkind IN ('r', 'p', 'v', 'm', 'S')"
            " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid"
            " AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))"
        ).fetchall():
            statement = (
                "ALTER SEQUENCE {} OWNER TO {}" if kind == "S" else "ALTER TABLE {} OWNER TO {}"
            )
            admin.execute(sql.SQL(statement).format(sql.Identifier(schema, name), role))
            changed = True
    return changed


def _first_line(text: str | bytes | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = (text or "").strip().splitlines()
    return lines[0].strip()[:300] if lines else "no reason given"


class Unreachable(Exception):
    """The server or the secret store did not answer: worth trying again, unlike a ConfigError.
    ``server`` says which, for the reason given when giving up."""

    def __init__(self, message: str, *, server: bool) -> None:
        super().__init__(message)
        self.server = server


def _attempt(
    target: Target, admin_user: str, admin_ref: str, password_ref: str, timeout: float
) -> bool:
    """One try: reach the server, then read the secrets, then make the role."""
    if not target.answers(timeout):
        raise Unreachable(f"the database server {target.address} does not answer", server=True)
    try:
        admin_password = read_secret("DATABASE_ADMIN_PASSWORD_REF", admin_ref)
        password = read_secret("DATABASE_PASSWORD_REF", password_ref)
    except SecretUnavailable as error:
        raise Unreachable(error.message, server=False) from None
    try:
        return ensure_app_role(target, admin_user, admin_password, password)
    except psycopg.OperationalError as error:
        # The server answered a moment ago: a refused login or a missing database, unless it
        # went away in between.
        if not target.answers(timeout):
            raise Unreachable(
                f"the database server {target.address} went away", server=True
            ) from None
        raise ConfigError(f"{admin_user} on {target.address}: {_first_line(str(error))}") from None
    except psycopg.Error as error:
        raise ConfigError(f"{admin_user} on {target.address}: {_first_line(str(error))}") from None


def converge(
    target: Target,
    admin_user: str,
    admin_ref: str,
    password_ref: str,
    wait: float,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """`_attempt` until it gets an answer or `wait` seconds have passed (then Unreachable)."""
    deadline = time.monotonic() + wait
    backoff = Backoff(first=0.5, cap=10.0)
    while True:
        remaining = deadline - time.monotonic()
        try:
            return _attempt(target, admin_user, admin_ref, password_ref, min(10.0, remaining))
        except Unreachable:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise
            sleep(min(backoff.delay(), remaining))
            backoff.failures += 1


def wait_setting(env: Mapping[str, str]) -> float:
    raw = env.get("DATABASE_ROLE_WAIT", "").strip()
    if not raw:
        return DEFAULT_WAIT
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= 3600:
        raise ConfigError(f"DATABASE_ROLE_WAIT={raw}: give seconds between 0 and 3600")
    return wait


def main(env: Mapping[str, str] | None = None) -> int:
    """The converge step: prints `changed` or `ok`; a bad setting, a refused login or a missing
    database exit 2 with one line; a server that does not answer in time prints `pending` and
    exits 3."""
    env = os.environ if env is None else env
    try:
        missing = [
            name
            for name in (
                "DATABASE_URL",
                "DATABASE_PASSWORD_REF",
                "DATABASE_ADMIN_USER",
                "DATABASE_ADMIN_PASSWORD_REF",
            )
            if not env.get(name, "").strip()
        ]
        if missing:
            raise ConfigError(f"set {', '.join(missing)}")
        target = Target.from_url(env["DATABASE_URL"])
        admin_user = env["DATABASE_ADMIN_USER"].strip()
        if target.role == admin_user:
            raise ConfigError(
                f"DATABASE_URL names the admin login {admin_user}: name the app's role"
            )
        wait = wait_setting(env)
        changed = converge(
            target,
            admin_user,
            env["DATABASE_ADMIN_PASSWORD_REF"].strip(),
            env["DATABASE_PASSWORD_REF"].strip(),
            wait,
        )
    except ConfigError as error:
        print(f"database role: {error.message}", file=sys.stderr)
        return 2
    except Unreachable as error:
        reason = f" ({target.why_not()})" if error.server else ""
        print(
            f"database role: pending after {wait:g} s: {error}{reason}; the next converge tries"
            " again",
            file=sys.stderr,
        )
        print("pending")
        return PENDING_EXIT
    print("changed" if changed else "ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
