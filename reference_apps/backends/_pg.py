"""One PostgreSQL connection per thread, checked before reuse and re-established after a failure.

Gunicorn's sync workers and the queue worker are single-threaded, and the threaded dev server
gets one connection per thread, so no pool library is needed. What a pool's health check would
do is done here: a connection idle for a while is pinged before use (after a server restart or
failover its next statement would fail), and a transaction whose ``BEGIN`` fails on a dead
connection is begun again once on a new one (nothing had run yet, so the retry is safe).
TCP keepalives and a user timeout make a silently cut network fail in seconds, not minutes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from time import monotonic
from typing import Any

import psycopg
from psycopg.rows import dict_row

# A connection unused for this long is pinged before use.
CHECK_AFTER_SECONDS = 1.0
CONNECT_OPTIONS: dict[str, Any] = {
    "autocommit": True,
    "row_factory": dict_row,
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds unacknowledged before the socket fails
}


class PgConnections:
    """Thread-local autocommit connections to one database."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._local = threading.local()

    def connection(self) -> psycopg.Connection:
        """This thread's connection: reused while it answers, otherwise a new one."""
        connection: psycopg.Connection | None = getattr(self._local, "connection", None)
        if connection is not None and not self._usable(connection):
            connection.close()
            connection = None
        if connection is None:
            connection = psycopg.connect(self.dsn, **CONNECT_OPTIONS)
            self._local.connection = connection
        self._local.used = monotonic()
        return connection

    def _usable(self, connection: psycopg.Connection) -> bool:
        if connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return True  # inside a transaction: the statement will tell
        if monotonic() - getattr(self._local, "used", 0.0) < CHECK_AFTER_SECONDS:
            return True
        try:
            connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor]:
        """A cursor inside one transaction (committed on success, rolled back on error)."""
        with ExitStack() as stack:
            connection = self.begin(stack)
            yield stack.enter_context(connection.cursor())

    def begin(self, stack: ExitStack) -> psycopg.Connection:
        """Open a transaction on this thread's connection, registered on ``stack``; a dead
        connection is replaced once."""
        for attempt in range(2):
            connection = self.connection()
            try:
                stack.enter_context(connection.transaction())
            except psycopg.OperationalError:
                if attempt:
                    raise
                connection.close()
                continue
            return connection
        raise AssertionError("unreachable")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def dsn_without_query(raw: str) -> str:
    """The libpq URL minus our own ``?table=`` parameter (libpq rejects unknown ones)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(raw)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "table"]
    scheme = "postgresql"
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))
