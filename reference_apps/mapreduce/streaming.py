"""The Hadoop-streaming contract as plain functions: a map task runs the mapper over one input
split and partitions its output by key; a reduce task sorts one partition and runs the reducer.

Only the standard library is used, so Spark ships this module to its executors by value and the
local engine calls the same functions in threads: both engines give the output EMR would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

STDERR_TAIL = 4000
FAILED = -1  # the partition key of a task's failure record (Spark engines)
RUNNING: set[subprocess.Popen[bytes]] = set()


class ProgramFailed(RuntimeError):
    """A mapper or reducer exited non-zero or ran past its time limit."""

    def __init__(self, reason: str, stderr: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stderr = stderr[-STDERR_TAIL:]


def partition_of(key: bytes, partitions: int) -> int:
    """Hadoop's contract: equal keys meet in one reducer (a stable hash, unlike ``hash()``)."""
    return zlib.crc32(key) % partitions


def key_of(line: bytes) -> bytes:
    """The key is everything before the first TAB, or the whole line."""
    return line.split(b"\t", 1)[0].rstrip(b"\r\n")


def run_program(
    role: str, source: bytes, data: bytes, env: dict[str, str], timeout: float
) -> bytes:
    """Run one streaming program (Python source) with ``data`` on stdin; its stdout, or
    ProgramFailed naming the role, the exit status and the tail of its stderr."""
    with tempfile.TemporaryDirectory(prefix="streaming-") as folder:
        program = Path(folder) / f"{role}.py"
        program.write_bytes(source)
        environment = {**os.environ, **env, "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"}
        process = subprocess.Popen(
            [sys.executable, str(program)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            cwd=folder,
        )
        RUNNING.add(process)
        try:
            stdout, stderr_bytes = process.communicate(data, timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr_bytes = process.communicate()
            stderr = stderr_bytes.decode("utf-8", "replace")
            raise ProgramFailed(f"the {role} ran past the time limit", stderr) from None
        finally:
            RUNNING.discard(process)
    stderr = stderr_bytes.decode("utf-8", "replace")
    if process.returncode != 0:
        status = (
            f"was killed by signal {-process.returncode}"
            if process.returncode < 0
            else f"exited with status {process.returncode}"
        )
        raise ProgramFailed(f"the {role} {status}", stderr)
    return stdout


def kill_all() -> None:
    """Stop every program this process started that still runs (time limit, worker stopping)."""
    for process in list(RUNNING):
        process.kill()


def map_task(
    mapper: bytes,
    name: str,
    data: bytes,
    env: dict[str, str],
    partitions: int,
    timeout: float,
) -> list[tuple[int, bytes]]:
    """Map one split of the input file ``name``: (partition, lines) for each non-empty partition."""
    environment = {**env, "mapreduce_map_input_file": name, "map_input_file": name}
    output = run_program("mapper", mapper, data, environment, timeout)
    buckets: list[list[bytes]] = [[] for _ in range(partitions)]
    for line in output.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            line += b"\n"
        buckets[partition_of(key_of(line), partitions)].append(line)
    return [(index, b"".join(lines)) for index, lines in enumerate(buckets) if lines]


def reduce_task(
    reducer: bytes, blobs: Iterable[bytes], env: dict[str, str], timeout: float
) -> bytes:
    """Sort one partition by key (bytewise, as Hadoop does) and run the reducer over it."""
    lines = [line for blob in blobs for line in blob.splitlines(keepends=True)]
    if not lines:
        return b""
    lines.sort(key=key_of)
    return run_program("reducer", reducer, b"".join(lines), env, timeout)


def splits(data: bytes, size: int) -> list[bytes]:
    """Cut a file into pieces of about ``size`` bytes at line ends (an input split)."""
    pieces: list[bytes] = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + size)
        end = len(data) if end < 0 else end + 1
        pieces.append(data[start:end])
        start = end
    return pieces


def spark_map(
    mapper: bytes, env: dict[str, str], reducers: int, timeout: float
) -> Callable[[tuple[str, bytes]], list[tuple[int, Any]]]:
    """A Spark map function over (file name, split) records: a program's failure becomes a
    ``FAILED`` record, since it is deterministic and Spark must not retry it."""

    def map_split(record: tuple[str, bytes]) -> list[tuple[int, Any]]:
        try:
            return map_task(mapper, record[0], record[1], env, reducers, timeout)
        except ProgramFailed as error:
            return [(FAILED, (error.reason, error.stderr))]

    return map_split


def spark_reduce(
    reducer: bytes, env: dict[str, str], timeout: float
) -> Callable[[int, Iterable[tuple[int, Any]]], Iterator[tuple[int, Any]]]:
    """A Spark partition function: the reducer's output for the partition, or the first failure."""

    def reduce_partition(
        index: int, records: Iterable[tuple[int, Any]]
    ) -> Iterator[tuple[int, Any]]:
        blobs = []
        for key, value in records:
            if key == FAILED:
                yield FAILED, value
                return
            blobs.append(value)
        try:
            yield index, reduce_task(reducer, blobs, env, timeout)
        except ProgramFailed as error:
            yield FAILED, (error.reason, error.stderr)

    return reduce_partition
