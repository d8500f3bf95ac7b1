"""Helpers shared by the MapReduce tests: the reference pipe run, the app and job runners as
processes, and an SMTP sink. The Spark cluster helper lives in the app (it serves the benchmark
and development too)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from reference_apps.mapreduce.cluster import SparkCluster, free_port, wait_until
from reference_apps.mapreduce.engines import Engine, InputFile, JobFailed, Program

__all__ = ["SparkCluster", "free_port", "wait_until"]

REPO = Path(__file__).resolve().parents[3]
JOBS = REPO / "stacks" / "blueprints" / "jobs"
ENGINE_FILES = {"a.txt": "The cloud and the fog\r\n", "b,c.txt": "Fog, café\n"}
"""The managed engines' inputs: a CRLF line, a comma in a name and a non-ASCII word."""


def run_in_background(
    engine: Engine, program: Program, *, reducers: int, timeout: float
) -> tuple[threading.Thread, dict[str, Any]]:
    """Runs ``program`` over ENGINE_FILES on its own thread, so the test can play the cluster
    meanwhile; the outcome gets "parts" or "error" (the JobFailed) once the thread ends."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["parts"] = engine.run(
                program,
                [InputFile(name, text.encode()) for name, text in ENGINE_FILES.items()],
                reducers=reducers,
                timeout=timeout,
            )
        except JobFailed as error:
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def pipe(job: str, files: dict[str, str | bytes], input_format: str = "documents") -> str:
    """What a Hadoop streaming step computes, by hand: each file through the mapper (with the
    file name Hadoop would set), ``LC_ALL=C sort`` of everything, then the reducer."""
    folder = JOBS / job.replace("-", "_")
    mapped = b""
    for name, text in files.items():
        data = text.encode() if isinstance(text, str) else text
        env = {**os.environ, "mapreduce_map_input_file": name, "INPUT_FORMAT": input_format}
        mapped += subprocess.run(
            [sys.executable, str(folder / "mapper.py")],
            input=data,
            capture_output=True,
            check=True,
            env=env,
        ).stdout
    shuffled = subprocess.run(
        ["sort", "-t", "\t", "-k1,1", "-s"],
        input=mapped,
        capture_output=True,
        check=True,
        env={**os.environ, "LC_ALL": "C"},
    ).stdout
    return subprocess.run(
        [sys.executable, str(folder / "reducer.py")],
        input=shuffled,
        capture_output=True,
        check=True,
    ).stdout.decode()


def sorted_lines(text: str) -> list[str]:
    return sorted(text.splitlines())


class MailCapture:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, _server: object, _session: object, envelope: object) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content)  # type: ignore[attr-defined]
        )
        return "250 OK"


class Deployment:
    """The app under gunicorn and job-runner workers as real processes, sharing one environment
    (the backends by URL), the way the app and worker tiers run them."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = folder
        self.env = {**os.environ, "PUBLIC_URL": self.url, "PROXY_HOPS": "0", **env}
        self.workers: list[subprocess.Popen[bytes]] = []
        self.names: dict[int, str] = {}
        self.started = 0
        bin_dir = Path(sys.executable).parent
        self.web = self._spawn(
            "web",
            [
                str(bin_dir / "gunicorn"),
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{self.port}",
                "reference_apps.mapreduce.wsgi:app",
            ],
        )
        wait_until(self._ready, 60, f"gunicorn on port {self.port}")

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        return subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )

    def _ready(self) -> bool:
        if self.web.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.log('web')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def start_worker(self, **overrides: str) -> subprocess.Popen[bytes]:
        """A job-runner process; ``overrides`` change its environment only."""
        self.started += 1
        name = f"worker-{self.started}"
        log = (self.folder / f"{name}.log").open("ab")
        worker = subprocess.Popen(
            [sys.executable, "-m", "reference_apps.mapreduce.worker"],
            env={**self.env, **overrides},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self.workers.append(worker)
        self.names[worker.pid] = name
        return worker

    def worker_log(self, worker: subprocess.Popen[bytes]) -> str:
        return self.log(self.names[worker.pid])

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    def wait_for_status(
        self, session: object, job_url: str, statuses: set[str], timeout: float
    ) -> dict:
        def reached() -> dict | None:
            job = session.get(self.url + job_url, timeout=5).json()  # type: ignore[attr-defined]
            return job if job["status"] in statuses else None

        return wait_until(reached, timeout, f"{job_url} to be {' or '.join(sorted(statuses))}")  # type: ignore[return-value]

    def stop(self) -> None:
        self.stop_workers()
        for process in [self.web]:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
