"""The ``spark://`` engine: the local target's Spark standalone cluster runs the same streaming
functions as the ``local`` engine, with a watchdog that turns a lost cluster into a job failure
a user can read instead of a wait until the time limit."""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from typing import Any

from .. import streaming
from .base import SPLIT_BYTES, TIME_LIMIT, Engine, InputFile, JobCancelled, JobFailed, Program

FAILED = streaming.FAILED
CANCELLED = "cancelled"
_spark_map = streaming.spark_map
_spark_reduce = streaming.spark_reduce


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
        watchdog = threading.Thread(
            target=self._watch,
            args=(sc, group, deadline, cancel, finished, reasons),
            name="spark-watchdog",
            daemon=True,
        )
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

    def _watch(
        self,
        sc: Any,
        group: str,
        deadline: float,
        cancel: threading.Event | None,
        finished: threading.Event,
        reasons: list[str],
    ) -> None:
        """Cancels the job group, the reason in ``reasons``, when the job should stop."""
        started = time.monotonic()
        seen = False  # executors take a while to start; only losing them all counts
        without_workers: float | None = None
        while not finished.wait(0.5):
            now = time.monotonic()
            if now > deadline:
                reasons.append(TIME_LIMIT)
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

    def check(self) -> None:
        self._context()

    def close(self) -> None:
        if self._sc is not None:
            self._sc.stop()
            self._sc = None
