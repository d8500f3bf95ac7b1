"""Helpers shared by the MapReduce tests: the reference pipe run, a real Spark standalone cluster
(pyspark's own Master and Worker classes, started with its spark-class script) and an SMTP sink."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
JOBS = REPO / "stacks" / "blueprints" / "jobs"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``condition`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


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


class SparkCluster:
    """A Spark standalone master and workers on 127.0.0.1, as the local target runs them."""

    def __init__(self) -> None:
        import pyspark

        self.home = Path(pyspark.__file__).parent
        self.folder = Path(tempfile.mkdtemp(prefix="spark-cluster-"))
        self.port, self.ui_port = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "SPARK_HOME": str(self.home),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOG_DIR": str(self.folder),
            "PYSPARK_PYTHON": sys.executable,
        }
        self.master = self._start(
            "master",
            "org.apache.spark.deploy.master.Master",
            ["--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.ui_port)],
        )
        self.workers: list[subprocess.Popen[bytes]] = []
        wait_until(self.state, 60, f"the Spark master on port {self.port}")

    def _start(self, name: str, klass: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        return subprocess.Popen(
            [str(self.home / "bin" / "spark-class"), klass, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
        )

    def state(self) -> dict | None:
        """The master's JSON status (workers, applications), or None while it starts."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=2) as r:
                return json.load(r)
        except OSError:
            return None

    def alive_workers(self) -> int:
        state = self.state() or {}
        return int(state.get("aliveworkers", 0))

    def add_worker(self, cores: int = 1) -> subprocess.Popen[bytes]:
        index = len(self.workers)
        work = self.folder / f"work-{index}"
        worker = self._start(
            f"worker-{index}",
            "org.apache.spark.deploy.worker.Worker",
            [
                self.url,
                "--host",
                "127.0.0.1",
                "--cores",
                str(cores),
                "--memory",
                "1g",
                "--webui-port",
                str(free_port()),
                "--work-dir",
                str(work),
            ],
        )
        self.workers.append(worker)
        expected = sum(1 for process in self.workers if process.poll() is None)
        wait_until(lambda: self.alive_workers() >= expected, 60, "the Spark worker to register")
        return worker

    def stop(self) -> None:
        for process in [*self.workers, self.master]:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


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
