"""The relational database behind ``DATABASE_URL``: SQLite for one host, PostgreSQL otherwise.

Queries are written once with ``?`` placeholders and portable SQL; :class:`Database` translates
the placeholders for psycopg. Small on purpose: the apps need a handful of statements.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from .resilience import DependencyDown, is_outage
from .settings import BackendUrl, sqlite_path

Row = dict[str, Any]


class IntegrityError(Exception):
    """A unique or foreign-key constraint failed (e.g. a duplicate user name)."""


class Database:
    """A thin connection wrapper with the same API for SQLite and PostgreSQL.

    Every call raises :class:`DependencyDown` when the database cannot be reached; a read
    outside a transaction that meets a dead connection is tried once more on a new one.
    """

    def __init__(self, url: BackendUrl) -> None:
        self.kind = url.scheme
        self._local = threading.local()
        if self.kind == "sqlite":
            self.path: Path | None = sqlite_path(url)
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.pg: Any = None
        else:
            from ._pg import PgConnections, dsn_without_query

            self.path = None
            self.pg = PgConnections(dsn_without_query(url.raw))

    def _connection(self) -> Any:
        if self.pg is not None:
            return self.pg.connection()
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
        return connection

    def _sql(self, statement: str) -> str:
        return statement if self.kind == "sqlite" else statement.replace("?", "%s")

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """Run several statements atomically."""
        try:
            with self._transaction():
                self._local.depth = getattr(self._local, "depth", 0) + 1
                try:
                    yield self
                finally:
                    self._local.depth -= 1
        except DependencyDown:
            raise
        except Exception as error:
            if is_outage(error):
                raise DependencyDown("database", error) from error
            raise

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self.pg is not None:
            with ExitStack() as stack:
                self.pg.begin(stack)
                yield
            return
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; returns its rows as dicts (empty for statements without rows)."""
        try:
            return self._execute(statement, params)
        except DependencyDown:
            raise
        except Exception as error:
            if not is_outage(error):
                raise
            if self._retryable(statement):
                try:
                    return self._execute(statement, params)
                except Exception as again:
                    if is_outage(again):
                        raise DependencyDown("database", again) from again
                    raise
            raise DependencyDown("database", error) from error

    def _retryable(self, statement: str) -> bool:
        """A read outside a transaction may run again; a write might have committed."""
        return (
            self.pg is not None
            and not getattr(self._local, "depth", 0)
            and statement.lstrip().upper().startswith("SELECT")
            and " FOR UPDATE" not in statement.upper()
        )

    def _execute(self, statement: str, params: Sequence[Any]) -> list[Row]:
        import psycopg

        try:
            cursor = self._connection().execute(self._sql(statement), tuple(params))
        except (sqlite3.IntegrityError, psycopg.errors.IntegrityError) as error:
            raise IntegrityError(str(error)) from error
        if cursor.description is None:
            return []
        return [dict(row) for row in cursor.fetchall()]

    def one(self, statement: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row, or ``None``."""
        rows = self.execute(statement, params)
        return rows[0] if rows else None

    def script(self, statements: str) -> None:
        """Run a schema script (statements separated by ';')."""
        for statement in statements.split(";"):
            if statement.strip():
                self.execute(statement)

    def check(self) -> None:
        self.execute("SELECT 1")


def open_database(url: BackendUrl) -> Database:
    """The database named by ``DATABASE_URL``."""
    if url.scheme == "sqlite":
        sqlite_path(url)
    return Database(url)
