"""The time series on Azure Tables (the Azure stack's Cosmos DB Table account, or Azure Storage
tables; Azurite in tests).

Layout, chosen for the service's only index (PartitionKey, RowKey, ascending):

- one partition per device: readings under RowKey ``r_<inverted ts>_<id>``, window summaries
  under ``s_<inverted ts>_<id>`` and the device's counter entity ``~device`` (count, last
  reading). The inverted timestamp (``10**10 - ts``, fixed width) puts the newest first, so
  "the latest N" and a time range are one range scan ("log tail" pattern, Azure Table storage
  design patterns, learn.microsoft.com/azure/storage/tables/table-storage-design-patterns);
- alerts in the partition ``!alerts``, one ``!devices`` entity per device (the list the
  dashboard walks) and one ``!gateways`` entity per gateway. Device ids cannot hold ``!`` or
  ``~`` (readings.DEVICE_ID), so no device partition collides with these.

Idempotent on redelivery: an item's RowKey is derived from its id, and items are *created*: a
transaction that meets an existing entity fails as a whole, the existing keys are looked up and
the rest is committed again, so a reading written twice is one entity and the device's counter
counts it once (the counter moves in the same transaction as the readings, guarded by its ETag).

Entity group transactions hold at most 100 operations, all in one partition, 4 MiB in all
("Performing entity group transactions", learn.microsoft.com/rest/api/storageservices/
performing-entity-group-transactions): a device's items are committed 99 at a time plus its
counter. A string property holds at most 64 KiB (32 K UTF-16 characters; "Understanding the
Table service data model"): a larger item is refused as poison.

Expiry: neither Azure Storage tables nor the Cosmos DB Table API as the stack deploys it delete
items by age, so every entity carries ``expires_at`` (the blueprint's TTL attribute, a
timestamp) and the consumer's purge (``purge_expired``, every 10 minutes) deletes what is older
than the TTL: per partition, the expired entities are the tail of the range (inverted time), so
the sweep reads only what it deletes, never the whole table.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from ..backends.queue import PoisonMessage
from .timeseries import NewestFirstReads

TTL_ATTRIBUTE = "expires_at"
"""The blueprint's TTL attribute of the readings table (stacks/blueprints/iot_gateway.py)."""
MAX_OPERATIONS = 100
"""Operations in one entity group transaction."""
MAX_STRING_CHARS = 32 * 1024
"""A String property: up to 64 KiB, UTF-16."""
PREFIX = {"reading": "r_", "summary": "s_", "alert": "a_"}
COUNTER = "~device"
ALERTS, DEVICES, GATEWAYS = "!alerts", "!devices", "!gateways"
END = "_~~"
"""After every RowKey of one timestamp: escaped ids hold '~' only before two hex digits."""
_UNSAFE = re.compile(r"[^A-Za-z0-9:._-]")


def _escape(text: str) -> str:
    """Key-safe text: '/', '\\', '#', '?' and control characters are not allowed in keys."""
    return _UNSAFE.sub(lambda m: "".join(f"~{b:02x}" for b in m.group().encode()), text)


def _inverted(ts: float) -> str:
    return f"{10**10 - ts:017.6f}"


def _row_key(item: dict[str, Any]) -> str:
    return f"{PREFIX[item['kind']]}{_inverted(float(item['ts']))}_{_escape(item['id'])}"


def _moment(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


class AzureTableTimeSeries(NewestFirstReads):
    """Readings, summaries and alerts by device and time in one Azure table (see module doc)."""

    def __init__(self, table: Any, ttl_seconds: float) -> None:
        self.table = table
        self.ttl_seconds = ttl_seconds

    # -- writes -------------------------------------------------------------------------------
    def insert(self, items: list[dict[str, Any]]) -> int:
        """Store items not seen before; returns how many were new."""
        partitions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            partitions[ALERTS if item["kind"] == "alert" else item["device_id"]].append(item)
        new = 0
        for partition, group in partitions.items():
            entities = {}
            for item in sorted(group, key=_row_key):
                entities[_row_key(item)] = self._entity(partition, item)
            keys = list(entities)
            size = MAX_OPERATIONS - (0 if partition == ALERTS else 1)  # room for the counter
            for start in range(0, len(keys), size):
                chunk = [entities[key] for key in keys[start : start + size]]
                new += self._create(partition, chunk)
            if partition != ALERTS:
                self.table.upsert_entity({"PartitionKey": DEVICES, "RowKey": partition})
        return new

    def _entity(self, partition: str, item: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(item)
        if len(body) > MAX_STRING_CHARS:
            raise PoisonMessage(
                f"item {item['id'][:100]!r} is {len(body)} characters; an Azure table property"
                f" holds {MAX_STRING_CHARS}"
            )
        return {
            "PartitionKey": partition,
            "RowKey": _row_key(item),
            "kind": item["kind"],
            "ts": float(item["ts"]),
            "body": body,
            TTL_ATTRIBUTE: _moment(float(item["ts"]) + self.ttl_seconds),
        }

    def _create(self, partition: str, chunk: list[dict[str, Any]]) -> int:
        """Create the chunk's entities that do not exist yet, and move the device's counter by
        the readings among them, in one transaction; retried when a concurrent writer wins."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceNotFoundError
        from azure.data.tables import TableTransactionError, UpdateMode

        pending = chunk
        for _attempt in range(10):
            operations: list[Any] = [("create", entity) for entity in pending]
            readings = [e for e in pending if e["kind"] == "reading"]
            if readings and partition != ALERTS:
                try:
                    current = self.table.get_entity(partition, COUNTER)
                    counter, etag = dict(current), current.metadata["etag"]
                except ResourceNotFoundError:
                    counter, etag = {"PartitionKey": partition, "RowKey": COUNTER}, None
                newest = max(readings, key=lambda e: e["ts"])
                counter["readings"] = int(counter.get("readings", 0)) + len(readings)
                if float(counter.get("last_ts", float("-inf"))) < newest["ts"]:
                    counter["last_ts"], counter["last"] = newest["ts"], newest["body"]
                if etag is None:
                    operations.append(("create", counter))
                else:
                    operations.append(
                        (
                            "update",
                            counter,
                            {
                                "mode": UpdateMode.REPLACE,
                                "etag": etag,
                                "match_condition": MatchConditions.IfNotModified,
                            },
                        )
                    )
            if not operations:
                return 0
            try:
                self.table.submit_transaction(operations)
                return len(pending)
            except TableTransactionError as error:
                if error.error_code not in {"EntityAlreadyExists", "UpdateConditionNotSatisfied"}:
                    raise
            existing = self._existing(partition, [e["RowKey"] for e in pending])
            pending = [e for e in pending if e["RowKey"] not in existing]
        raise RuntimeError(f"partition {partition}: the counter kept changing under the writes")

    def _existing(self, partition: str, keys: list[str]) -> set[str]:
        """Which of ``keys`` exist: one range scan over the keys' span."""
        found = self.table.query_entities(
            "PartitionKey eq @p and RowKey ge @low and RowKey le @high",
            parameters={"p": partition, "low": min(keys), "high": max(keys)},
            select=["RowKey"],
        )
        wanted = set(keys)
        return {row["RowKey"] for row in found if row["RowKey"] in wanted}

    def record_gateway(self, gateway: str, status: dict[str, Any]) -> None:
        self.table.upsert_entity(
            {
                "PartitionKey": GATEWAYS,
                "RowKey": gateway,
                "body": json.dumps(status),
                "seen_at": time.time(),
            }
        )

    def purge_expired(self, now: float | None = None) -> int:
        """Delete every item older than the TTL: the tail of each device's reading and summary
        ranges and of the alerts; the device's counter goes down in the same transaction."""
        cutoff = _inverted((time.time() if now is None else now) - self.ttl_seconds)
        deleted = 0
        partitions = [row["RowKey"] for row in self._rows(DEVICES, None, None)]
        for partition in [*partitions, ALERTS]:
            for kind, prefix in PREFIX.items():
                if (partition == ALERTS) != (kind == "alert"):
                    continue
                low, high = prefix + cutoff + END, prefix + "~"
                keys = [row["RowKey"] for row in self._rows(partition, low, high)]
                for start in range(0, len(keys), MAX_OPERATIONS - 1):
                    chunk = keys[start : start + MAX_OPERATIONS - 1]
                    deleted += self._delete(partition, chunk, kind == "reading")
        return deleted

    def _delete(self, partition: str, keys: list[str], counted: bool) -> int:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceNotFoundError
        from azure.data.tables import TableTransactionError, UpdateMode

        for _attempt in range(10):
            operations: list[Any] = [
                ("delete", {"PartitionKey": partition, "RowKey": key}) for key in keys
            ]
            if counted:
                try:
                    entity = self.table.get_entity(partition, COUNTER)
                except ResourceNotFoundError:
                    entity = None
                if entity is not None:
                    counter = {**entity, "readings": max(0, int(entity["readings"]) - len(keys))}
                    options = {
                        "mode": UpdateMode.REPLACE,
                        "etag": entity.metadata["etag"],
                        "match_condition": MatchConditions.IfNotModified,
                    }
                    operations.append(("update", counter, options))
            try:
                self.table.submit_transaction(operations)
                return len(keys)
            except TableTransactionError as error:
                if error.error_code not in {"ResourceNotFound", "UpdateConditionNotSatisfied"}:
                    raise
            keys = sorted(self._existing(partition, keys)) if keys else []
            if not keys:
                return 0
        raise RuntimeError(f"partition {partition}: the counter kept changing under the purge")

    # -- reads --------------------------------------------------------------------------------
    def _rows(
        self, partition: str, low: str | None, high: str | None, limit: int | None = None
    ) -> Iterable[dict[str, Any]]:
        """Entities of a partition with ``low <= RowKey < high``, in RowKey order."""
        query, parameters = "PartitionKey eq @p", {"p": partition}
        if low is not None:
            query += " and RowKey ge @low"
            parameters["low"] = low
        if high is not None:
            query += " and RowKey lt @high"
            parameters["high"] = high
        rows = self.table.query_entities(
            query, parameters=parameters, results_per_page=min(limit or 1000, 1000)
        )
        for count, row in enumerate(rows):
            if limit is not None and count >= limit:
                return
            yield row

    def range(
        self,
        device_id: str,
        kind: str,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Items of a kind for a device with ``since <= ts < until``, newest first."""
        prefix = PREFIX[kind]
        partition = ALERTS if kind == "alert" else device_id
        # newest first: 'until' (exclusive) is the low key, 'since' (inclusive) the high one
        low = prefix + (_inverted(until) + END if until is not None else "")
        high = prefix + (_inverted(since) + END if since is not None else "~")
        rows = self._rows(partition, low, high, None if kind == "alert" else limit)
        items = [json.loads(row["body"]) for row in rows]
        if kind == "alert":
            items = [a for a in items if device_id in ("", a["device_id"])][:limit]
        return items

    def devices(self) -> list[dict[str, Any]]:
        from azure.core.exceptions import ResourceNotFoundError

        shown = []
        for row in self._rows(DEVICES, None, None):
            try:
                counter = self.table.get_entity(row["RowKey"], COUNTER)
            except ResourceNotFoundError:
                continue
            if not counter.get("readings"):
                continue  # every reading expired
            last = json.loads(counter["last"])
            shown.append(
                {
                    "device_id": row["RowKey"],
                    "readings": int(counter["readings"]),
                    "last_ts": last["ts"],
                    "last": last.get("metrics", {}),
                }
            )
        return shown

    def gateways(self) -> list[dict[str, Any]]:
        return [
            {"gateway": row["RowKey"], "seen_at": row["seen_at"], **json.loads(row["body"])}
            for row in self._rows(GATEWAYS, None, None)
        ]

    def count(self, kind: str) -> int:
        """How many items of a kind are stored (range scans: for tests and tools)."""
        if kind == "reading":
            return sum(device["readings"] for device in self.devices())
        partitions = (
            [ALERTS] if kind == "alert" else [r["RowKey"] for r in self._rows(DEVICES, None, None)]
        )
        prefix = PREFIX[kind]
        return sum(
            1 for partition in partitions for _ in self._rows(partition, prefix, prefix + "~")
        )

    def check(self) -> None:
        next(
            iter(self.table.query_entities("PartitionKey eq '!gateways'", results_per_page=1)), None
        )
