"""What every engine shares: the job's programs and inputs, the two ways a job ends early, and
the :class:`Engine` interface the worker and the command line call without knowing which engine
runs the job."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

SPLIT_BYTES = 8 * 1024 * 1024
TIME_LIMIT = "the job exceeded its time limit and was stopped"


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
