"""The store-and-forward buffer: a SQLite file in WAL mode on the gateway's disk.

Items are written before they are acknowledged to anyone and deleted only after the uplink has
accepted them, so a lost link or a restart loses nothing; the cloud side drops duplicates by id.

Policy when full (``BUFFER_MAX_ITEMS``): the oldest *readings* are dropped first and counted
(``dropped_full``); window summaries and alerts are kept, so a long outage still leaves the cloud
the shape of what happened. If only summaries and alerts remain, the oldest of those go.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ..backends._sqlite import open_file, write_transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_kind ON items (kind, seq);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Buffer:
    """A bounded durable FIFO of JSON items, each with a unique id (a re-put is ignored)."""

    def __init__(self, path: Path, max_items: int) -> None:
        self.path = path
        self.max_items = max_items
        self._lock = threading.Lock()
        self._db = open_file(path, SCHEMA, check_same_thread=False)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._depth = self._db.execute("SELECT count(*) FROM items").fetchone()[0]

    def put_many(self, items: list[dict[str, Any]]) -> int:
        """Store items (each with ``id`` and ``kind``); returns how many were dropped to fit."""
        if not items:
            return 0
        with self._lock:
            try:
                with write_transaction(self._db):
                    before = self._db.total_changes
                    self._db.executemany(
                        "INSERT OR IGNORE INTO items (id, kind, body) VALUES (?, ?, ?)",
                        [(item["id"], item["kind"], json.dumps(item)) for item in items],
                    )
                    self._depth += self._db.total_changes - before
                    dropped = self._trim()
            except BaseException:
                self._depth = self._db.execute("SELECT count(*) FROM items").fetchone()[0]
                raise
            return dropped

    def _trim(self) -> int:
        excess = self._depth - self.max_items
        removed = 0
        for kinds in ("kind = 'reading'", "1 = 1"):
            if excess - removed <= 0:
                break
            cursor = self._db.execute(
                f"DELETE FROM items WHERE seq IN (SELECT seq FROM items WHERE {kinds}"
                " ORDER BY seq LIMIT ?)",
                (excess - removed,),
            )
            removed += cursor.rowcount
        self._depth -= removed
        return self._bump("dropped_full", removed) if removed else 0

    def _bump(self, name: str, by: int) -> int:
        self._db.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE"
            " SET value = value + excluded.value",
            (name, by),
        )
        return by

    def peek(self, limit: int) -> list[tuple[int, dict[str, Any]]]:
        """The oldest ``limit`` items with their sequence numbers (not removed)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, body FROM items ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        return [(seq, json.loads(body)) for seq, body in rows]

    def remove(self, seqs: list[int]) -> None:
        """Delete items the uplink has accepted."""
        with self._lock, write_transaction(self._db):
            cursor = self._db.executemany("DELETE FROM items WHERE seq = ?", [(s,) for s in seqs])
            self._depth -= cursor.rowcount
            self._bump("forwarded", cursor.rowcount)

    def depth(self) -> int:
        return self._depth

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT name, value FROM counters").fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()
