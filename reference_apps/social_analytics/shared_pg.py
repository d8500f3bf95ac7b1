"""The consumer's path when the queue and the key-value table are tables of one PostgreSQL
database (the local target's services host): a batch's minute items, hour items and ack commit
together, in one transaction of four statements (five when an envelope holds a refused post: its
dead letter is written in the same transaction, once).

Nothing is weakened by merging them: a crash before the commit leaves neither counts nor ack, so the
batch comes again and is counted once; a crash after it leaves both. The minute items still list the
ids of the messages (envelopes) they counted, so a delivery whose receipt went stale (its visibility
timeout ran out and another consumer took it) is counted once by whichever consumer commits first,
and the other one finds its envelope ids already there. Keys are locked in sorted order in one
statement, so consumers on this path, or on the generic one (``KeyValue.transform_many``), cannot
deadlock.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from ..backends import KeyValue, Message, Queue
from ..backends.kv import PostgresKeyValue
from ..backends.queue.postgres import PostgresQueue
from .aggregates import hour_changes, hour_of_minute_key, minute_changes
from .posts import Unit, rejection


def shared_database(queue: Queue | None, kv: KeyValue) -> bool:
    """Whether the queue and the table are in the same PostgreSQL database (same DSN)."""
    return (
        isinstance(queue, PostgresQueue)
        and isinstance(kv, PostgresKeyValue)
        and queue.db.dsn == kv.db.dsn
    )


def record_and_ack(
    queue: PostgresQueue, kv: PostgresKeyValue, units: list[Unit], messages: list[Message]
) -> int:
    """Score the posts of ``units``, add them to their minute and hour items, dead-letter their
    refused posts and delete ``messages`` (each with its own receipt) in one transaction.
    Returns the posts scored."""
    minutes = minute_changes(units)  # VADER runs before the transaction: no lock held meanwhile
    keys = sorted({*minutes, *(hour_of_minute_key(key) for key in minutes)})
    with kv.db.transaction() as cursor:
        # Create missing rows and lock every row, in key order, in one statement; the no-op
        # update is what makes ON CONFLICT lock an existing row and return its current value.
        cursor.execute(
            f"INSERT INTO {kv.table} AS t (key, value)"
            " SELECT key, 'null'::jsonb FROM unnest(%s::text[]) AS k(key) ORDER BY key"
            " ON CONFLICT (key) DO UPDATE SET value = t.value RETURNING key, value",
            (keys,),
        )
        current = {row["key"]: row["value"] for row in cursor.fetchall()}
        items = {key: change(current[key]) for key, change in minutes.items()}
        hours = hour_changes(list(items.values()))
        items.update({key: change(current[key]) for key, change in hours.items()})
        cursor.execute(
            f"UPDATE {kv.table} AS t SET value = v.value, updated_at = now()"
            " FROM jsonb_each(%s::jsonb) AS v(key, value) WHERE t.key = v.key",
            (json.dumps(items),),
        )
        bury(cursor, queue, units)
        acknowledge(cursor, queue, messages)
    return sum(len(unit.posts) for unit in units)


def bury(cursor: Any, queue: PostgresQueue, units: list[Unit]) -> None:
    """Write each refused post of an envelope straight into the dead letters, with an id
    derived from the envelope and the post's place in it: a redelivery adds no second one."""
    rows = [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{unit.id}#{index}")),
            "body": json.dumps(rejection(unit, index, error, post)),
        }
        for unit in units
        for index, error, post in unit.rejected
    ]
    if rows:
        cursor.execute(
            f"INSERT INTO {queue.table}_dead (id, body, deliveries)"
            " SELECT id, body, 0 FROM jsonb_to_recordset(%s::jsonb) AS r(id uuid, body text)"
            " ON CONFLICT (id) DO NOTHING",
            (json.dumps(rows),),
        )


def acknowledge(cursor: Any, queue: PostgresQueue, messages: list[Message]) -> None:
    """Delete the messages inside the caller's transaction; an old receipt deletes nothing. The
    pairs travel as one JSON parameter (a thousand uuids as two arrays cost more to encode)."""
    pairs = [{"id": message.id, "r": str(message.receipt)} for message in messages]
    cursor.execute(
        f"DELETE FROM {queue.table} AS t USING jsonb_to_recordset(%s::jsonb) AS a(id uuid, r uuid)"
        " WHERE t.id = a.id AND t.receipt = a.r",
        (json.dumps(pairs),),
    )
