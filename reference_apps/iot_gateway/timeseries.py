"""The time-series table behind ``KV_URL``: readings, window summaries and alerts by device and
time, with an expiry, and the last status each gateway sent.

The shared key-value adapters have no range queries, which a time series needs, so this table has
its own small adapter on the same URL: SQLite (one host) and PostgreSQL (the local target's
services host) through :class:`reference_apps.backends.Database`, DynamoDB with the
blueprint's key schema (partition ``device_id``, string sort key ``ts``, TTL ``expires_at``),
Azure Tables (``timeseries_azure``) and Firestore (``timeseries_firestore``).
Every item is keyed by its id, so a redelivered batch inserts nothing twice.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Union

from ..backends.settings import BackendUrl, ConfigError
from ..backends.sql import Database

if TYPE_CHECKING:
    from .timeseries_azure import AzureTableTimeSeries
    from .timeseries_firestore import FirestoreTimeSeries

KINDS = ("reading", "summary", "alert")


class NewestFirstReads:
    """``recent`` and ``alerts`` for the adapters whose ``range`` reads newest first with a
    limit (Azure Tables, Firestore): written once, over their own ``range``."""

    def range(
        self,
        device_id: str,
        kind: str,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        raise NotImplementedError

    def recent(self, device_id: str, kind: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` items of a kind for a device, oldest first."""
        return list(reversed(self.range(device_id, kind, limit=limit)))

    def alerts(self, limit: int) -> list[dict[str, Any]]:
        return self.range("", "alert", limit=limit)


class TimeSeries:
    def __init__(self, url: BackendUrl, ttl_seconds: float) -> None:
        self.table = url.table("readings")
        self.ttl_seconds = ttl_seconds
        self.db = Database(url)
        t = self.table
        with self.db.transaction():
            if self.db.kind == "postgresql":
                self.db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (f"ts:{t}",))
            self.db.script(
                f"""
                CREATE TABLE IF NOT EXISTS {t} (
                    id TEXT PRIMARY KEY, device_id TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL,
                    kind TEXT NOT NULL, body TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL);
                CREATE INDEX IF NOT EXISTS {t}_by_device ON {t} (device_id, kind, ts);
                CREATE INDEX IF NOT EXISTS {t}_by_kind ON {t} (kind, ts);
                CREATE TABLE IF NOT EXISTS {t}_gateways (
                    id TEXT PRIMARY KEY, status TEXT NOT NULL, seen_at DOUBLE PRECISION NOT NULL)
                """
            )

    def insert(self, items: list[dict[str, Any]]) -> int:
        """Store items not seen before; returns how many were new."""
        if not items:
            return 0
        rows: list[Any] = []
        for item in items:
            rows += [
                item["id"],
                item["device_id"],
                float(item["ts"]),
                item["kind"],
                json.dumps(item),
                float(item["ts"]) + self.ttl_seconds,
            ]
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(items))
        inserted = self.db.execute(
            f"INSERT INTO {self.table} (id, device_id, ts, kind, body, expires_at)"
            f" VALUES {values} ON CONFLICT (id) DO NOTHING RETURNING id",
            rows,
        )
        return len(inserted)

    def record_gateway(self, gateway: str, status: dict[str, Any]) -> None:
        self.db.execute(
            f"INSERT INTO {self.table}_gateways (id, status, seen_at) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status, seen_at = excluded.seen_at",
            (gateway, json.dumps(status), time.time()),
        )

    def purge_expired(self, now: float | None = None) -> int:
        rows = self.db.execute(
            f"DELETE FROM {self.table} WHERE expires_at < ? RETURNING id",
            (time.time() if now is None else now,),
        )
        return len(rows)

    # -- reads for the API --------------------------------------------------------------------
    def devices(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            f"SELECT device_id, count(*) AS readings, max(ts) AS last_ts FROM {self.table}"
            " WHERE kind = 'reading' GROUP BY device_id ORDER BY device_id"
        )
        latest = {
            row["device_id"]: json.loads(row["body"])
            for row in self.db.execute(
                f"SELECT r.device_id, r.body FROM {self.table} r JOIN (SELECT device_id,"
                f" max(ts) AS ts FROM {self.table} WHERE kind = 'reading' GROUP BY device_id) m"
                " ON r.device_id = m.device_id AND r.ts = m.ts WHERE r.kind = 'reading'"
            )
        }
        return [
            {
                "device_id": row["device_id"],
                "readings": int(row["readings"]),
                "last_ts": row["last_ts"],
                "last": latest.get(row["device_id"], {}).get("metrics", {}),
            }
            for row in rows
        ]

    def recent(self, device_id: str, kind: str, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` items of a kind for a device, oldest first."""
        rows = self.db.execute(
            f"SELECT body FROM {self.table} WHERE device_id = ? AND kind = ?"
            " ORDER BY ts DESC LIMIT ?",
            (device_id, kind, limit),
        )
        return [json.loads(row["body"]) for row in reversed(rows)]

    def alerts(self, limit: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            f"SELECT body FROM {self.table} WHERE kind = 'alert' ORDER BY ts DESC LIMIT ?",
            (limit,),
        )
        return [json.loads(row["body"]) for row in rows]

    def gateways(self) -> list[dict[str, Any]]:
        rows = self.db.execute(f"SELECT id, status, seen_at FROM {self.table}_gateways ORDER BY id")
        return [
            {"gateway": row["id"], "seen_at": row["seen_at"], **json.loads(row["status"])}
            for row in rows
        ]

    def count(self, kind: str) -> int:
        row = self.db.one(f"SELECT count(*) AS n FROM {self.table} WHERE kind = ?", (kind,))
        return int(row["n"]) if row else 0

    def check(self) -> None:
        self.db.check()


class DynamoTimeSeries:
    """DynamoDB: readings under their device (sort key ``<ts, fixed width>#<id>``, so time
    order and unique), summaries under ``<device>#summary``, alerts under ``#alerts``, one
    ``#devices`` item per device (count, last reading) and one ``#gateways`` item per gateway.
    A put conditioned on the key not existing makes a redelivery a no-op; TTL expires items."""

    def __init__(self, table: str, ttl_seconds: float, resource: Any = None) -> None:
        import boto3

        self.table = (resource or boto3.resource("dynamodb")).Table(table)
        self.ttl_seconds = ttl_seconds

    @staticmethod
    def sort_key(item: dict[str, Any]) -> str:
        return f"{float(item['ts']):017.6f}#{item['id']}"

    def insert(self, items: list[dict[str, Any]]) -> int:
        from botocore.exceptions import ClientError

        new = 0
        for item in items:
            partition = {
                "reading": item["device_id"],
                "summary": f"{item['device_id']}#summary",
                "alert": "#alerts",
            }[item["kind"]]
            try:
                self.table.put_item(
                    Item={
                        "device_id": partition,
                        "ts": self.sort_key(item),
                        "body": json.dumps(item),
                        "expires_at": int(float(item["ts"]) + self.ttl_seconds),
                    },
                    ConditionExpression="attribute_not_exists(device_id)",
                )
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    continue
                raise
            new += 1
            if item["kind"] == "reading":
                self._count(item)
        return new

    def _count(self, reading: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        key = {"device_id": "#devices", "ts": reading["device_id"]}
        self.table.update_item(
            Key=key, UpdateExpression="ADD readings :one", ExpressionAttributeValues={":one": 1}
        )
        try:
            self.table.update_item(
                Key=key,
                UpdateExpression="SET last_ts = :ts, body = :body",
                ConditionExpression="attribute_not_exists(last_ts) OR last_ts < :ts",
                ExpressionAttributeValues={
                    ":ts": self.sort_key(reading),
                    ":body": json.dumps(reading),
                },
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def record_gateway(self, gateway: str, status: dict[str, Any]) -> None:
        self.table.put_item(
            Item={
                "device_id": "#gateways",
                "ts": gateway,
                "body": json.dumps(status),
                "seen_at": json.dumps(time.time()),
            }
        )

    def purge_expired(self, now: float | None = None) -> int:
        return 0  # DynamoDB's TTL on expires_at does it

    def _query(self, partition: str, limit: int, newest_first: bool = True) -> list[dict[str, Any]]:
        from boto3.dynamodb.conditions import Key

        response = self.table.query(
            KeyConditionExpression=Key("device_id").eq(partition),
            ScanIndexForward=not newest_first,
            Limit=limit,
        )
        return response["Items"]

    def devices(self) -> list[dict[str, Any]]:
        rows = self._query("#devices", 1000, newest_first=False)
        shown = []
        for row in rows:
            last = json.loads(row["body"])
            shown.append(
                {
                    "device_id": row["ts"],
                    "readings": int(row["readings"]),
                    "last_ts": last["ts"],
                    "last": last.get("metrics", {}),
                }
            )
        return shown

    def recent(self, device_id: str, kind: str, limit: int) -> list[dict[str, Any]]:
        partition = device_id if kind == "reading" else f"{device_id}#{kind}"
        return [json.loads(row["body"]) for row in reversed(self._query(partition, limit))]

    def alerts(self, limit: int) -> list[dict[str, Any]]:
        return [json.loads(row["body"]) for row in self._query("#alerts", limit)]

    def gateways(self) -> list[dict[str, Any]]:
        return [
            {"gateway": row["ts"], "seen_at": json.loads(row["seen_at"]), **json.loads(row["body"])}
            for row in self._query("#gateways", 1000, newest_first=False)
        ]

    def count(self, kind: str) -> int:
        """How many items of a kind are stored (a scan for summaries: for tests and tools)."""
        from boto3.dynamodb.conditions import Attr, Key

        if kind == "reading":
            return sum(device["readings"] for device in self.devices())
        if kind == "alert":
            request = {"KeyConditionExpression": Key("device_id").eq("#alerts")}
            call = self.table.query
        else:
            request = {"FilterExpression": Attr("device_id").contains(f"#{kind}")}
            call = self.table.scan
        total = 0
        while True:
            page = call(Select="COUNT", **request)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def check(self) -> None:
        self.table.load()


SCHEMES = ("sqlite", "postgresql", "dynamodb", "firestore", "aztable")


def require_supported(url: BackendUrl) -> None:
    """Stops at once on a table this adapter cannot serve or a malformed URL (before anything
    waits for a cloud)."""
    from ..backends.kv import AzureTableKeyValue

    if url.scheme not in SCHEMES:
        raise ConfigError(
            f"{url.variable}={url.scheme}://…: the IoT time series needs one of "
            + ", ".join(f"{scheme}://" for scheme in SCHEMES)
        )
    parts = url.path_parts
    if url.scheme == "aztable":
        service = url.query.get("service", "storage")
        if not url.netloc or len(parts) != 1 or service not in AzureTableKeyValue.HOSTS:
            raise url.fail("use aztable://account/table[?service=storage|cosmos]")
    elif url.scheme == "firestore" and (not url.netloc or parts):
        raise url.fail("use firestore://collection[?database=id]")
    elif url.scheme == "dynamodb" and (not url.netloc or parts):
        raise url.fail("use dynamodb://table")


Series = Union["TimeSeries", "DynamoTimeSeries", "AzureTableTimeSeries", "FirestoreTimeSeries"]
"""Any of the time-series adapters: they answer the same calls."""


def open_timeseries(url: BackendUrl, ttl_seconds: float) -> Series:
    """The time series named by ``KV_URL``."""
    require_supported(url)
    if url.scheme in {"sqlite", "postgresql"}:
        return TimeSeries(url, ttl_seconds)
    if url.scheme == "aztable":
        from ..backends.kv import azure_table_client
        from .timeseries_azure import AzureTableTimeSeries

        service = url.query.get("service", "storage")
        client = azure_table_client(url.netloc, url.path_parts[0], service)
        return AzureTableTimeSeries(client, ttl_seconds)
    if url.scheme == "firestore":
        from .timeseries_firestore import FirestoreTimeSeries

        database = url.query.get("database", "(default)")
        return FirestoreTimeSeries.open(url.netloc, database, ttl_seconds)
    return DynamoTimeSeries(url.netloc, ttl_seconds)
