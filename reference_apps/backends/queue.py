"""Work queues with visibility timeout, acknowledgement and dead-lettering.

Semantics, identical for every implementation: ``receive`` hides a message for the visibility
timeout and counts a delivery; ``ack`` deletes it; ``release`` makes it visible again at once.
A message received more than ``max_deliveries`` times is moved to the dead-letter queue instead
of being handed out again, so a poison message cannot block a worker forever.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .resilience import READ_TIMEOUT, azure_storage_options, boto_config, guard_methods
from .settings import BackendUrl, sqlite_path

POLL_INTERVAL = 0.2


@dataclass
class Message:
    """One delivery of a message; ``receipt`` identifies this delivery for ack/release."""

    id: str
    body: Any
    deliveries: int
    receipt: Any


def decode(raw: str | bytes) -> Any:
    """The JSON body, or the raw text when it is not JSON (a poison message the worker rejects)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


class Queue(ABC):
    """The queue interface every implementation follows."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every adapter's calls raise DependencyDown when the service is unreachable."""
        super().__init_subclass__(**kwargs)
        guard_methods(cls, "queue")

    def __init__(self, max_deliveries: int, visibility_timeout: float) -> None:
        self.max_deliveries = max_deliveries
        self.visibility_timeout = visibility_timeout

    @abstractmethod
    def send(self, body: Any) -> str:
        """Enqueue a JSON-serialisable body; returns the message id."""

    def send_raw(self, payload: str) -> str:
        """Enqueue a payload as-is (tests use it to send a malformed, poison message)."""
        raise NotImplementedError

    def receive(self, wait: float = 0) -> Message | None:
        """The next visible message, waiting up to ``wait`` seconds; ``None`` when there is none."""
        deadline = time.monotonic() + wait
        while True:
            message = self._receive_once(wait=max(0.0, deadline - time.monotonic()))
            if message is not None:
                return message
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))

    @abstractmethod
    def _receive_once(self, wait: float) -> Message | None: ...

    def receive_many(self, limit: int, wait: float = 0) -> list[Message]:
        """Up to ``limit`` messages: the first waits up to ``wait`` seconds, the rest are only
        those visible now. Same semantics as ``receive`` for each message."""
        first = self.receive(wait=wait)
        batch = [first] if first is not None else []
        while batch and len(batch) < limit and (message := self.receive()) is not None:
            batch.append(message)
        return batch

    def ack_many(self, messages: list[Message]) -> None:
        """``ack`` each message (one round trip where the queue allows it)."""
        for message in messages:
            self.ack(message)

    @abstractmethod
    def ack(self, message: Message) -> None:
        """Delete a message that has been processed."""

    @abstractmethod
    def release(self, message: Message) -> None:
        """Give a message back (visible again now), e.g. when the worker is stopping."""

    @abstractmethod
    def dead_letters(self) -> list[Any]:
        """Bodies in the dead-letter queue (for inspection and tests)."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the queue cannot be reached (used by /readyz)."""


class SqliteQueue(Queue):
    """A durable single-host queue in one SQLite file (``BEGIN IMMEDIATE`` serialises receivers)."""

    def __init__(self, path: Path, max_deliveries: int, visibility_timeout: float) -> None:
        super().__init__(max_deliveries, visibility_timeout)
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(
                """
                CREATE TABLE IF NOT EXISTS messages (
                    id TEXT PRIMARY KEY, body TEXT NOT NULL, visible_at REAL NOT NULL,
                    deliveries INTEGER NOT NULL DEFAULT 0, receipt TEXT, seq INTEGER);
                CREATE INDEX IF NOT EXISTS messages_visible ON messages (visible_at, seq);
                CREATE TABLE IF NOT EXISTS dead_letters (
                    id TEXT PRIMARY KEY, body TEXT NOT NULL, deliveries INTEGER NOT NULL,
                    dead_at REAL NOT NULL);
                """
            )

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA busy_timeout=30000")
        return connection

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
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            while True:
                row = connection.execute(
                    "SELECT id, body, deliveries FROM messages WHERE visible_at <= ?"
                    " ORDER BY seq LIMIT 1",
                    (time.time(),),
                ).fetchone()
                if row is None:
                    connection.execute("COMMIT")
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
                connection.execute("COMMIT")
                return Message(message_id, decode(body), deliveries + 1, receipt)
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

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


class PostgresQueue(Queue):
    """A shared queue in PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` lets many workers
    receive concurrently without handing the same message to two of them."""

    def __init__(
        self, dsn: str, table: str, max_deliveries: int, visibility_timeout: float
    ) -> None:
        from ._pg import PgConnections

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
        with self.db.transaction() as cursor:
            cursor.execute(
                f"""
                WITH dead AS (
                    DELETE FROM {self.table} WHERE id IN (
                        SELECT id FROM {self.table}
                        WHERE visible_at <= now() AND deliveries >= %(max)s
                        FOR UPDATE SKIP LOCKED)
                    RETURNING id, body, deliveries)
                INSERT INTO {self.table}_dead (id, body, deliveries)
                SELECT id, body, deliveries FROM dead ON CONFLICT (id) DO NOTHING
                """,
                {"max": self.max_deliveries},
            )
            cursor.execute(
                f"""
                UPDATE {self.table} SET deliveries = deliveries + 1, receipt = gen_random_uuid(),
                    visible_at = now() + make_interval(secs => %(timeout)s)
                WHERE id = (
                    SELECT id FROM {self.table}
                    WHERE visible_at <= now() AND deliveries < %(max)s
                    ORDER BY visible_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING id, body, deliveries, receipt
                """,
                {"timeout": self.visibility_timeout, "max": self.max_deliveries},
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return Message(row["id"].hex, decode(row["body"]), row["deliveries"], row["receipt"])

    def ack(self, message: Message) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM {self.table} WHERE id = %s AND receipt = %s",
                (uuid.UUID(message.id), message.receipt),
            )

    def receive_many(self, limit: int, wait: float = 0) -> list[Message]:
        first = self.receive(wait=wait)  # also moves exhausted messages to the dead letters
        if first is None or limit <= 1:
            return [first] if first is not None else []
        with self.db.transaction() as cursor:
            cursor.execute(
                f"""
                UPDATE {self.table} SET deliveries = deliveries + 1, receipt = gen_random_uuid(),
                    visible_at = now() + make_interval(secs => %(timeout)s)
                WHERE id IN (
                    SELECT id FROM {self.table}
                    WHERE visible_at <= now() AND deliveries < %(max)s
                    ORDER BY visible_at, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
                RETURNING id, body, deliveries, receipt
                """,
                {
                    "timeout": self.visibility_timeout,
                    "max": self.max_deliveries,
                    "limit": limit - 1,
                },
            )
            rows = cursor.fetchall()
        rest = [
            Message(r["id"].hex, decode(r["body"]), r["deliveries"], r["receipt"]) for r in rows
        ]
        return [first, *rest]

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


class SqsQueue(Queue):
    """Amazon SQS; the dead-letter queue is ``<name>-dlq`` (the stacks also set a redrive policy,
    which moves messages server-side with the same limit). The dead-letter queue is looked up
    only when a consumer first needs it, so a producer needs no grant on it."""

    def __init__(
        self, name: str, max_deliveries: int, visibility_timeout: float, client: Any = None
    ) -> None:
        import boto3

        super().__init__(max_deliveries, visibility_timeout)
        self.name = name
        self.client = client or boto3.client("sqs", config=boto_config(read_timeout=30))
        self.url = self.client.get_queue_url(QueueName=name)["QueueUrl"]

    @cached_property
    def dead_url(self) -> str:
        return self.client.get_queue_url(QueueName=f"{self.name}-dlq")["QueueUrl"]

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        return self.client.send_message(QueueUrl=self.url, MessageBody=payload)["MessageId"]

    def _receive_once(self, wait: float) -> Message | None:
        while True:
            response = self.client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=1,
                VisibilityTimeout=max(1, round(self.visibility_timeout)),
                WaitTimeSeconds=min(20, int(wait)),
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
            messages = response.get("Messages", [])
            if not messages:
                return None
            raw = messages[0]
            deliveries = int(raw["Attributes"]["ApproximateReceiveCount"])
            if deliveries <= self.max_deliveries:
                return Message(
                    raw["MessageId"], decode(raw["Body"]), deliveries, raw["ReceiptHandle"]
                )
            self.client.send_message(QueueUrl=self.dead_url, MessageBody=raw["Body"])
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=raw["ReceiptHandle"])

    def ack(self, message: Message) -> None:
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)

    def release(self, message: Message) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=message.receipt, VisibilityTimeout=0
        )

    def dead_letters(self) -> list[Any]:
        response = self.client.receive_message(
            QueueUrl=self.dead_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return [decode(raw["Body"]) for raw in response.get("Messages", [])]

    def check(self) -> None:
        self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])


class PubSubQueue(Queue):
    """Google Pub/Sub pull subscription; dead letters go to ``<topic>-dead-letter`` (read through
    ``<subscription>-dead-letter``). Delivery counts come from the subscription's dead-letter
    policy when set, otherwise from a per-process tally."""

    def __init__(
        self,
        project: str,
        topic: str,
        subscription: str,
        max_deliveries: int,
        visibility_timeout: float,
    ) -> None:
        from google.cloud import pubsub_v1

        super().__init__(max_deliveries, visibility_timeout)
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.topic = self.publisher.topic_path(project, topic)
        self.dead_topic = self.publisher.topic_path(project, f"{topic}-dead-letter")
        self.subscription = self.subscriber.subscription_path(project, subscription)
        self.dead_subscription = self.subscriber.subscription_path(
            project, f"{subscription}-dead-letter"
        )
        self._tally: dict[str, int] = {}

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        return self.publisher.publish(self.topic, payload.encode()).result(timeout=READ_TIMEOUT)

    def _receive_once(self, wait: float) -> Message | None:
        while True:
            response = self.subscriber.pull(
                request={"subscription": self.subscription, "max_messages": 1},
                timeout=max(wait, 5.0),
            )
            if not response.received_messages:
                return None
            received = response.received_messages[0]
            message_id = received.message.message_id
            deliveries = received.delivery_attempt or self._tally.get(message_id, 0) + 1
            self._tally[message_id] = deliveries
            if deliveries <= self.max_deliveries:
                self.subscriber.modify_ack_deadline(
                    request={
                        "subscription": self.subscription,
                        "ack_ids": [received.ack_id],
                        "ack_deadline_seconds": max(10, round(self.visibility_timeout)),
                    }
                )
                return Message(
                    message_id, decode(received.message.data), deliveries, received.ack_id
                )
            self.publisher.publish(self.dead_topic, received.message.data).result(
                timeout=READ_TIMEOUT
            )
            self.subscriber.acknowledge(
                request={"subscription": self.subscription, "ack_ids": [received.ack_id]}
            )
            self._tally.pop(message_id, None)

    def ack(self, message: Message) -> None:
        self.subscriber.acknowledge(
            request={"subscription": self.subscription, "ack_ids": [message.receipt]}
        )
        self._tally.pop(message.id, None)

    def release(self, message: Message) -> None:
        self.subscriber.modify_ack_deadline(
            request={
                "subscription": self.subscription,
                "ack_ids": [message.receipt],
                "ack_deadline_seconds": 0,
            }
        )

    def dead_letters(self) -> list[Any]:
        response = self.subscriber.pull(
            request={"subscription": self.dead_subscription, "max_messages": 10}, timeout=5
        )
        return [decode(item.message.data) for item in response.received_messages]

    def check(self) -> None:
        self.subscriber.get_subscription(
            request={"subscription": self.subscription}, timeout=READ_TIMEOUT
        )


class ServiceBusQueue(Queue):
    """Azure Service Bus queue in peek-lock mode; the entity's lock duration is the visibility
    timeout and its own dead-letter sub-queue receives poison messages."""

    def __init__(
        self,
        namespace: str,
        queue: str,
        max_deliveries: int,
        visibility_timeout: float,
        client: Any = None,
    ) -> None:
        from azure.servicebus import ServiceBusClient

        super().__init__(max_deliveries, visibility_timeout)
        if client is None:
            connection = os.environ.get("AZURE_SERVICEBUS_CONNECTION_STRING")
            if connection:
                client = ServiceBusClient.from_connection_string(connection)
            else:
                from azure.identity import DefaultAzureCredential

                client = ServiceBusClient(
                    f"{namespace}.servicebus.windows.net", credential=DefaultAzureCredential()
                )
        self.client = client
        self.queue = queue
        self.sender = client.get_queue_sender(queue)
        self.receiver = client.get_queue_receiver(queue)

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        from azure.servicebus import ServiceBusMessage

        message = ServiceBusMessage(payload, message_id=uuid.uuid4().hex)
        self.sender.send_messages(message)
        return message.message_id

    def _receive_once(self, wait: float) -> Message | None:
        while True:
            received = self.receiver.receive_messages(
                max_message_count=1, max_wait_time=max(wait, 1.0)
            )
            if not received:
                return None
            raw = received[0]
            if raw.delivery_count <= self.max_deliveries:
                return Message(raw.message_id, decode(str(raw)), raw.delivery_count, raw)
            self.receiver.dead_letter_message(
                raw,
                reason="MaxDeliveryCountExceeded",
                error_description=f"received {raw.delivery_count} times",
            )

    def ack(self, message: Message) -> None:
        self.receiver.complete_message(message.receipt)

    def release(self, message: Message) -> None:
        self.receiver.abandon_message(message.receipt)

    def dead_letters(self) -> list[Any]:
        from azure.servicebus import ServiceBusSubQueue

        with self.client.get_queue_receiver(
            self.queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER
        ) as receiver:
            return [decode(str(raw)) for raw in receiver.peek_messages(max_message_count=10)]

    def check(self) -> None:
        self.receiver.peek_messages(max_message_count=1)


class AzureStorageQueue(Queue):
    """Azure Queue Storage; poison messages go to ``<queue>-poison`` (the Azure Functions
    convention). A connection string (Azurite) or managed identity."""

    def __init__(
        self, account: str, queue: str, max_deliveries: int, visibility_timeout: float
    ) -> None:
        from azure.storage.queue import LinearRetry, QueueClient

        super().__init__(max_deliveries, visibility_timeout)
        connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")

        def client(name: str) -> QueueClient:
            if connection:
                return QueueClient.from_connection_string(
                    connection, name, **azure_storage_options(LinearRetry)
                )
            from azure.identity import DefaultAzureCredential

            return QueueClient(
                f"https://{account}.queue.core.windows.net",
                name,
                credential=DefaultAzureCredential(),
                **azure_storage_options(LinearRetry),
            )

        self.client = client(queue)
        self.dead = client(f"{queue}-poison")

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        return self.client.send_message(payload).id

    def _receive_once(self, wait: float) -> Message | None:
        while True:
            raw = self.client.receive_message(
                visibility_timeout=max(1, round(self.visibility_timeout))
            )
            if raw is None:
                return None
            if raw.dequeue_count <= self.max_deliveries:
                return Message(raw.id, decode(raw.content), raw.dequeue_count, raw.pop_receipt)
            self.dead.send_message(raw.content)
            self.client.delete_message(raw.id, raw.pop_receipt)

    def ack(self, message: Message) -> None:
        self.client.delete_message(message.id, message.receipt)

    def release(self, message: Message) -> None:
        self.client.update_message(message.id, message.receipt, visibility_timeout=0)

    def dead_letters(self) -> list[Any]:
        return [decode(raw.content) for raw in self.dead.peek_messages(max_messages=32)]

    def check(self) -> None:
        self.client.get_queue_properties()


def open_queue(url: BackendUrl, max_deliveries: int, visibility_timeout: float) -> Queue:
    """The queue named by ``QUEUE_URL``."""
    args = (max_deliveries, visibility_timeout)
    parts = url.path_parts
    if url.scheme == "sqlite":
        return SqliteQueue(sqlite_path(url), *args)
    if url.scheme == "postgresql":
        from ._pg import dsn_without_query

        return PostgresQueue(dsn_without_query(url.raw), url.table("jobs"), *args)
    if url.scheme == "sqs":
        if not url.netloc or parts:
            raise url.fail("use sqs://queue-name")
        return SqsQueue(url.netloc, *args)
    if url.scheme == "pubsub":
        if not url.netloc or len(parts) != 2:
            raise url.fail("use pubsub://project/topic/subscription")
        return PubSubQueue(url.netloc, parts[0], parts[1], *args)
    if not url.netloc or len(parts) != 1:
        owner = "namespace" if url.scheme == "servicebus" else "account"
        raise url.fail(f"use {url.scheme}://{owner}/queue")
    if url.scheme == "servicebus":
        return ServiceBusQueue(url.netloc, parts[0], *args)
    return AzureStorageQueue(url.netloc, parts[0], *args)
