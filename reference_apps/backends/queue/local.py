"""The embedded default: a durable queue in one SQLite file, for a single host."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from .._sqlite import connect, open_file, write_transaction
from .base import Message, Queue, decode

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, visible_at REAL NOT NULL,
    deliveries INTEGER NOT NULL DEFAULT 0, receipt TEXT, seq INTEGER);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (visible_at, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, deliveries INTEGER NOT NULL,
    dead_at REAL NOT NULL);
"""


class SqliteQueue(Queue):
    """A durable single-host queue in one SQLite file (``BEGIN IMMEDIATE`` serialises receivers)."""

    def __init__(self, path: Path, max_deliveries: int, visibility_timeout: float) -> None:
        super().__init__(max_deliveries, visibility_timeout)
        self.path = path
        open_file(path, SCHEMA).close()

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        message_id = uuid.uuid4().hex
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO messages (id, body, visible_at, seq) VALUES (?, ?, ?,"
                " (SELECT coalesce(max(seq), 0) + 1 FROM messages))",
                (message_id, payload, time.time()),
            )
        return message_id

    def _receive_once(self, wait: float) -> Message | None:
        with closing(self._connect()) as connection, write_transaction(connection):
            while True:
                row = connection.execute(
                    "SELECT id, body, deliveries FROM messages WHERE visible_at <= ?"
                    " ORDER BY seq LIMIT 1",
                    (time.time(),),
                ).fetchone()
                if row is None:
                    return None
                message_id, body, deliveries = row
                if deliveries >= self.max_deliveries:
                    connection.execute(
                        "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?)",
                        (message_id, body, deliveries, time.time()),
                    )
                    connection.execute("DELETE FROM messages WHERE id = ?", (message_id,))
                    continue
                receipt = uuid.uuid4().hex
                connection.execute(
                    "UPDATE messages SET deliveries = deliveries + 1, receipt = ?, visible_at = ?"
                    " WHERE id = ?",
                    (receipt, time.time() + self.visibility_timeout, message_id),
                )
                return Message(message_id, decode(body), deliveries + 1, receipt)

    def ack(self, message: Message) -> None:
        with self._connect() as connection:
            connection.execute(
                "DELETE FROM messages WHERE id = ? AND receipt = ?", (message.id, message.receipt)
            )

    def release(self, message: Message) -> None:
        with self._connect() as connection:
            connection.execute(
                "UPDATE messages SET visible_at = ? WHERE id = ? AND receipt = ?",
                (time.time(), message.id, message.receipt),
            )

    def dead_letters(self) -> list[Any]:
        with self._connect() as connection:
            rows = connection.execute("SELECT body FROM dead_letters ORDER BY dead_at").fetchall()
        return [decode(body) for (body,) in rows]

    def check(self) -> None:
        with self._connect() as connection:
            connection.execute("SELECT 1 FROM messages LIMIT 1")
