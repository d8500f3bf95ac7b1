"""The time-series table behind ``KV_URL``: readings, window summaries and alerts by device and
time, with an expiry, and the last status each gateway sent.

The shared key-value adapters have no range queries, which a time series needs, so this table has
its own small adapter on the same URL: SQLite (one host) and PostgreSQL (the local target's
services host) through :class:`reference_apps.backends.Database`. Every item is keyed by its id,
so a redelivered batch inserts nothing twice.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..backends.settings import BackendUrl, ConfigError
from ..backends.sql import Database

KINDS = ("reading", "summary", "alert")


class TimeSeries:
    def __init__(self, url: BackendUrl, ttl_seconds: float) -> None:
        if url.scheme not in {"sqlite", "postgresql"}:
            raise ConfigError(
                f"{url.variable}={url.scheme}://…: the IoT time series needs sqlite:// or"
                " postgresql:// (a range-query adapter for DynamoDB, Firestore and Azure Tables"
                " is not written yet)"
            )
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
