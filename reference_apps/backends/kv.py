"""Key-value tables for small JSON records (job status, image metadata).

Values are JSON objects. ``put`` replaces, ``update`` merges fields into an existing item; both are
idempotent, which is what lets a redelivered job be processed again safely.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import closing
from functools import cached_property
from pathlib import Path
from typing import Any

from ._sqlite import connect, open_file, write_transaction
from .resilience import AZURE_CLIENT_OPTIONS, boto_config, guard_methods
from .settings import BackendUrl, sqlite_path

Item = dict[str, Any]
Change = Callable[[Item | None], Item]
"""Computes the new item from the current one (``None`` when absent); see ``transform``."""


class KeyValue(ABC):
    """The key-value interface every implementation follows."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every adapter's calls raise DependencyDown when the service is unreachable."""
        super().__init_subclass__(**kwargs)
        guard_methods(cls, "kv")

    @abstractmethod
    def get(self, key: str) -> Item | None:
        """The item, or ``None``."""

    @abstractmethod
    def put(self, key: str, item: Item) -> None:
        """Create or replace the item."""

    def update(self, key: str, fields: Item) -> Item:
        """Merge ``fields`` into the item (creating it) and return the result."""
        item = {**(self.get(key) or {}), **fields}
        self.put(key, item)
        return item

    def transform(self, key: str, change: Change) -> Item:
        """Replace the item by ``change(item)`` and return it: read-modify-write for counters.

        SQLite and PostgreSQL hold a lock from the read to the write, so concurrent workers never
        lose an update; the other stores read then write (last writer wins). ``change`` may run
        more than once and must not have side effects.
        """
        item = change(self.get(key))
        self.put(key, item)
        return item

    def transform_many(self, changes: dict[str, Change]) -> dict[str, Item]:
        """``transform`` of several keys; SQLite and PostgreSQL do all of them in one
        transaction (one commit), locking the keys in sorted order so workers cannot deadlock."""
        return {key: self.transform(key, changes[key]) for key in sorted(changes)}

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the item; a missing item is not an error."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the table cannot be reached (used by /readyz)."""


SQLITE_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);"


class SqliteKeyValue(KeyValue):
    """One SQLite file; fine for a single host."""

    def __init__(self, path: Path) -> None:
        self.path = path
        open_file(path, SQLITE_SCHEMA).close()

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, autocommit=False)

    def get(self, key: str) -> Item | None:
        with self._connect() as connection:
            row = connection.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, item: Item) -> None:
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(item)),
            )

    def update(self, key: str, fields: Item) -> Item:
        with self._connect() as connection:
            connection.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
                " SET value = json_patch(kv.value, excluded.value)",
                (key, json.dumps(fields)),
            )
            row = connection.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0])

    def transform(self, key: str, change: Change) -> Item:
        return self.transform_many({key: change})[key]

    def transform_many(self, changes: dict[str, Change]) -> dict[str, Item]:
        items = {}
        with closing(connect(self.path)) as connection, write_transaction(connection):
            for key in sorted(changes):
                row = connection.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
                items[key] = changes[key](json.loads(row[0]) if row else None)
                connection.execute(
                    "INSERT INTO kv (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(items[key])),
                )
        return items

    def delete(self, key: str) -> None:
        with self._connect() as connection:
            connection.execute("DELETE FROM kv WHERE key = ?", (key,))

    def check(self) -> None:
        with self._connect() as connection:
            connection.execute("SELECT 1 FROM kv LIMIT 1")


class PostgresKeyValue(KeyValue):
    """A ``jsonb`` table shared by every app server and worker; ``update`` merges atomically."""

    def __init__(self, dsn: str, table: str) -> None:
        from ._pg import PgConnections

        self.table = table
        self.db = PgConnections(dsn)
        with self.db.transaction() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"kv:{table}",))
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (key text PRIMARY KEY, value jsonb NOT NULL,"
                " updated_at timestamptz NOT NULL DEFAULT now())"
            )

    def get(self, key: str) -> Item | None:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT value FROM {self.table} WHERE key = %s", (key,))
            row = cursor.fetchone()
        return row["value"] if row else None

    def put(self, key: str, item: Item) -> None:
        from psycopg.types.json import Jsonb

        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {self.table} (key, value) VALUES (%s, %s) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value, updated_at = now()",
                (key, Jsonb(item)),
            )

    def update(self, key: str, fields: Item) -> Item:
        from psycopg.types.json import Jsonb

        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT INTO {self.table} AS t (key, value) VALUES (%s, %s) ON CONFLICT (key)"
                " DO UPDATE SET value = t.value || excluded.value, updated_at = now()"
                " RETURNING value",
                (key, Jsonb(fields)),
            )
            return cursor.fetchone()["value"]

    def transform(self, key: str, change: Change) -> Item:
        return self.transform_many({key: change})[key]

    def transform_many(self, changes: dict[str, Change]) -> dict[str, Item]:
        from psycopg.types.json import Jsonb

        items = {}
        with self.db.transaction() as cursor:
            for key in sorted(changes):
                # Create the row first so that FOR UPDATE has something to lock.
                cursor.execute(
                    f"INSERT INTO {self.table} (key, value) VALUES (%s, 'null'::jsonb)"
                    " ON CONFLICT (key) DO NOTHING",
                    (key,),
                )
                cursor.execute(f"SELECT value FROM {self.table} WHERE key = %s FOR UPDATE", (key,))
                items[key] = changes[key](cursor.fetchone()["value"])
                cursor.execute(
                    f"UPDATE {self.table} SET value = %s, updated_at = now() WHERE key = %s",
                    (Jsonb(items[key]), key),
                )
        return items

    def delete(self, key: str) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(f"DELETE FROM {self.table} WHERE key = %s", (key,))

    def check(self) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(f"SELECT 1 FROM {self.table} LIMIT 1")


class DynamoKeyValue(KeyValue):
    """Amazon DynamoDB. The key attributes are the table's own (read once with DescribeTable), so
    the app cannot disagree with the stack that created the table; with a sort key, a key is
    ``<partition>#<sort>``. The item is one JSON attribute, so numbers keep their Python types.
    With ``ttl_attribute`` every write carries the epoch second DynamoDB's TTL deletes it at: the
    item's own value of that field if it is a number, else now + ``ttl_days``."""

    SEPARATOR = "#"

    def __init__(
        self,
        table: str,
        resource: Any = None,
        *,
        ttl_attribute: str | None = None,
        ttl_days: int | None = None,
    ) -> None:
        import boto3

        self.table = (resource or boto3.resource("dynamodb", config=boto_config())).Table(table)
        self.ttl_attribute = ttl_attribute
        self.ttl_days = ttl_days

    @cached_property
    def _key_names(self) -> tuple[str, str | None]:
        # Read at first use, not at start: an unreachable table makes /readyz fail, not the boot.
        schema = {part["KeyType"]: part["AttributeName"] for part in self.table.key_schema}
        return schema["HASH"], schema.get("RANGE")

    def _key(self, key: str) -> dict[str, str]:
        partition_key, sort_key = self._key_names
        if sort_key is None:
            return {partition_key: key}
        partition, separator, sort = key.partition(self.SEPARATOR)
        if not (separator and partition and sort):
            raise ValueError(
                f"invalid key {key!r}: table {self.table.name} is keyed by {partition_key} and"
                f" {sort_key}; use '<{partition_key}>{self.SEPARATOR}<{sort_key}>'"
            )
        return {partition_key: partition, sort_key: sort}

    def _expiry(self, item: Item) -> dict[str, int]:
        if not self.ttl_attribute:
            return {}
        own = item.get(self.ttl_attribute)
        if isinstance(own, int | float) and not isinstance(own, bool):
            return {self.ttl_attribute: int(own)}
        if self.ttl_days:
            return {self.ttl_attribute: int(time.time()) + self.ttl_days * 86400}
        return {}

    def get(self, key: str) -> Item | None:
        item = self.table.get_item(Key=self._key(key), ConsistentRead=True).get("Item")
        return json.loads(item["value"]) if item else None

    def put(self, key: str, item: Item) -> None:
        record = {**self._key(key), "value": json.dumps(item), **self._expiry(item)}
        self.table.put_item(Item=record)

    def delete(self, key: str) -> None:
        self.table.delete_item(Key=self._key(key))

    def check(self) -> None:
        self.table.load()


class FirestoreKeyValue(KeyValue):
    """Google Firestore: one document per key in one collection (``update`` merges server-side)."""

    def __init__(self, collection: str, client: Any = None, database: str = "(default)") -> None:
        if client is None:
            from google.cloud import firestore

            # One Firestore database per table lets IAM conditions name exactly that table.
            client = firestore.Client(database=database)
        self.collection = client.collection(collection)

    def get(self, key: str) -> Item | None:
        snapshot = self.collection.document(key).get()
        return snapshot.to_dict() if snapshot.exists else None

    def put(self, key: str, item: Item) -> None:
        self.collection.document(key).set(item)

    def update(self, key: str, fields: Item) -> Item:
        document = self.collection.document(key)
        document.set(fields, merge=True)
        return document.get().to_dict()

    def delete(self, key: str) -> None:
        self.collection.document(key).delete()

    def check(self) -> None:
        list(self.collection.limit(1).stream())


class AzureTableKeyValue(KeyValue):
    """Azure Table storage (or Cosmos DB Table API): partition ``kv``, row key = key, the item as
    one JSON property. A connection string (Azurite) or managed identity."""

    PARTITION = "kv"

    HOSTS = {"storage": "table.core.windows.net", "cosmos": "table.cosmos.azure.com"}

    def __init__(self, account: str, table: str, service: str = "storage") -> None:
        self.table = azure_table_client(account, table, service)

    def get(self, key: str) -> Item | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            entity = self.table.get_entity(self.PARTITION, key)
        except ResourceNotFoundError:
            return None
        return json.loads(entity["value"])

    def put(self, key: str, item: Item) -> None:
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": self.PARTITION, "RowKey": key, "value": json.dumps(item)}
        self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def delete(self, key: str) -> None:
        self.table.delete_entity(self.PARTITION, key)

    def check(self) -> None:
        next(iter(self.table.query_entities("PartitionKey eq 'kv'", results_per_page=1)), None)


def azure_table_client(account: str, table: str, service: str = "storage") -> Any:
    """A TableClient: Azurite's connection string when set (tests, local runs), otherwise the
    host's managed identity on the account's endpoint, so production needs no account key."""
    from azure.data.tables import TableServiceClient

    connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if connection:
        client = TableServiceClient.from_connection_string(connection, **AZURE_CLIENT_OPTIONS)
    else:
        from azure.identity import DefaultAzureCredential

        client = TableServiceClient(
            f"https://{account}.{AzureTableKeyValue.HOSTS[service]}",
            credential=DefaultAzureCredential(),
        )
    return client.get_table_client(table)


def open_kv(url: BackendUrl) -> KeyValue:
    """The table named by ``KV_URL``."""
    parts = url.path_parts
    if url.scheme == "sqlite":
        return SqliteKeyValue(sqlite_path(url))
    if url.scheme == "postgresql":
        from ._pg import dsn_without_query

        return PostgresKeyValue(dsn_without_query(url.raw), url.table("kv"))
    if url.scheme in {"dynamodb", "firestore"}:
        if not url.netloc or parts:
            noun = "table" if url.scheme == "dynamodb" else "collection"
            raise url.fail(f"use {url.scheme}://{noun}")
        if url.scheme == "firestore":
            return FirestoreKeyValue(url.netloc, database=url.query.get("database", "(default)"))
        ttl_days = url.query.get("ttl_days", "")
        if ttl_days and not (ttl_days.isdigit() and int(ttl_days) > 0):
            raise url.fail(f"ttl_days={ttl_days!r} must be a whole number of days above 0")
        return DynamoKeyValue(
            url.netloc,
            ttl_attribute=url.query.get("ttl") or None,
            ttl_days=int(ttl_days) if ttl_days else None,
        )
    service = url.query.get("service", "storage")
    if not url.netloc or len(parts) != 1 or service not in AzureTableKeyValue.HOSTS:
        raise url.fail("use aztable://account/table[?service=storage|cosmos]")
    return AzureTableKeyValue(url.netloc, parts[0], service)
