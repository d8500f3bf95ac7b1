"""Wall time of `tierstack preview --stack azure-<app>` for the five Azure stacks (budget: <= 3 s
each), plus where the time goes: a warm second run of the program in one process (modules
already loaded) and the number of resource aliases azure-native attaches to the resources, which
the SDK turns into URNs one by one."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 3
REPO = Path(__file__).resolve().parents[1]
TIERSTACK = Path(sys.executable).parent / "tierstack"
APPS = ("image-processing", "cloud-drive", "mapreduce", "social-analytics", "iot-gateway")
WARM_PROBE = """
import sys, time
sys.path.insert(0, {repo!r})
import pulumi
from stacks.blueprints.settings import parse_settings
from stacks.program import deploy
from tierstack.preview.monitor import run_program
config = {{"azure-native:location": "westeurope", "tierstack:cloud": "azure",
          "tierstack:app": "mapreduce"}}
aliases = []
def count_aliases(args):
    aliases.append(len(args.opts.aliases or []))
    return None
def program():
    pulumi.runtime.register_stack_transformation(count_aliases)
    return deploy(parse_settings(config), "azure-mapreduce")
def once():
    aliases.clear()
    start = time.perf_counter()
    run_program(program, project="tierstack", stack="azure-mapreduce", config=config,
                preview=True)
    return time.perf_counter() - start
cold = once()
print(cold, once(), sum(aliases), len(aliases))
"""


def preview(stack: str) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(
        [str(TIERSTACK), "preview", "--stack", stack, "--json", "--no-policy"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        result = {"error": done.stderr.strip().splitlines()[-1:] or "no output"}
    return elapsed, result


def main() -> None:
    for app in APPS:
        stack = f"azure-{app}"
        runs = [preview(stack) for _ in range(RUNS)]
        result = runs[-1][1]
        count = result.get("summary", {}).get("resources", "?")
        status = "ok" if not result.get("error") else f"FAILED: {str(result['error'])[-90:]}"
        print(
            f"preview {stack:<24} median {statistics.median(t for t, _ in runs):.2f} s  "
            f"resources {count}  {status}"
        )
    out = subprocess.run(
        [sys.executable, "-c", WARM_PROBE.format(repo=str(REPO))],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        print(f"program probe failed: {out.stderr.strip().splitlines()[-1:]}")
        return
    cold, warm, aliases, resources = out.stdout.split()
    print(
        f"program azure-mapreduce in one process: first run {float(cold):.2f} s, "
        f"second run {float(warm):.2f} s; {aliases} aliases on {resources} resources"
    )


if __name__ == "__main__":
    main()
