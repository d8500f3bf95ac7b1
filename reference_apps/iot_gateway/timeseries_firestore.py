"""The time series on Firestore (the GCP stack's database of the ``readings`` table).

One collection, the table's (``firestore://readings?database=…``); every document has the
blueprint's key fields, as on DynamoDB: ``device_id`` (the partition: the device for readings,
``<device>#summary`` for window summaries, ``#alerts``, ``#devices`` for the device list,
``#gateways``) and ``ts`` (``<ts, fixed width>#<id>``, so time order and unique), the item as
JSON in ``body``, and ``expires_at``, a timestamp.

- Queries are ``device_id ==`` with ``ts`` ordered newest first (and ``ts`` ranges): the
  composite index (device_id ASC, ts DESC) the stack declares serves them, and the count
  aggregations use only ``device_id ==`` (single-field index, automatic).
- Redelivery: the document id is derived from the partition and sort key, the documents that
  already exist are read first (one ``get_all``) and only the others are written, so a reading
  written twice is one document and ``insert`` counts it once.
- Batched writes of at most 500 writes (Firestore's batched-write limit); a document holds at
  most 1 MiB ("Usage and limits", cloud.google.com/firestore/quotas), far above a reading.
- Expiry is Firestore's TTL policy on ``expires_at`` (the stack's TTL field): it deletes a
  document after that time, typically within 24 hours (cloud.google.com/firestore/docs/ttl),
  and only when the field holds a timestamp, which is why it is one and not an epoch number.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from typing import Any

from ..backends.queue import PoisonMessage
from .timeseries import NewestFirstReads

TTL_FIELD = "expires_at"
"""The blueprint's TTL attribute of the readings table (stacks/blueprints/iot_gateway.py)."""
PARTITION, SORT = "device_id", "ts"
"""The table's key fields: the stack's composite index is (device_id ASC, ts DESC)."""
MAX_BATCH_WRITES = 500
MAX_BODY_BYTES = 1_000_000
"""The item's JSON, under the 1 MiB document limit with room for the other fields."""
DEVICES, GATEWAYS, ALERTS = "#devices", "#gateways", "#alerts"
_UNSAFE = re.compile(r"[^A-Za-z0-9:._#-]")


def _escape(text: str) -> str:
    return _UNSAFE.sub(lambda m: "".join(f"~{b:02x}" for b in m.group().encode()), text)


def _document_id(partition: str, sort: str) -> str:
    """No '/' (a path separator in Firestore), never '.', '..' or ``__…__``."""
    return f"k!{_escape(partition)}!{_escape(sort)}"


def _sort_key(ts: float, item_id: str = "") -> str:
    return f"{float(ts):017.6f}#{item_id}"


def _partition(item: dict[str, Any]) -> str:
    return {
        "reading": item["device_id"],
        "summary": f"{item['device_id']}#summary",
        "alert": ALERTS,
    }[item["kind"]]


class FirestoreTimeSeries(NewestFirstReads):
    """Readings, summaries and alerts by device and time in one Firestore collection."""

    def __init__(self, client: Any, collection: str, ttl_seconds: float) -> None:
        self.client = client
        self.collection = client.collection(collection)
        self.ttl_seconds = ttl_seconds

    @classmethod
    def open(cls, collection: str, database: str, ttl_seconds: float) -> FirestoreTimeSeries:
        """With the host's service account (Application Default Credentials)."""
        from google.cloud import firestore

        return cls(firestore.Client(database=database), collection, ttl_seconds)

    # -- writes -------------------------------------------------------------------------------
    def insert(self, items: list[dict[str, Any]]) -> int:
        """Store items not seen before; returns how many were new."""
        documents: dict[str, dict[str, Any]] = {}
        for item in items:
            body = json.dumps(item)
            if len(body.encode()) > MAX_BODY_BYTES:
                raise PoisonMessage(
                    f"item {item['id'][:100]!r} is {len(body.encode())} bytes; a Firestore"
                    " document holds 1 MiB"
                )
            partition, sort = _partition(item), _sort_key(item["ts"], item["id"])
            documents[_document_id(partition, sort)] = {
                PARTITION: partition,
                SORT: sort,
                "kind": item["kind"],
                "body": body,
                TTL_FIELD: datetime.datetime.fromtimestamp(
                    float(item["ts"]) + self.ttl_seconds, datetime.UTC
                ),
            }
        if not documents:
            return 0
        references = [self.collection.document(key) for key in documents]
        existing = {snapshot.id for snapshot in self.client.get_all(references) if snapshot.exists}
        new = {key: document for key, document in documents.items() if key not in existing}
        devices = sorted({d[PARTITION] for d in new.values() if d["kind"] == "reading"})
        writes = [(key, document) for key, document in new.items()]
        writes += [(_document_id(DEVICES, d), {PARTITION: DEVICES, SORT: d}) for d in devices]
        for start in range(0, len(writes), MAX_BATCH_WRITES):
            batch = self.client.batch()
            for key, document in writes[start : start + MAX_BATCH_WRITES]:
                batch.set(self.collection.document(key), document)
            batch.commit()
        return len(new)

    def record_gateway(self, gateway: str, status: dict[str, Any]) -> None:
        self.collection.document(_document_id(GATEWAYS, gateway)).set(
            {PARTITION: GATEWAYS, SORT: gateway, "body": json.dumps(status), "seen_at": time.time()}
        )

    def purge_expired(self, now: float | None = None) -> int:
        return 0  # the TTL policy on expires_at does it

    # -- reads --------------------------------------------------------------------------------
    def _query(
        self,
        partition: str,
        limit: int | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[dict[str, Any]]:
        """Documents of a partition, newest (highest sort key) first."""
        from google.cloud.firestore_v1 import Query
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.collection.where(filter=FieldFilter(PARTITION, "==", partition))
        if since is not None:
            query = query.where(filter=FieldFilter(SORT, ">=", since))
        if until is not None:
            query = query.where(filter=FieldFilter(SORT, "<", until))
        query = query.order_by(SORT, direction=Query.DESCENDING)
        if limit is not None:
            query = query.limit(limit)
        return [snapshot.to_dict() for snapshot in query.stream()]

    def _count(self, partition: str) -> int:
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.collection.where(filter=FieldFilter(PARTITION, "==", partition))
        return int(query.count(alias="n").get()[0][0].value)

    def range(
        self,
        device_id: str,
        kind: str,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Items of a kind for a device with ``since <= ts < until``, newest first."""
        partition = _partition({"kind": kind, "device_id": device_id})
        rows = self._query(
            partition,
            None if kind == "alert" else limit,
            None if since is None else _sort_key(since),
            None if until is None else _sort_key(until),
        )
        items = [json.loads(row["body"]) for row in rows]
        if kind == "alert":
            items = [a for a in items if device_id in ("", a["device_id"])][:limit]
        return items

    def _device_ids(self) -> list[str]:
        return sorted(row[SORT] for row in self._query(DEVICES))

    def devices(self) -> list[dict[str, Any]]:
        shown = []
        for device in self._device_ids():
            latest = self._query(device, 1)
            if not latest:
                continue  # every reading expired
            last = json.loads(latest[0]["body"])
            shown.append(
                {
                    "device_id": device,
                    "readings": self._count(device),
                    "last_ts": last["ts"],
                    "last": last.get("metrics", {}),
                }
            )
        return shown

    def gateways(self) -> list[dict[str, Any]]:
        return [
            {"gateway": row[SORT], "seen_at": row["seen_at"], **json.loads(row["body"])}
            for row in sorted(self._query(GATEWAYS), key=lambda row: row[SORT])
        ]

    def count(self, kind: str) -> int:
        """How many items of a kind are stored (count aggregations: for tests and tools)."""
        if kind == "alert":
            return self._count(ALERTS)
        suffix = "" if kind == "reading" else f"#{kind}"
        return sum(self._count(device + suffix) for device in self._device_ids())

    def check(self) -> None:
        list(self.collection.limit(1).stream())
