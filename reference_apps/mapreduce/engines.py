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

    @classmethod
    def from_files(cls, mapper: Path, reducer: Path, env: dict[str, str] | None = None) -> Program:
        return cls(mapper.read_bytes(), reducer.read_bytes(), dict(env or {}))


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
    raise ConfigError(
        f"MAPREDUCE_CLUSTER_URL={url}: unsupported; use local, local:N or spark://host:7077"
    )
