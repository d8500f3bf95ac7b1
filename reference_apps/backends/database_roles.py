"""The app's own login role on a managed PostgreSQL server, made by its admin login.

The clouds create a server with one admin login (RDS's master user, Cloud SQL's API user, Flexible
Server's administrator), which may create roles and databases. The app must not connect as that
login: a SQL injection would then run with the admin's rights. The hosts of the tiers that use the
database run this step as root, once per converge and before the app starts:

    DATABASE_URL=postgresql://<app role>@<host>:<port>/<database>?sslmode=...  (the app's own URL)
    DATABASE_PASSWORD_REF=<reference>        the app role's password
    DATABASE_ADMIN_USER=<admin login>
    DATABASE_ADMIN_PASSWORD_REF=<reference>  the admin's password
    python -m reference_apps.backends.database_roles

It makes the app role a plain login (no superuser, no CREATEDB, no CREATEROLE, member of no
other role), hands it the database and what the admin owns in its public schema (tables an
earlier release made as the admin), and takes CONNECT on that database from PUBLIC, so no other
app's role on the same server gets in. It is idempotent: a second run changes nothing and says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

from .secrets import read_secret
from .settings import ConfigError

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


def main(env: Mapping[str, str] | None = None) -> int:
    """The converge step: prints `changed` or `ok`; a bad setting exits 2 with one line."""
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
            raise ConfigError(f"DATABASE_URL names the admin login {admin_user}: name the app's")
        changed = ensure_app_role(
            target,
            admin_user,
            read_secret("DATABASE_ADMIN_PASSWORD_REF", env["DATABASE_ADMIN_PASSWORD_REF"].strip()),
            read_secret("DATABASE_PASSWORD_REF", env["DATABASE_PASSWORD_REF"].strip()),
        )
    except ConfigError as error:
        print(f"database role: {error}", file=sys.stderr)
        return 2
    print("changed" if changed else "ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
