"""The ``local`` engine: the map and reduce tasks as processes on this machine, for one host
and for the tests (the same :mod:`streaming` functions a cluster runs)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

from .. import streaming
from ..streaming import ProgramFailed
from .base import SPLIT_BYTES, TIME_LIMIT, Engine, InputFile, JobCancelled, JobFailed, Program


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
                raise JobFailed(TIME_LIMIT)
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
