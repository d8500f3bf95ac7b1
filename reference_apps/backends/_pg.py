"""One PostgreSQL connection per thread, reconnected after a failure.

Gunicorn's sync workers and the queue worker are single-threaded, and the threaded dev server
gets one connection per thread, so no pool library is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row


class PgConnections:
    """Thread-local autocommit connections to one database."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._local = threading.local()

    def _connection(self) -> psycopg.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.broken:
            connection = psycopg.connect(
                self.dsn, autocommit=True, row_factory=dict_row, connect_timeout=5
            )
            self._local.connection = connection
        return connection

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor]:
        """A cursor inside one transaction (committed on success, rolled back on error)."""
        connection = self._connection()
        with connection.transaction(), connection.cursor() as cursor:
            yield cursor

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
