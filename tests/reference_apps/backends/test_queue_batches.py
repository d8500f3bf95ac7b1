"""Queue.receive_many / ack_many: each message of a batch behaves as if received and acked
alone (hidden, counted, deleted only with its own receipt), in fewer round trips on PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

from reference_apps.backends import Queue
from reference_apps.backends.queue import PostgresQueue, SqliteQueue


def batch_contract(queue: Queue) -> None:
    for number in range(5):
        queue.send({"n": number})
    first = queue.receive_many(3)
    rest = queue.receive_many(10)
    assert sorted(m.body["n"] for m in first) == [0, 1, 2]
    assert sorted(m.body["n"] for m in rest) == [3, 4]
    assert all(m.deliveries == 1 for m in [*first, *rest])
    assert queue.receive_many(10) == []
    queue.ack_many(first)
    queue.ack_many([])
    stale = rest[0]
    time.sleep(0.6)  # the visibility timeout: the unacked two come back
    again = queue.receive_many(10, wait=2)
    assert sorted(m.body["n"] for m in again) == [3, 4]
    assert all(m.deliveries == 2 for m in again)
    queue.ack_many([stale])  # an old receipt deletes nothing
    assert queue.receive() is None
    queue.ack_many(again)
    time.sleep(0.6)
    assert queue.receive_many(10) == []


def test_sqlite_batches(tmp_path: Path) -> None:
    batch_contract(SqliteQueue(tmp_path / "q.db", 5, 0.5))


def test_postgres_batches(postgres_dsn: str, fresh_pg_table: str) -> None:
    batch_contract(PostgresQueue(postgres_dsn, fresh_pg_table, 5, 0.5))
