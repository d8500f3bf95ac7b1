"""`tierstack report` for all 15 stacks against a base, next to `tierstack preview --all` on
the same tree and machine: the report previews every stack twice (base and head), so its
target is at most 2x the preview's wall time.

The change: a governance tag added to every stack (stacks/blueprints/settings.py), so every
stack is affected and most resources update. Both commands run through the installed console
script, in a temporary git repository holding a copy of this repository's Pulumi project.
"""

from __future__ import annotations

import os
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


def timed(args: list[str], cwd: Path) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        repo = make_repo(Path(tmp))
        load = os.getloadavg()[0]
        preview = timed([str(TIERSTACK), "preview", "--cwd", ".", "--all", "--json"], repo)
        report = timed(
            [str(TIERSTACK), "report", "--cwd", ".", "--base", "main", "-o", "report.md"], repo
        )
        comment = (repo / "report.md").read_text(encoding="utf-8")
        load = max(load, os.getloadavg()[0])
    print(f"load average (1 min, highest seen): {load:.1f}")
    print(f"preview --all, 15 stacks:              {preview:6.1f} s (median of {RUNS})")
    print(f"report, 15 stacks changed, vs base:    {report:6.1f} s (median of {RUNS})")
    print(f"ratio report / preview --all:          {report / preview:6.2f}x (target <= 2x)")
    print(
        f"comment size:                          {len(comment):,} characters, "
        f"{len(comment.encode()):,} bytes (limit 65,536)"
    )


if __name__ == "__main__":
    main()
