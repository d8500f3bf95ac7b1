"""The relational database behind ``DATABASE_URL``: SQLite for one host, PostgreSQL otherwise.

Queries are written once with ``?`` placeholders and portable SQL; :class:`Database` translates
the placeholders for psycopg. Small on purpose: the apps need a handful of statements.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .settings import BackendUrl, sqlite_path

Row = dict[str, Any]


class IntegrityError(Exception):
    """A unique or foreign-key constraint failed (e.g. a duplicate user name)."""


class Database:
    """A thin connection wrapper with the same API for SQLite and PostgreSQL."""

    def __init__(self, url: BackendUrl) -> None:
        self.kind = url.scheme
        self._local = threading.local()
        if self.kind == "sqlite":
            self.path: Path | None = sqlite_path(url)
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.dsn = ""
        else:
            from ._pg import dsn_without_query

            self.path = None
            self.dsn = dsn_without_query(url.raw)

    def _connect(self) -> Any:
        if self.kind == "sqlite":
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA journal_mode=WAL")
            return connection
        import psycopg
        from psycopg.rows import dict_row

        return psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row, connect_timeout=5)

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        broken = (
            connection is not None
            and self.kind != "sqlite"
            and (connection.closed or connection.broken)
        )
        if connection is None or broken:
            connection = self._connect()
            self._local.connection = connection
        return connection

    def _sql(self, statement: str) -> str:
        return statement if self.kind == "sqlite" else statement.replace("?", "%s")

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """Run several statements atomically."""
        connection = self._connection()
        if self.kind == "sqlite":
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        else:
            with connection.transaction():
                yield self

    def execute(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; returns its rows as dicts (empty for statements without rows)."""
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
