"""Wall time of the Checkov gate: `tierstack preview --all --format tfplan` of the ten AWS and
GCP stacks (the preview and the export), then one Checkov run over the directory of plans, next
to the plain `tierstack preview --all --json` of the same stacks. Median of 3, through the
installed commands, the way `make test` runs them."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tierstack.preview.checkov import run_checkov

RUNS = 3
TIERSTACK = Path(sys.executable).parent / "tierstack"
AZURE = ("azure-",)


def median_seconds(action) -> tuple[float, object]:
    times, outcome = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        outcome = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), outcome


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        plans = Path(work)

        def preview() -> None:
            subprocess.run(
                [str(TIERSTACK), "preview", "--all", "--json", "--no-policy"],
                capture_output=True,
                check=True,
            )

        def export() -> None:
            command = [str(TIERSTACK), "preview", "--all", "--no-policy", "--format", "tfplan"]
            subprocess.run([*command, "--out", str(plans)], capture_output=True, check=True)
            for plan in plans.glob("azure-*.json"):
                plan.unlink()

        plain, _ = median_seconds(preview)
        exported, _ = median_seconds(export)
        scanned, findings = median_seconds(lambda: run_checkov(plans))
        print(f"load average at start: {os.getloadavg()[0]:.1f}")
        print(f"preview --all --json (15 stacks):              {plain:6.2f} s")
        print(f"preview --all --format tfplan (15, 10 plans):  {exported:6.2f} s")
        print(f"checkov over the 10 plans (one run):           {scanned:6.2f} s")
        print(f"export + checkov:                              {exported + scanned:6.2f} s")
        print(f"findings: {len(findings)} over {len({f.check for f in findings})} check ids")


if __name__ == "__main__":
    main()
