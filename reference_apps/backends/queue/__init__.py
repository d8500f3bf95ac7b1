"""Work queues with visibility timeout, acknowledgement and dead-lettering.

Semantics, identical for every implementation: ``receive`` hides a message for the visibility
timeout and counts a delivery; ``ack`` deletes it; ``release`` makes it visible again at once.
A message received more than ``max_deliveries`` times is moved to the dead-letter queue instead
of being handed out again, so a poison message cannot block a worker forever.

One module per kind of implementation: ``base`` (the interface), ``local`` (SQLite),
``postgres``, ``aws`` (SQS), ``gcp`` (Pub/Sub), ``azure`` (Service Bus and Queue Storage); a
cloud SDK is imported only when its queue is opened.
"""

from __future__ import annotations

from ..settings import BackendUrl, sqlite_path
from .aws import SqsQueue
from .azure import AzureStorageQueue, ServiceBusQueue
from .base import POLL_INTERVAL, Message, PoisonMessage, Queue, decode, job_id_of
from .gcp import PubSubQueue
from .local import SqliteQueue
from .postgres import PostgresQueue

__all__ = [
    "POLL_INTERVAL",
    "AzureStorageQueue",
    "Message",
    "PoisonMessage",
    "PostgresQueue",
    "PubSubQueue",
    "Queue",
    "ServiceBusQueue",
    "SqliteQueue",
    "SqsQueue",
    "decode",
    "job_id_of",
    "open_queue",
]


def open_queue(url: BackendUrl, max_deliveries: int, visibility_timeout: float) -> Queue:
    """The queue named by ``QUEUE_URL``."""
    args = (max_deliveries, visibility_timeout)
    parts = url.path_parts
    if url.scheme == "sqlite":
        return SqliteQueue(sqlite_path(url), *args)
    if url.scheme == "postgresql":
        from .._pg import dsn_without_query

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
