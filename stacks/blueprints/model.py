"""The cloud-neutral component model (Cloud Component Model steps 1 and 2).

A blueprint names its building blocks by what they do and how they interact; it imports no cloud
SDK. Each cloud package maps every kind here to native resources (step 3) through components with
the same class names and the same Args (stacks/common/args.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Access = Literal["read", "read-write", "publish", "consume", "submit"]
"""How a tier uses a resource; identities are granted exactly this and nothing more.

read/read-write apply to object stores, tables and databases; publish/consume to queues and
notification topics; submit to a MapReduce cluster (add and watch job steps, nothing else)."""

SizeClass = Literal["small", "medium", "large"]
"""Neutral machine sizes; each cloud maps them to its own instance types (see its sizes.py)."""


@dataclass(frozen=True)
class Uses:
    """A tier's dependency on a data component, and the setting that carries its URL."""

    target: str
    """Name of the object store, queue, table, database, notification channel or cluster used."""
    access: Access
    env_var: str | None = None
    """The app setting that receives the component's backend URL (e.g. OBJECT_STORE_URL)."""


@dataclass(frozen=True)
class ObjectStore:
    """A private bucket/container for blobs (originals, results, documents, job code)."""

    name: str
    purpose: str
    noncurrent_version_days: int = 30
    """Older object versions are deleted after this many days."""
    archive_after_days: int | None = None
    """Move current objects to a colder storage class after this many days; None keeps them hot."""
    expire_after_days: int | None = None
    """Delete current objects after this many days (scratch data); None keeps them."""


@dataclass(frozen=True)
class Queue:
    """An at-least-once work queue with a dead-letter queue behind it."""

    name: str
    purpose: str
    visibility_timeout_seconds: int = 120
    """How long a consumer holds a message before it is delivered again."""
    max_deliveries: int = 5
    """Deliveries before a message moves to the dead-letter queue."""
    retention_seconds: int = 4 * 24 * 3600


@dataclass(frozen=True)
class KeyValueTable:
    """A key-value/NoSQL table: job status, aggregates, time series."""

    name: str
    purpose: str
    partition_key: str = "id"
    sort_key: str | None = None
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class RelationalDb:
    """A private PostgreSQL database."""

    name: str
    purpose: str
    database: str
    engine_version: str = "16"


@dataclass(frozen=True)
class Notifications:
    """An outbound notification channel (e-mail to users, alerts to operators)."""

    name: str
    purpose: str


@dataclass(frozen=True)
class AppTier:
    """Stateless app servers behind the load balancer."""

    name: str
    purpose: str
    wsgi: str
    """The gunicorn entry point, e.g. reference_apps.image_processing.wsgi:app."""
    uses: tuple[Uses, ...] = ()
    port: int = 8000
    """Where gunicorn listens: the load balancer's target port. Each blueprint has its own
    (roles/blueprint_host/vars/main.yml), so the local target can put every app on one host."""
    health_path: str = "/healthz"
    target_cpu_percent: int = 60
    """Autoscaling target for average CPU."""


@dataclass(frozen=True)
class WorkerTier:
    """Queue consumers, scaled on the backlog of the queue they drain."""

    name: str
    purpose: str
    command: str
    """The consumer process, e.g. python -m reference_apps.image_processing.worker."""
    scale_on: str | None
    """The queue whose backlog drives the number of workers. ``None`` for a producer, which
    must not scale on the queue it fills: a fixed group of ``worker_min`` instances in which the
    process itself keeps one active (the social-analytics listener holds a lease)."""
    uses: tuple[Uses, ...] = ()
    backlog_per_instance: int = 20


@dataclass(frozen=True)
class StreamingJob:
    """A Hadoop streaming job: mapper | sort | reducer over objects in a store."""

    name: str
    mapper: str
    """Path of the mapper script in this repo, uploaded to the code store."""
    reducer: str
    input_prefix: str
    output_prefix: str


@dataclass(frozen=True)
class MapReduceCluster:
    """A managed Hadoop cluster that runs streaming jobs over the object store."""

    name: str
    purpose: str
    code_store: str
    """Object store that holds the job scripts, the input and the output."""
    log_store: str
    jobs: tuple[StreamingJob, ...] = ()


@dataclass(frozen=True)
class IoTIngest:
    """Cloud ingest for device telemetry arriving over MQTT, forwarded to a queue."""

    name: str
    purpose: str
    topic_filter: str
    """MQTT topic filter forwarded to the queue, e.g. devices/+/telemetry."""
    to_queue: str


@dataclass(frozen=True)
class Blueprint:
    """One reference architecture: its components and the way they use each other."""

    name: str
    description: str
    object_stores: tuple[ObjectStore, ...] = ()
    queues: tuple[Queue, ...] = ()
    tables: tuple[KeyValueTable, ...] = ()
    databases: tuple[RelationalDb, ...] = ()
    notifications: tuple[Notifications, ...] = ()
    app: AppTier | None = None
    workers: tuple[WorkerTier, ...] = ()
    mapreduce: MapReduceCluster | None = None
    iot: IoTIngest | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def data_component_names(self) -> dict[str, str]:
        """Name -> kind of every component a tier may use."""
        kinds: dict[str, str] = {}
        groups = (
            ("object_store", self.object_stores),
            ("queue", self.queues),
            ("table", self.tables),
            ("database", self.databases),
            ("notifications", self.notifications),
            ("mapreduce_cluster", (self.mapreduce,) if self.mapreduce else ()),
        )
        for kind, components in groups:
            for component in components:
                if component.name in kinds:
                    raise ValueError(f"blueprint {self.name}: duplicate name {component.name!r}")
                kinds[component.name] = kind
        return kinds

    def validate(self) -> None:
        """Every reference names a component of the right kind: a blueprint bug fails early."""
        kinds = self.data_component_names()
        allowed: dict[str, set[str]] = {
            "object_store": {"read", "read-write"},
            "table": {"read", "read-write"},
            "database": {"read", "read-write"},
            "queue": {"publish", "consume"},
            "notifications": {"publish"},
            "mapreduce_cluster": {"submit"},
        }
        tiers: list[AppTier | WorkerTier] = [*self.workers, *([self.app] if self.app else [])]
        for tier in tiers:
            for use in tier.uses:
                kind = kinds.get(use.target)
                if kind is None:
                    raise ValueError(f"{tier.name} uses unknown component {use.target!r}")
                if use.access not in allowed[kind]:
                    raise ValueError(f"{tier.name}: access {use.access!r} does not apply to {kind}")
        for worker in self.workers:
            if worker.scale_on is not None and kinds.get(worker.scale_on) != "queue":
                raise ValueError(f"{worker.name} scales on {worker.scale_on!r}, which is no queue")
        if self.mapreduce:
            for store in (self.mapreduce.code_store, self.mapreduce.log_store):
                if kinds.get(store) != "object_store":
                    raise ValueError(f"{self.mapreduce.name}: {store!r} is no object store")
        if self.iot and kinds.get(self.iot.to_queue) != "queue":
            raise ValueError(
                f"{self.iot.name} forwards to {self.iot.to_queue!r}, which is no queue"
            )
