"""The skeleton every managed cloud cluster (EMR, Dataproc, HDInsight) shares: upload the two
programs and the inputs to the job-data bucket (the cluster's file system on HDInsight), submit
a job over them (a Hadoop streaming step, or a Spark batch on HDInsight), poll it
until it ends (cancelling it at the time limit or when the worker stops), collect its part files
and remove everything the run wrote. A cloud's engine only says how to do each step."""

from __future__ import annotations

import threading
import time
import uuid
from abc import abstractmethod
from typing import Any, ClassVar

from .base import TIME_LIMIT, Engine, InputFile, JobCancelled, JobFailed, Program

STREAMING_MAPPER = "python3 mapper.py"
STREAMING_REDUCER = "python3 reducer.py"


def safe_key(name: str) -> str:
    """A file name Hadoop and S3 both take as-is (the mapper sees it as the document id)."""
    cleaned = "".join(char if char.isalnum() or char in "._-" else "_" for char in name)
    return cleaned.strip("._")[:100] or "input"


def streaming_args(program: Program, reducers: int, inputs: list[str], output: str) -> list[str]:
    """Hadoop streaming's options for one run, as the stack's own step passes them."""
    args = ["-numReduceTasks", str(reducers)]
    for key, value in sorted(program.env.items()):
        args += ["-cmdenv", f"{key}={value}"]
    args += ["-mapper", STREAMING_MAPPER, "-reducer", STREAMING_REDUCER]
    for folder in inputs:
        args += ["-input", folder]
    return [*args, "-output", output]


def output_prefix(program: Program, run: str) -> str:
    """Where a run's parts go: the stack grants the cluster's nodes ``output/<job>/``."""
    return f"output/{program.name}/{run}/"


class ManagedEngine(Engine):
    """Submit, poll, collect. Each input file goes in its own folder (names made Hadoop-safe),
    so that its name is the mapper's document id."""

    DONE: ClassVar[str]
    TERMINAL: ClassVar[set[str]]

    def __init__(self, prefix: str, poll_seconds: float) -> None:
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.poll_seconds = poll_seconds

    @abstractmethod
    def url(self, key: str) -> str:
        """The bucket URL of ``key`` as the cluster reads it."""

    @abstractmethod
    def upload(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def listing(self, prefix: str) -> list[str]:
        """The keys under ``prefix``."""

    @abstractmethod
    def download(self, key: str) -> bytes: ...

    @abstractmethod
    def submit(self, program: Program, run: str, reducers: int, inputs: list[str]) -> str:
        """Starts the streaming job over the ``inputs`` folders; returns its id."""

    @abstractmethod
    def status(self, job: str) -> tuple[str, dict[str, Any]]:
        """The job's state and the service's whole status record."""

    @abstractmethod
    def cancel_job(self, job: str) -> None:
        """Asks the service to stop the job; logs, never raises, when it cannot."""

    @abstractmethod
    def failure(self, state: str, status: dict[str, Any]) -> JobFailed:
        """Why the job ended in ``state`` other than done, in the service's words."""

    def support_files(self, run: str) -> dict[str, bytes]:
        """Other files the run needs next to the programs (HDInsight's Spark driver)."""
        return {}

    def run_prefix(self, run: str) -> str:
        """The folder every file one run uploads goes in (one place, so cleanup sees them all)."""
        return f"{self.prefix}{self.name}/{run}"

    def program_keys(self, run: str) -> list[str]:
        base = self.run_prefix(run)
        return [f"{base}/mapper.py", f"{base}/reducer.py"]

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
        base = self.run_prefix(run)
        written = self.program_keys(run)
        try:
            self.upload(written[0], program.mapper)
            self.upload(written[1], program.reducer)
            for key, data in self.support_files(run).items():
                written.append(key)
                self.upload(key, data)
            folders = []
            for index, item in enumerate(inputs):
                key = f"{base}/input/{index:05d}/{safe_key(item.name)}"
                self.upload(key, item.data)
                written.append(key)
                folders.append(self.url(f"{base}/input/{index:05d}/"))
            job = self.submit(program, run, reducers, folders)
            state, status = self._wait(job, deadline, cancel)
            if state != self.DONE:
                raise self.failure(state, status)
            return self._collect(output_prefix(program, run))
        finally:
            for key in written:
                self.delete(key)

    def _wait(
        self, job: str, deadline: float, cancel: threading.Event | None
    ) -> tuple[str, dict[str, Any]]:
        while True:
            state, status = self.status(job)
            if state in self.TERMINAL:
                return state, status
            stopping = cancel is not None and cancel.is_set()
            if stopping or time.monotonic() > deadline:
                self.cancel_job(job)
                if stopping:
                    raise JobCancelled("the worker is stopping")
                raise JobFailed(TIME_LIMIT)
            wait_for = min(self.poll_seconds, max(0.0, deadline - time.monotonic()))
            if cancel is not None:
                cancel.wait(wait_for)
            else:
                time.sleep(wait_for)

    def _collect(self, prefix: str) -> list[bytes]:
        """The job's part files in order; they are read, then removed from the bucket."""
        keys = sorted(self.listing(prefix))
        parts = [self.download(key) for key in keys if key.rpartition("/")[2].startswith("part-")]
        for key in keys:
            self.delete(key)
        return parts
