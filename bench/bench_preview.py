"""Wall time of the offline preview (budgets: one stack <= 3 s; the five AWS stacks <= 8 s).

Measures the installed `tierstack` command end to end (process start, imports, program,
policies), the way a user or CI runs it, and `preview_many` over the repository's AWS stacks.
A small pulumi-aws project in a temporary directory gives a figure that does not depend on the
repository's stacks.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import tierstack
from tierstack.preview.engine import preview_many
from tierstack.preview.project import list_stacks, load_project

RUNS = 3
TIERSTACK = Path(sys.executable).parent / "tierstack"
SMALL_PROGRAM = """
import pulumi
import pulumi_aws as aws

vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
for index, zone in enumerate(aws.get_availability_zones().names[:2]):
    aws.ec2.Subnet(f"subnet-{index}", vpc_id=vpc.id, cidr_block=f"10.0.{index}.0/24",
                   availability_zone=zone)
bucket = aws.s3.Bucket("bucket")
aws.s3.BucketVersioning("versioning", bucket=bucket.id,
                        versioning_configuration={"status": "Enabled"})
pulumi.export("bucket", bucket.bucket)
"""


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """(median, min) wall seconds over RUNS runs."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TIERSTACK), "preview", *args], capture_output=True, text=True, check=False
    )


def report(label: str, figures: tuple[float, float], budget: float | None, note: str = "") -> None:
    median, fastest = figures
    verdict = "" if budget is None else ("  within budget" if median <= budget else "  OVER BUDGET")
    budget_text = "" if budget is None else f" (budget {budget:.0f} s)"
    print(f"{label}: median {median:.2f} s, min {fastest:.2f} s{budget_text}{verdict}{note}")


def bench_small_project() -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "Pulumi.yaml").write_text("name: small\nruntime: python\n")
        (root / "__main__.py").write_text(textwrap.dedent(SMALL_PROGRAM))
        (root / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
        done = cli("--cwd", str(root), "--stack", "dev", "--json", "--no-policy")
        if done.returncode != 0:
            print(f"small pulumi-aws project: preview failed: {done.stderr.strip()}")
            return
        report(
            "one stack, small pulumi-aws project (--cwd, 6 resources)",
            timed(lambda: cli("--cwd", str(root), "--stack", "dev", "--json", "--no-policy")),
            3,
        )


def bench_repository() -> None:
    project = load_project(tierstack.REPO_ROOT)
    aws_stacks = [name for name in list_stacks(project) if name.startswith("aws-")]
    if not aws_stacks:
        print("repository: no aws-* stack files yet")
        return
    first = aws_stacks[0]
    results = preview_many(project.directory, aws_stacks)
    failed = [r["stack"] for r in results if r.get("error")]
    counts = ", ".join(f"{r['stack']}={r['summary']['resources']}" for r in results)
    note = f"  [programs failing: {', '.join(failed)}]" if failed else ""
    print(f"repository resources per stack: {counts}")
    report(
        f"one stack, {first} (with policies)",
        timed(lambda: cli("--stack", first, "--json")),
        3,
        note,
    )
    report(
        f"{len(aws_stacks)} AWS stacks in parallel processes (with policies)",
        timed(lambda: preview_many(project.directory, aws_stacks)),
        8,
        note,
    )


if __name__ == "__main__":
    bench_small_project()
    bench_repository()
