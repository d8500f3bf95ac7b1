"""A Spark standalone cluster on 127.0.0.1 from pyspark's own Master and Worker classes (its
``spark-class`` script, Java 17), for development, the tests and the benchmark:

    python -m reference_apps.mapreduce.cluster --workers 2   # prints the URL; Ctrl-C stops

The local target runs the same classes as systemd units on its services and worker hosts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cores", type=int, default=1, help="cores per worker")
    args = parser.parse_args()
    cluster = SparkCluster()
    try:
        for _ in range(args.workers):
            cluster.add_worker(args.cores)
        print(cluster.url, flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    main()
