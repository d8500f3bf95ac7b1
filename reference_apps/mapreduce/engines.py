"""Engines that run a streaming job (mapper, partition by key, sort, reducer), chosen by
``MAPREDUCE_CLUSTER_URL``: ``local`` (processes on this machine) or ``spark://host:port`` (a Spark
standalone cluster). Both run the same :mod:`streaming` functions, so their outputs are equal to
a ``mapper | sort | reducer`` pipe's, split into ``part-NNNNN`` files.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..backends import ConfigError
from . import streaming
from .streaming import ProgramFailed

log = logging.getLogger("mapreduce.engine")
SPLIT_BYTES = 8 * 1024 * 1024


class JobFailed(RuntimeError):
    """The job cannot succeed: a program failed, the time limit passed, the cluster is gone."""

    def __init__(self, reason: str, stderr: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stderr = stderr


class JobCancelled(RuntimeError):
    """The worker is stopping; the job should be handed back to the queue."""


@dataclass(frozen=True)
class Program:
    """A mapper and a reducer (Python sources) and the environment they run with."""

    mapper: bytes
    reducer: bytes
    env: dict[str, str] = field(default_factory=dict)
    name: str = "custom"

    @classmethod
    def from_files(
        cls, mapper: Path, reducer: Path, env: dict[str, str] | None = None, name: str = "custom"
    ) -> Program:
        return cls(mapper.read_bytes(), reducer.read_bytes(), dict(env or {}), name)


@dataclass(frozen=True)
class InputFile:
    """One input file: its name (the mapper's ``mapreduce_map_input_file``) and its bytes."""

    name: str
    data: bytes


def write_parts(outputs: list[bytes], outdir: Path) -> list[Path]:
    """``part-00000``… in partition order, then Hadoop's ``_SUCCESS`` marker."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, output in enumerate(outputs):
        path = outdir / f"part-{index:05d}"
        path.write_bytes(output)
        paths.append(path)
    (outdir / "_SUCCESS").write_bytes(b"")
    return paths


class Engine(ABC):
    """Runs a streaming job; raises JobFailed with a reason a user can act on."""

    name = "engine"

    @abstractmethod
    def run(
        self,
        program: Program,
        inputs: list[InputFile],
        *,
        reducers: int,
        timeout: float,
        cancel: threading.Event | None = None,
    ) -> list[bytes]:
        """The reducers' outputs, one per partition, in partition order."""

    def check(self) -> None:
        """Raise if the engine cannot take jobs (used at worker start)."""
        return None

    def close(self) -> None:
        """Release what the engine holds (a Spark context)."""
        return None


class LocalEngine(Engine):
    """Map tasks in parallel processes, a partitioned sort and reduce tasks, on this machine."""

    name = "local"

    def __init__(self, parallelism: int | None = None, split_bytes: int = SPLIT_BYTES) -> None:
        self.parallelism = parallelism or os.cpu_count() or 1
        self.split_bytes = split_bytes

    def _gather(
        self,
        pool: ThreadPoolExecutor,
        calls: list[Callable[[], Any]],
        deadline: float,
        cancel: threading.Event | None,
    ) -> list[Any]:
        futures: list[Future[Any]] = [pool.submit(call) for call in calls]
        pending = set(futures)
        while pending:
            if cancel is not None and cancel.is_set():
                raise JobCancelled("the worker is stopping")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JobFailed("the job exceeded its time limit and was stopped")
            _, pending = wait(pending, timeout=min(remaining, 0.5), return_when=FIRST_EXCEPTION)
            for future in futures:
                if future.done() and future.exception() is not None:
                    error = future.exception()
                    if isinstance(error, ProgramFailed):
                        raise JobFailed(error.reason, error.stderr) from error
                    raise error  # type: ignore[misc]
        return [future.result() for future in futures]

    def run(
        self,
        program: Program,
        inputs: list[InputFile],
        *,
        reducers: int,
        timeout: float,
        cancel: threading.Event | None = None,
    ) -> list[bytes]:
        deadline = time.monotonic() + timeout

        def map_split(name: str, piece: bytes) -> list[tuple[int, bytes]]:
            left = deadline - time.monotonic()
            return streaming.map_task(program.mapper, name, piece, program.env, reducers, left)

        def reduce_partition(blobs: list[bytes]) -> bytes:
            left = deadline - time.monotonic()
            return streaming.reduce_task(program.reducer, blobs, program.env, left)

        maps = [
            partial(map_split, item.name, piece)
            for item in inputs
            for piece in streaming.splits(item.data, self.split_bytes)
        ]
        pool = ThreadPoolExecutor(self.parallelism)
        try:
            mapped = self._gather(pool, maps, deadline, cancel)
            partitions: list[list[bytes]] = [[] for _ in range(reducers)]
            for buckets in mapped:
                for index, blob in buckets:
                    partitions[index].append(blob)
            reduces = [partial(reduce_partition, blobs) for blobs in partitions]
            return self._gather(pool, reduces, deadline, cancel)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            streaming.kill_all()
            raise
        finally:
            pool.shutdown(wait=True)


FAILED = -1  # the partition key of a task's failure record


def _spark_map(
    mapper: bytes, env: dict[str, str], reducers: int, timeout: float
) -> Callable[[tuple[str, bytes]], list[tuple[int, Any]]]:
    def map_split(record: tuple[str, bytes]) -> list[tuple[int, Any]]:
        try:
            return streaming.map_task(mapper, record[0], record[1], env, reducers, timeout)
        except ProgramFailed as error:  # deterministic: report it, do not let Spark retry it
            return [(FAILED, (error.reason, error.stderr))]

    return map_split


def _spark_reduce(reducer: bytes, env: dict[str, str], timeout: float) -> Callable[[int, Any], Any]:
    def reduce_partition(index: int, records: Any) -> Any:
        blobs = []
        for key, value in records:
            if key == FAILED:
                yield FAILED, value
                return
            blobs.append(value)
        try:
            yield index, streaming.reduce_task(reducer, blobs, env, timeout)
        except ProgramFailed as error:
            yield FAILED, (error.reason, error.stderr)

    return reduce_partition


class SparkEngine(Engine):
    """A Spark standalone cluster: the driver runs in this process, the map and reduce tasks
    (the same streaming functions) on the cluster's executors.

    The driver cuts the input into splits and sends them with the tasks, so executors need no
    shared file system. A watchdog cancels the job when its time limit passes, when the worker
    is stopping, or when the job's executors are all lost and none is back within
    ``no_worker_grace`` seconds (every Spark worker gone): the job then fails with that reason
    instead of waiting for resources until its time limit.
    """

    name = "spark"

    def __init__(
        self,
        master: str,
        *,
        no_worker_grace: float = 60,
        startup_grace: float = 300,
        split_bytes: int = SPLIT_BYTES,
        conf: dict[str, str] | None = None,
    ) -> None:
        self.master = master
        self.no_worker_grace = no_worker_grace
        self.startup_grace = startup_grace
        self.split_bytes = split_bytes
        self.conf = dict(conf or {})
        self._sc: Any = None

    def _context(self) -> Any:
        from pyspark import SparkConf, SparkContext, cloudpickle

        if self._sc is not None and not self._sc._jsc.sc().isStopped():
            return self._sc
        cloudpickle.register_pickle_by_value(streaming)
        conf = (
            SparkConf()
            .setMaster(self.master)
            .setAppName("tierstack-mapreduce")
            .set("spark.ui.enabled", "false")
            .set("spark.pyspark.python", os.environ.get("PYSPARK_PYTHON") or sys.executable)
        )
        if os.environ.get("SPARK_DRIVER_HOST"):
            conf.set("spark.driver.host", os.environ["SPARK_DRIVER_HOST"])
        for key, value in self.conf.items():
            conf.set(key, value)
        self._sc = SparkContext.getOrCreate(conf)
        self._sc.setLogLevel("WARN")
        return self._sc

    @staticmethod
    def executors(sc: Any) -> int:
        """Executors alive now (the map counts the driver too)."""
        return int(sc._jsc.sc().getExecutorMemoryStatus().size()) - 1

    def run(
        self,
        program: Program,
        inputs: list[InputFile],
        *,
        reducers: int,
        timeout: float,
        cancel: threading.Event | None = None,
    ) -> list[bytes]:
        deadline = time.monotonic() + timeout
        sc = self._context()
        chunks = [
            (item.name, piece)
            for item in inputs
            for piece in streaming.splits(item.data, self.split_bytes)
        ]
        if not chunks:
            return [b""] * reducers
        rdd = (
            sc.parallelize(chunks, len(chunks))
            .flatMap(_spark_map(program.mapper, program.env, reducers, timeout))
            .partitionBy(reducers, lambda key: max(key, 0))
            .mapPartitionsWithIndex(_spark_reduce(program.reducer, program.env, timeout))
        )
        group = f"mapreduce-{uuid.uuid4().hex}"
        reasons: list[str] = []
        finished = threading.Event()

        started = time.monotonic()

        def watch() -> None:
            seen = False  # executors take a while to start; only losing them all counts
            without_workers: float | None = None
            while not finished.wait(0.5):
                now = time.monotonic()
                if now > deadline:
                    reasons.append("the job exceeded its time limit and was stopped")
                elif cancel is not None and cancel.is_set():
                    reasons.append(CANCELLED)
                elif self.executors(sc) > 0:
                    seen, without_workers = True, None
                    continue
                elif not seen:
                    if now - started < self.startup_grace:
                        continue
                    reasons.append(
                        f"no Spark executor started within {self.startup_grace:g} s; are the"
                        f" workers of {self.master} up? The job was stopped"
                    )
                else:
                    without_workers = without_workers or now
                    if now - without_workers < self.no_worker_grace:
                        continue
                    reasons.append(
                        f"no Spark worker has been alive for {self.no_worker_grace:g} s"
                        f" ({self.master}); the job was stopped"
                    )
                sc.cancelJobGroup(group)
                return

        watchdog = threading.Thread(target=watch, name="spark-watchdog", daemon=True)
        sc.setJobGroup(group, "tierstack mapreduce job", interruptOnCancel=True)
        watchdog.start()
        try:
            results = rdd.collect()
        except Exception as error:
            watchdog.join(timeout=2)
            if reasons == [CANCELLED]:
                raise JobCancelled("the worker is stopping") from error
            if reasons:
                raise JobFailed(reasons[0]) from error
            first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise JobFailed(f"the Spark job failed: {first[:300]}") from error
        finally:
            finished.set()
        failures = [value for index, value in results if index == FAILED]
        if failures:
            reason, stderr = failures[0]
            raise JobFailed(reason, stderr)
        outputs = dict(results)
        return [outputs.get(index, b"") for index in range(reducers)]

    def check(self) -> None:
        self._context()

    def close(self) -> None:
        if self._sc is not None:
            self._sc.stop()
            self._sc = None


CANCELLED = "cancelled"


class EmrEngine(Engine):
    """An EMR cluster (``emr://<cluster id>``): each job is a Hadoop streaming step over the
    job-data bucket, the same step the stack defines for its built-in job.

    The inputs (names made Hadoop-safe: letters, digits and ``._-``, others become ``_``) and the
    two programs go to ``<prefix>emr/<run>/`` in the bucket; the step writes
    ``output/<job>/<run>/part-*`` (the stack grants the cluster's nodes ``output/<job>/`` of each
    blueprint job). The step is polled every ``poll_seconds``; at the time limit, or when the
    worker stops, it is cancelled. Everything written for the run is removed afterwards.
    """

    name = "emr"
    TERMINAL = {"COMPLETED", "CANCELLED", "FAILED", "INTERRUPTED"}

    def __init__(
        self,
        cluster_id: str,
        bucket: str,
        prefix: str = "",
        *,
        poll_seconds: float = 15,
        emr: Any = None,
        s3: Any = None,
    ) -> None:
        import boto3

        self.cluster_id = cluster_id
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.poll_seconds = poll_seconds
        self.emr = emr or boto3.client("emr")
        self.s3 = s3 or boto3.client("s3")

    def step(self, program: Program, run: str, reducers: int, files: int) -> dict[str, Any]:
        """The streaming step of one run (mapper | sort | reducer, as the stack's own step);
        each input file in its own folder, so that its name is the mapper's document id."""
        base = f"s3://{self.bucket}/{self.prefix}emr/{run}"
        args = [
            "hadoop-streaming",
            "-files",
            f"{base}/mapper.py,{base}/reducer.py",
            "-numReduceTasks",
            str(reducers),
        ]
        for key, value in sorted(program.env.items()):
            args += ["-cmdenv", f"{key}={value}"]
        args += [
            "-mapper",
            "python3 mapper.py",
            "-reducer",
            "python3 reducer.py",
            *(arg for index in range(files) for arg in ("-input", f"{base}/input/{index:05d}/")),
            "-output",
            f"s3://{self.bucket}/{self.output_prefix(program, run)}",
        ]
        return {
            "Name": f"{program.name}-{run}",
            "ActionOnFailure": "CONTINUE",
            "HadoopJarStep": {"Jar": "command-runner.jar", "Args": args},
        }

    @staticmethod
    def output_prefix(program: Program, run: str) -> str:
        return f"output/{program.name}/{run}/"

    def run(
        self,
        program: Program,
        inputs: list[InputFile],
        *,
        reducers: int,
        timeout: float,
        cancel: threading.Event | None = None,
    ) -> list[bytes]:
        deadline = time.monotonic() + timeout
        run = uuid.uuid4().hex
        base = f"{self.prefix}emr/{run}"
        written = [f"{base}/mapper.py", f"{base}/reducer.py"]
        try:
            self.s3.put_object(Bucket=self.bucket, Key=written[0], Body=program.mapper)
            self.s3.put_object(Bucket=self.bucket, Key=written[1], Body=program.reducer)
            for index, item in enumerate(inputs):
                key = f"{base}/input/{index:05d}/{safe_key(item.name)}"
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=item.data)
                written.append(key)
            step_id = self.emr.add_job_flow_steps(
                JobFlowId=self.cluster_id, Steps=[self.step(program, run, reducers, len(inputs))]
            )["StepIds"][0]
            log.info("EMR step added", extra={"cluster": self.cluster_id, "step": step_id})
            status = self._wait(step_id, deadline, cancel)
            if status["State"] != "COMPLETED":
                details = status.get("FailureDetails") or {}
                reason = details.get("Reason") or status.get("StateChangeReason", {}).get("Message")
                raise JobFailed(
                    f"the EMR step ended {status['State']}" + (f": {reason}" if reason else ""),
                    "\n".join(
                        part for part in (details.get("Message"), details.get("LogFile")) if part
                    ),
                )
            return self._outputs(self.output_prefix(program, run))
        finally:
            for key in written:
                self.s3.delete_object(Bucket=self.bucket, Key=key)

    def _wait(
        self, step_id: str, deadline: float, cancel: threading.Event | None
    ) -> dict[str, Any]:
        while True:
            status = self.emr.describe_step(ClusterId=self.cluster_id, StepId=step_id)["Step"][
                "Status"
            ]
            if status["State"] in self.TERMINAL:
                return status
            stopping = cancel is not None and cancel.is_set()
            if stopping or time.monotonic() > deadline:
                self._cancel(step_id)
                if stopping:
                    raise JobCancelled("the worker is stopping")
                raise JobFailed("the job exceeded its time limit and was stopped")
            wait_for = min(self.poll_seconds, max(0.0, deadline - time.monotonic()))
            if cancel is not None:
                cancel.wait(wait_for)
            else:
                time.sleep(wait_for)

    def _cancel(self, step_id: str) -> None:
        try:
            self.emr.cancel_steps(ClusterId=self.cluster_id, StepIds=[step_id])
        except Exception as error:  # the job fails either way; say that the step may still run
            log.warning(
                "could not cancel the EMR step",
                extra={"step": step_id, "error": repr(error)[:300]},
            )

    def _outputs(self, prefix: str) -> list[bytes]:
        """The step's part files in order; they are read, then removed from the bucket."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        keys = sorted(
            item["Key"]
            for page in pages
            for item in page.get("Contents", [])
            if item["Key"].rpartition("/")[2].startswith("part-")
        )
        outputs = [self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read() for key in keys]
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                self.s3.delete_object(Bucket=self.bucket, Key=item["Key"])
        return outputs

    def check(self) -> None:
        state = self.emr.describe_cluster(ClusterId=self.cluster_id)["Cluster"]["Status"]["State"]
        if state.startswith("TERMINAT"):
            raise ConfigError(f"MAPREDUCE_CLUSTER_URL=emr://{self.cluster_id}: cluster is {state}")


class DataprocEngine(Engine):
    """A Dataproc cluster (``dataproc://<project>/<region>/<cluster>``): each job is a Hadoop
    streaming job (the stack's own jar and arguments) submitted through the Dataproc REST API,
    over the job-data bucket (``OBJECT_STORE_URL=gs://…``), polled and cancelled like EMR steps.
    ``DATAPROC_ENDPOINT`` replaces the API's address (a local double in the tests); otherwise the
    host's Application Default Credentials sign the calls."""

    name = "dataproc"
    JAR = "file:///usr/lib/hadoop-mapreduce/hadoop-streaming.jar"
    TERMINAL = {"DONE", "ERROR", "CANCELLED"}

    def __init__(
        self,
        project: str,
        region: str,
        cluster: str,
        bucket: str,
        prefix: str = "",
        *,
        poll_seconds: float = 15,
        endpoint: str = "",
        storage_client: Any = None,
        session: Any = None,
    ) -> None:
        self.project, self.region, self.cluster = project, region, cluster
        self.bucket_name = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.poll_seconds = poll_seconds
        self.endpoint = (endpoint or "https://dataproc.googleapis.com").rstrip("/")
        if storage_client is None:
            from google.cloud import storage

            storage_client = storage.Client()
        self.bucket = storage_client.bucket(bucket)
        if session is None:
            if endpoint:
                import requests

                session = requests.Session()
            else:
                import google.auth
                from google.auth.transport.requests import AuthorizedSession

                credentials, _ = google.auth.default(
                    scopes=["https://www.googleapis.com/auth/cloud-platform"]
                )
                session = AuthorizedSession(credentials)
        self.session = session

    @property
    def jobs_url(self) -> str:
        return f"{self.endpoint}/v1/projects/{self.project}/regions/{self.region}/jobs"

    def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.session.request(method, url, json=body, timeout=30)
        if response.status_code >= 400:
            raise JobFailed(f"Dataproc answered {response.status_code}: {response.text[:300]}")
        return response.json()

    def run(
        self,
        program: Program,
        inputs: list[InputFile],
        *,
        reducers: int,
        timeout: float,
        cancel: threading.Event | None = None,
    ) -> list[bytes]:
        deadline = time.monotonic() + timeout
        run = uuid.uuid4().hex
        base = f"{self.prefix}dataproc/{run}"
        output = f"output/{program.name}/{run}/"
        written = [f"{base}/mapper.py", f"{base}/reducer.py"]
        try:
            self.bucket.blob(written[0]).upload_from_string(program.mapper)
            self.bucket.blob(written[1]).upload_from_string(program.reducer)
            folders = []
            for index, item in enumerate(inputs):
                key = f"{base}/input/{index:05d}/{safe_key(item.name)}"
                self.bucket.blob(key).upload_from_string(item.data)
                written.append(key)
                folders.append(f"gs://{self.bucket_name}/{base}/input/{index:05d}/")
            args = ["-numReduceTasks", str(reducers)]
            for key, value in sorted(program.env.items()):
                args += ["-cmdenv", f"{key}={value}"]
            args += ["-mapper", "python3 mapper.py", "-reducer", "python3 reducer.py"]
            for folder in folders:
                args += ["-input", folder]
            args += ["-output", f"gs://{self.bucket_name}/{output}"]
            job = {
                "reference": {"jobId": f"{program.name}-{run}"},
                "placement": {"clusterName": self.cluster},
                "hadoopJob": {
                    "mainJarFileUri": self.JAR,
                    "fileUris": [f"gs://{self.bucket_name}/{key}" for key in written[:2]],
                    "args": args,
                },
            }
            job_id = self._call("POST", f"{self.jobs_url}:submit", {"job": job})["reference"][
                "jobId"
            ]
            status = self._wait(job_id, deadline, cancel)
            if status["state"] != "DONE":
                detail = status.get("details", "")
                raise JobFailed(
                    f"the Dataproc job ended {status['state']}" + (f": {detail}" if detail else "")
                )
            blobs = sorted(
                (blob for blob in self.bucket.client.list_blobs(self.bucket_name, prefix=output)),
                key=lambda blob: blob.name,
            )
            parts = [blob.download_as_bytes() for blob in blobs if "/part-" in blob.name]
            for blob in blobs:
                blob.delete()
            return parts
        finally:
            for key in written:
                self.bucket.blob(key).delete()

    def _wait(self, job_id: str, deadline: float, cancel: threading.Event | None) -> dict[str, Any]:
        while True:
            status = self._call("GET", f"{self.jobs_url}/{job_id}")["status"]
            if status["state"] in self.TERMINAL:
                return status
            stopping = cancel is not None and cancel.is_set()
            if stopping or time.monotonic() > deadline:
                try:
                    self._call("POST", f"{self.jobs_url}/{job_id}:cancel", {})
                except JobFailed as error:
                    log.warning("could not cancel the Dataproc job", extra={"error": error.reason})
                if stopping:
                    raise JobCancelled("the worker is stopping")
                raise JobFailed("the job exceeded its time limit and was stopped")
            wait_for = min(self.poll_seconds, max(0.0, deadline - time.monotonic()))
            if cancel is not None:
                cancel.wait(wait_for)
            else:
                time.sleep(wait_for)


def safe_key(name: str) -> str:
    """A file name Hadoop and S3 both take as-is (the mapper sees it as the document id)."""
    cleaned = "".join(char if char.isalnum() or char in "._-" else "_" for char in name)
    return cleaned.strip("._")[:100] or "input"


def seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name, "") or str(default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw}: not a number of seconds") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw}: must be more than 0")
    return value


def open_engine(url: str, env: dict[str, str] | None = None) -> Engine:
    """The engine named by ``MAPREDUCE_CLUSTER_URL``: ``local`` or ``spark://host:port``."""
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
    raise ConfigError(
        f"MAPREDUCE_CLUSTER_URL={url}: unsupported; use local, local:N, spark://host:7077,"
        " emr://<cluster id> or dataproc://<project>/<region>/<cluster>"
        " (hdinsight:// is not supported yet)"
    )
