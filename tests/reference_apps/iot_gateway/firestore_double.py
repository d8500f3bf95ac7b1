"""An in-process Firestore double for the calls the time-series adapter makes. No Firestore
emulator exists on these machines (its emulator ships with the gcloud CLI, which cannot be
installed here), so this stands in for it, and it refuses what real Firestore refuses for
those calls, each rule from Google's documentation:

- Queries need an index ("Index types", cloud.google.com/firestore/docs/concepts/index-overview;
  "Query limitations", …/docs/query-data/queries#query_limitations): equality filters alone, or
  a range/order on one field, are served by the automatic single-field indexes; an equality
  filter combined with a range or an order on another field needs a composite index with the
  equality fields first and then that field *in the order's direction* — otherwise
  FAILED_PRECONDITION "The query requires an index". A range filter's field must be the first
  order_by. The double knows only the indexes it is given (the stack's, resolved).
- Results come in the order_by order, ties broken by the document name (``__name__``) in the
  direction of the last order_by; a document without an ordered field is not returned
  ("Order and limit data", …/docs/query-data/order-limit-data).
- A document is at most 1 MiB (1,048,576 bytes) counted as "Storage size calculations"
  (…/docs/storage-size) counts it; a document id has no '/', is not '.' or '..', does not match
  ``__.*__`` and is at most 1,500 bytes ("Usage and limits", cloud.google.com/firestore/quotas).
- A batched write holds at most 500 writes (…/docs/manage-data/transactions#batched-writes).
- ``get_all`` returns documents in no guaranteed order: the double returns them reversed.
- The TTL policy deletes only documents whose TTL field holds a timestamp (…/docs/ttl):
  ``expire(now)`` plays the TTL service and deletes such documents past their time.
"""

from __future__ import annotations

import copy
import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from google.api_core.exceptions import FailedPrecondition, InvalidArgument
from google.cloud.firestore_v1.aggregation import AggregationResult

MAX_DOCUMENT_BYTES = 1_048_576
MAX_BATCH_WRITES = 500
RANGE_OPS = {"<", "<=", ">", ">="}


def _string_size(text: str) -> int:
    return len(text.encode()) + 1


def _value_size(value: Any) -> int:
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, int | float | datetime.datetime):
        return 8
    if isinstance(value, str):
        return _string_size(value)
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, list):
        return sum(_value_size(v) for v in value)
    if isinstance(value, dict):
        return sum(_string_size(k) + _value_size(v) for k, v in value.items())
    raise InvalidArgument(f"cannot store a {type(value).__name__} in Firestore")


def document_size(collection: str, document_id: str, data: dict[str, Any]) -> int:
    """Storage size calculations: name (each segment + 16) + fields + 32."""
    name = _string_size(collection) + _string_size(document_id) + 16
    return name + sum(_string_size(k) + _value_size(v) for k, v in data.items()) + 32


@dataclass
class Snapshot:
    id: str
    _data: dict[str, Any] | None

    @property
    def exists(self) -> bool:
        return self._data is not None

    def to_dict(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._data)


@dataclass
class DocumentRef:
    collection: Collection
    id: str

    def __post_init__(self) -> None:
        name = self.id
        if (
            "/" in name
            or name in {".", ".."}
            or re.fullmatch(r"__.*__", name)
            or len(name.encode()) > 1500
            or not name
        ):
            raise InvalidArgument(f"invalid document id {name!r}")

    def set(self, data: dict[str, Any]) -> None:
        self.collection.client._commit([(self, data)])

    def get(self) -> Snapshot:
        return Snapshot(self.id, copy.deepcopy(self.collection.documents.get(self.id)))


@dataclass
class Query:
    collection: Collection
    filters: tuple[Any, ...] = ()
    orders: tuple[tuple[str, str], ...] = ()
    limit_to: int | None = None

    def where(self, *, filter: Any) -> Query:  # "filter": the SDK's keyword
        return Query(self.collection, (*self.filters, filter), self.orders, self.limit_to)

    def order_by(self, field_path: str, direction: str = "ASCENDING") -> Query:
        orders = (*self.orders, (field_path, direction))
        return Query(self.collection, self.filters, orders, self.limit_to)

    def limit(self, count: int) -> Query:
        return Query(self.collection, self.filters, self.orders, count)

    def _check_index(self) -> None:
        equality = sorted({f.field_path for f in self.filters if f.op_string == "=="})
        ranges = {f.field_path for f in self.filters if f.op_string in RANGE_OPS}
        unknown = {f.op_string for f in self.filters} - RANGE_OPS - {"=="}
        if unknown:
            raise InvalidArgument(f"the double does not model operators {unknown}")
        orders = list(self.orders)
        if ranges:
            if len(ranges) > 1:
                raise FailedPrecondition("range filters on several fields need more indexes")
            (range_field,) = ranges
            if orders and orders[0][0] != range_field:
                raise InvalidArgument(f"the first order_by must be on {range_field}")
            if not orders:
                orders = [(range_field, "ASCENDING")]
        if not orders or (not equality and len(orders) == 1):
            return  # single-field indexes (merged for several equalities)
        for index in self.collection.client.indexes.get(self.collection.name, []):
            head, tail = index[: len(equality)], index[len(equality) :]
            if sorted(f for f, _ in head) == equality and tail == orders:
                return
        raise FailedPrecondition(
            f"The query requires an index: equality on {equality}, then {orders}"
        )

    def _matches(self) -> list[tuple[str, dict[str, Any]]]:
        self._check_index()
        rows = []
        for name, data in self.collection.documents.items():
            if any(f not in data for f, _ in self.orders):
                continue
            if all(self._passes(data, f) for f in self.filters):
                rows.append((name, data))
        for field_path, direction in reversed([*self.orders, ("__name__", self._last())]):
            rows.sort(
                key=lambda row, f=field_path: row[0] if f == "__name__" else row[1][f],
                reverse=direction == "DESCENDING",
            )
        return rows[: self.limit_to] if self.limit_to is not None else rows

    def _last(self) -> str:
        return self.orders[-1][1] if self.orders else "ASCENDING"

    @staticmethod
    def _passes(data: dict[str, Any], condition: Any) -> bool:
        if condition.field_path not in data:
            return False
        value, bound = data[condition.field_path], condition.value
        if type(value) is not type(bound):
            return False  # Firestore compares values of one type only in range filters
        return {
            "==": value == bound,
            "<": value < bound,
            "<=": value <= bound,
            ">": value > bound,
            ">=": value >= bound,
        }[condition.op_string]

    def stream(self) -> list[Snapshot]:
        self.collection.client.queries.append(self)
        return [Snapshot(name, copy.deepcopy(data)) for name, data in self._matches()]

    def count(self, alias: str) -> Aggregation:
        return Aggregation(self, alias)


@dataclass
class Aggregation:
    query: Query
    alias: str

    def get(self) -> list[list[AggregationResult]]:
        self.query.collection.client.queries.append(self.query)
        return [[AggregationResult(self.alias, len(self.query._matches()))]]


@dataclass
class Collection(Query):
    name: str = ""
    client: FirestoreDouble | None = None  # type: ignore[assignment]
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.collection = self

    def document(self, document_id: str) -> DocumentRef:
        return DocumentRef(self, document_id)


class Batch:
    def __init__(self, client: FirestoreDouble) -> None:
        self.client = client
        self.writes: list[tuple[DocumentRef, dict[str, Any]]] = []

    def set(self, reference: DocumentRef, data: dict[str, Any]) -> None:
        self.writes.append((reference, copy.deepcopy(data)))

    def commit(self) -> None:
        if len(self.writes) > MAX_BATCH_WRITES:
            raise InvalidArgument(f"{len(self.writes)} writes: a batch holds {MAX_BATCH_WRITES}")
        self.client._commit(self.writes)


class FirestoreDouble:
    """The client: ``indexes`` maps a collection to its composite indexes, each a list of
    (field, "ASCENDING"|"DESCENDING"); ``ttl_fields`` maps a collection to its TTL field."""

    def __init__(
        self, indexes: dict[str, list[list[tuple[str, str]]]], ttl_fields: dict[str, str]
    ) -> None:
        self.indexes = indexes
        self.ttl_fields = ttl_fields
        self.collections: dict[str, Collection] = {}
        self.queries: list[Query] = []
        self.commits: list[int] = []

    def collection(self, name: str) -> Collection:
        if name not in self.collections:
            self.collections[name] = Collection(None, name=name, client=self)  # type: ignore[arg-type]
        return self.collections[name]

    def batch(self) -> Batch:
        return Batch(self)

    def get_all(self, references: list[DocumentRef]) -> list[Snapshot]:
        return [reference.get() for reference in reversed(references)]

    def _commit(self, writes: list[tuple[DocumentRef, dict[str, Any]]]) -> None:
        for reference, data in writes:  # all or nothing: check every write first
            size = document_size(reference.collection.name, reference.id, data)
            if size > MAX_DOCUMENT_BYTES:
                raise InvalidArgument(f"document {reference.id!r} is {size} bytes (max 1 MiB)")
        for reference, data in writes:
            reference.collection.documents[reference.id] = copy.deepcopy(data)
        self.commits.append(len(writes))

    def expire(self, now: datetime.datetime) -> int:
        """The TTL service: deletes documents whose TTL field is a timestamp before ``now``."""
        deleted = 0
        for name, ttl_field in self.ttl_fields.items():
            documents = self.collection(name).documents
            for key in list(documents):
                value = documents[key].get(ttl_field)
                if isinstance(value, datetime.datetime) and value < now:
                    del documents[key]
                    deleted += 1
        return deleted
