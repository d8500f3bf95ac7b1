"""`tierstack report` for all 15 stacks against a base, next to `tierstack preview --all` on
the same tree and machine: the report previews every stack twice (base and head), so its
target is at most 2x the preview's wall time.

Also measured: the same report again with the base previews kept from a first run
(.tierstack/report-cache), as CI re-runs it on every push to a pull request.

The change: a governance tag added to every stack (stacks/blueprints/settings.py), so every
stack is affected and most resources update. Both commands run through the installed console
script, in a temporary git repository holding a copy of this repository's Pulumi project.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tierstack

RUNS = 2
TIERSTACK = Path(sys.executable).parent / "tierstack"
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    shutil.copy(tierstack.REPO_ROOT / "Pulumi.yaml", repo)
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("stacks", "policies"):
        shutil.copytree(tierstack.REPO_ROOT / folder, repo / folder, ignore=ignore)
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "base"], cwd=repo, check=True)
    settings = repo / "stacks/blueprints/settings.py"
    text = settings.read_text()
    settings.write_text(
        text.replace('"project": "tierstack",', '"project": "tierstack", "team": "platform",')
    )
    return repo


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], cwd: Path) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of the command and its children): the CPU
    figure does not depend on how busy a shared machine is."""
    walls, cpus = [], []
    for _ in range(RUNS):
        start, cpu = time.perf_counter(), _cpu()
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu() - cpu)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        repo = make_repo(Path(tmp))
        load = os.getloadavg()[0]
        preview = timed([str(TIERSTACK), "preview", "--cwd", ".", "--all", "--json"], repo)
        command = [str(TIERSTACK), "report", "--cwd", ".", "--base", "main", "-o", "report.md"]
        report = timed([*command, "--no-cache"], repo)
        timed(command, repo)  # keeps the base previews
        warm = timed(command, repo)
        comment = (repo / "report.md").read_text(encoding="utf-8")
        load = max(load, os.getloadavg()[0])
    print(f"load average (1 min, highest seen): {load:.1f}; median of {RUNS} runs")
    print(f"preview --all, 15 stacks:            {preview[0]:6.1f} s wall, {preview[1]:6.1f} s CPU")
    print(f"report, 15 stacks changed, vs base:  {report[0]:6.1f} s wall, {report[1]:6.1f} s CPU")
    print(f"same, base previews kept (CI re-run): {warm[0]:6.1f} s wall, {warm[1]:6.1f} s CPU")
    print(
        f"ratio report / preview --all:        {report[0] / preview[0]:6.2f}x wall, "
        f"{report[1] / preview[1]:.2f}x CPU (target <= 2x)"
    )
    print(
        f"comment size:                          {len(comment):,} characters, "
        f"{len(comment.encode()):,} bytes (limit 65,536)"
    )


if __name__ == "__main__":
    main()
