"""Wall time of `tierstack preview --stack gcp-<app>` for the five GCP stacks (budget: <= 3 s
each), with where the time goes: the first use of pulumi_gcp.compute (the slowest provider module
to load) measured in a fresh process, and the program itself once its modules are loaded."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 3
REPO = Path(__file__).resolve().parents[1]
TIERSTACK = Path(sys.executable).parent / "tierstack"
APPS = ("image-processing", "cloud-drive", "mapreduce", "social-analytics", "iot-gateway")
IMPORT_PROBE = """
import time
import pulumi_gcp
start = time.perf_counter()
pulumi_gcp.compute.Network
print(time.perf_counter() - start)
"""
WARM_PROBE = """
import sys, time
sys.path.insert(0, {repo!r})
from stacks.blueprints.settings import parse_settings
from stacks.program import deploy
from tierstack.preview.monitor import run_program
config = {{"gcp:project": "tierstack-dev", "gcp:region": "europe-west1",
          "tierstack:cloud": "gcp", "tierstack:app": "mapreduce"}}
def once():
    start = time.perf_counter()
    run_program(lambda: deploy(parse_settings(config), "gcp-mapreduce"), project="tierstack",
                stack="gcp-mapreduce", config=config, preview=True)
    return time.perf_counter() - start
cold = once()
print(cold, once())
"""


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def probe(code: str) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    return [float(value) for value in out.split()]


def main() -> None:
    for app in APPS:
        stack = f"gcp-{app}"
        times = [wall([str(TIERSTACK), "preview", "--stack", stack]) for _ in range(RUNS)]
        print(
            f"preview {stack:<22} median {statistics.median(times):.2f} s  "
            f"min {min(times):.2f} s  (runs: {RUNS})"
        )
    (compute,) = probe(IMPORT_PROBE)
    print(f"first use of pulumi_gcp.compute: {compute:.2f} s")
    cold, warm = probe(WARM_PROBE.format(repo=str(REPO)))
    print(f"gcp-mapreduce program: {cold:.2f} s with module loading, {warm:.2f} s once loaded")


if __name__ == "__main__":
    main()
