"""Engines that run a streaming job (mapper, partition by key, sort, reducer), chosen by
``MAPREDUCE_CLUSTER_URL``: ``local`` (processes on this machine), ``spark://host:port`` (a Spark
standalone cluster), ``emr://``, ``dataproc://`` or ``hdinsight://`` (a cloud's managed
cluster). The local, Spark and HDInsight engines run the same :mod:`streaming` functions (on
HDInsight as a Spark batch), EMR and Dataproc the same programs as a Hadoop streaming job, so
every output equals a ``mapper | sort | reducer`` pipe's, split into ``part-NNNNN`` files.

One module per engine; this package names them and picks one from the URL.
"""

from __future__ import annotations

from ...backends import ConfigError
from .base import SPLIT_BYTES, Engine, InputFile, JobCancelled, JobFailed, Program, write_parts
from .dataproc import DataprocEngine
from .emr import EmrEngine
from .hdinsight import HDInsightEngine
from .local import LocalEngine
from .managed import ManagedEngine, safe_key
from .spark import SparkEngine

__all__ = [
    "SPLIT_BYTES",
    "DataprocEngine",
    "EmrEngine",
    "Engine",
    "HDInsightEngine",
    "InputFile",
    "JobCancelled",
    "JobFailed",
    "LocalEngine",
    "ManagedEngine",
    "Program",
    "SparkEngine",
    "open_engine",
    "safe_key",
    "seconds",
    "spark_conf",
    "write_parts",
]


def seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "") or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw}: not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw}: must be more than 0")
    return value


def spark_conf(raw: str) -> dict[str, str]:
    """``SPARK_CONF``: ``spark.key=value`` pairs separated by ``;`` — the driver's pinned ports
    (so a firewall can admit them) and its memory, set where the job runner is deployed."""
    conf: dict[str, str] = {}
    for pair in raw.split(";"):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.startswith("spark.") or not value:
            raise ConfigError(f"SPARK_CONF: {pair.strip()[:80]!r} is not spark.<key>=<value>")
        conf[key] = value
    return conf


def open_engine(url: str, env: dict[str, str] | None = None) -> Engine:
    """The engine named by ``MAPREDUCE_CLUSTER_URL`` (the schemes above)."""
    env = env or {}
    url = (url or "local").strip()
    if url == "local" or url.startswith("local:"):
        parallelism = url.partition(":")[2]
        if parallelism and not parallelism.isdigit():
            raise ConfigError(f"MAPREDUCE_CLUSTER_URL={url}: use local or local:N (N processes)")
        return LocalEngine(int(parallelism) if parallelism else None)
    if url.startswith("spark://"):
        host, _, port = url.removeprefix("spark://").partition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"MAPREDUCE_CLUSTER_URL={url}: use spark://host:7077")
        return SparkEngine(
            url,
            no_worker_grace=seconds(env, "SPARK_NO_WORKER_GRACE", 60),
            startup_grace=seconds(env, "SPARK_STARTUP_GRACE", 300),
            conf=spark_conf(env.get("SPARK_CONF", "")),
        )
    if url.startswith("emr://"):
        cluster_id = url.removeprefix("emr://").strip("/")
        store = env.get("OBJECT_STORE_URL", "")
        if not cluster_id or not store.startswith("s3://"):
            raise ConfigError(
                f"MAPREDUCE_CLUSTER_URL={url}: use emr://<cluster id> with OBJECT_STORE_URL="
                "s3://<the cluster's job-data bucket>"
            )
        bucket, _, prefix = store.removeprefix("s3://").partition("/")
        return EmrEngine(
            cluster_id, bucket, prefix, poll_seconds=seconds(env, "EMR_POLL_SECONDS", 15)
        )
    if url.startswith("dataproc://"):
        parts = url.removeprefix("dataproc://").strip("/").split("/")
        store = env.get("OBJECT_STORE_URL", "")
        if len(parts) != 3 or not all(parts) or not store.startswith("gs://"):
            raise ConfigError(
                f"MAPREDUCE_CLUSTER_URL={url}: use dataproc://<project>/<region>/<cluster> with"
                " OBJECT_STORE_URL=gs://<the cluster's job-data bucket>"
            )
        bucket, _, prefix = store.removeprefix("gs://").partition("/")
        return DataprocEngine(
            *parts,
            bucket,
            prefix,
            poll_seconds=seconds(env, "DATAPROC_POLL_SECONDS", 15),
            endpoint=env.get("DATAPROC_ENDPOINT", ""),
        )
    if url.startswith("hdinsight://"):
        return HDInsightEngine.from_url(url, env)
    raise ConfigError(
        f"MAPREDUCE_CLUSTER_URL={url}: unsupported; use local, local:N, spark://host:7077,"
        " emr://<cluster id>, dataproc://<project>/<region>/<cluster> or"
        " hdinsight://<user>@<cluster>?storage=…&gateway_password_ref=… (the Azure stack's value)"
    )
