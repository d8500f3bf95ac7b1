"""The embedded defaults' SQLite files (key-value table, queue, the gateway's buffer) open the
same way: a folder only the app can read, write-ahead logging so that readers never wait for the
writer, and a 30 s wait for another process's write lock instead of an immediate error."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_WAIT_SECONDS = 30


def connect(
    path: Path, *, autocommit: bool = True, check_same_thread: bool = True
) -> sqlite3.Connection:
    """A connection that waits for the write lock; ``autocommit=False`` keeps sqlite3's implicit
    transactions (committed by ``with connection:``)."""
    return sqlite3.connect(
        path,
        timeout=LOCK_WAIT_SECONDS,
        isolation_level=None if autocommit else "",
        check_same_thread=check_same_thread,
    )


def open_file(path: Path, schema: str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """An autocommit connection to ``path``, its folder (owner-only) and ``schema`` created and
    the file switched to WAL (a setting the file keeps for every later connection)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    connection = connect(path, check_same_thread=check_same_thread)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.executescript(schema)
    return connection


@contextmanager
def write_transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE``: the write lock is taken before the reads, so that a read-modify-write
    cannot interleave with another writer's; rolled back on any error."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
