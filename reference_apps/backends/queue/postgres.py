"""The local target's shared queue, in PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .base import POLL_INTERVAL, Message, Queue, decode


class PostgresQueue(Queue):
    """A shared queue in PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` lets many workers
    receive concurrently without handing the same message to two of them."""

    def __init__(
        self, dsn: str, table: str, max_deliveries: int, visibility_timeout: float
    ) -> None:
        from .._pg import PgConnections

        super().__init__(max_deliveries, visibility_timeout)
        self.table = table
        self.db = PgConnections(dsn)
        with self.db.transaction() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"queue:{table}",))
            cursor.execute(
                f"""
                CREATE TABLE IF NOT EXISTS {table} (
                    id uuid PRIMARY KEY, seq bigserial, body text NOT NULL,
                    visible_at timestamptz NOT NULL DEFAULT now(),
                    deliveries integer NOT NULL DEFAULT 0, receipt uuid,
                    created_at timestamptz NOT NULL DEFAULT now());
                CREATE INDEX IF NOT EXISTS {table}_visible ON {table} (visible_at, seq);
                CREATE TABLE IF NOT EXISTS {table}_dead (
                    id uuid PRIMARY KEY, body text NOT NULL, deliveries integer NOT NULL,
                    dead_at timestamptz NOT NULL DEFAULT now());
                """
            )

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        message_id = uuid.uuid4()
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {self.table} (id, body) VALUES (%s, %s)", (message_id, payload)
            )
        return message_id.hex

    def _receive_once(self, wait: float) -> Message | None:
        batch = self._receive_batch(1)
        return batch[0] if batch else None

    def _receive_batch(self, limit: int) -> list[Message]:
        """Take up to ``limit`` visible messages from the head of the queue in one transaction
        (one commit). Exhausted ones met there go to the dead letters instead, and more are
        taken in their place; the sweep stops at the batch, so its cost does not grow with
        the depth of the queue."""
        rows: list[dict[str, Any]] = []
        with self.db.transaction() as cursor:
            while len(rows) < limit:
                cursor.execute(
                    f"""
                    WITH picked AS MATERIALIZED (
                        SELECT id, deliveries FROM {self.table} WHERE visible_at <= now()
                        ORDER BY visible_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED),
                    dead AS (
                        DELETE FROM {self.table}
                        WHERE id IN (SELECT id FROM picked WHERE deliveries >= %(max)s)
                        RETURNING id, body, deliveries),
                    buried AS (
                        INSERT INTO {self.table}_dead (id, body, deliveries)
                        SELECT id, body, deliveries FROM dead ON CONFLICT (id) DO NOTHING),
                    taken AS (
                        UPDATE {self.table} SET deliveries = deliveries + 1,
                            receipt = gen_random_uuid(),
                            visible_at = now() + make_interval(secs => %(timeout)s)
                        WHERE id IN (SELECT id FROM picked WHERE deliveries < %(max)s)
                        RETURNING id, body, deliveries, receipt, seq)
                    SELECT id, body, deliveries, receipt, seq FROM taken
                    UNION ALL SELECT NULL, NULL, NULL, NULL, NULL FROM dead
                    """,
                    {
                        "timeout": self.visibility_timeout,
                        "max": self.max_deliveries,
                        "limit": limit - len(rows),
                    },
                )
                answer = cursor.fetchall()
                rows.extend(row for row in answer if row["id"] is not None)
                if all(row["id"] is not None for row in answer):
                    break  # no dead letter among them: the visible messages are exhausted
        rows.sort(key=lambda row: row["seq"])
        return [
            Message(r["id"].hex, decode(r["body"]), r["deliveries"], r["receipt"]) for r in rows
        ]

    def ack(self, message: Message) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM {self.table} WHERE id = %s AND receipt = %s",
                (uuid.UUID(message.id), message.receipt),
            )

    def receive_many(self, limit: int, wait: float = 0) -> list[Message]:
        """One transaction per attempt: the dead-letter move and the whole batch together."""
        deadline = time.monotonic() + wait
        while True:
            batch = self._receive_batch(max(1, limit))
            if batch or time.monotonic() >= deadline:
                return batch
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))

    def ack_many(self, messages: list[Message]) -> None:
        if not messages:
            return
        with self.db.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM {self.table} AS t USING unnest(%s::uuid[], %s::uuid[]) AS a(id, r)"
                " WHERE t.id = a.id AND t.receipt = a.r",
                ([uuid.UUID(m.id) for m in messages], [m.receipt for m in messages]),
            )

    def release(self, message: Message) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET visible_at = now() WHERE id = %s AND receipt = %s",
                (uuid.UUID(message.id), message.receipt),
            )

    def dead_letters(self) -> list[Any]:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT body FROM {self.table}_dead ORDER BY dead_at")
            return [decode(row["body"]) for row in cursor.fetchall()]

    def check(self) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT 1 FROM {self.table} LIMIT 1")
