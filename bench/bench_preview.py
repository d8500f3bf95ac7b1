"""Wall time of the offline preview, end to end through the installed `tierstack` command
(process start, imports, program, policies, rendering), the way a user or CI runs it.

Budgets: one stack <= 3 s (each cloud); `--all` over the five AWS stacks <= 8 s. Also measured:
`--all` over every stack of the repository, and a small pulumi-aws project in a temporary
directory (a figure that does not depend on the repository's stacks), run with tierstack's SDKs
and in its own virtualenv (the cost of the extra interpreter), against the floor of
`python -c "import pulumi, pulumi_aws"`: target <= 1.5x the floor.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import yaml

import tierstack
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


CLASSES_FLOOR = (
    "import pulumi, pulumi_aws as aws; aws.get_availability_zones; aws.ec2.Vpc; aws.ec2.Subnet; "
    "aws.s3.Bucket; aws.s3.BucketVersioning"
)


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """(median, min) wall seconds over RUNS runs."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def cpu_timed(action: Callable[[], object]) -> float:
    """Median CPU seconds (user + system) of the processes `action` starts and reaps, their
    own children included: on a shared, loaded machine this compares where wall time cannot."""
    times = []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        action()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TIERSTACK), "preview", *args], capture_output=True, text=True, check=False
    )


def report(label: str, figures: tuple[float, float], budget: float | None, note: str = "") -> None:
    median, fastest = figures
    verdict = "" if budget is None else ("  within budget" if median <= budget else "  OVER BUDGET")
    budget_text = "" if budget is None else f" (budget {budget:.0f} s)"
    load = os.getloadavg()[0]
    print(
        f"{label}: median {median:.2f} s, min {fastest:.2f} s{budget_text}{verdict}"
        f"  [load {load:.1f}]{note}"
    )


def failures(done: subprocess.CompletedProcess[str]) -> str:
    """Stacks whose program failed (exit 1 is also a mandatory policy violation: not a failure
    of the preview itself)."""
    lines = [line for line in done.stderr.splitlines() if line.startswith("tierstack:")]
    return f"  [{len(lines)} failing: {'; '.join(lines)[:300]}]" if lines else ""


def bench_small_project() -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "Pulumi.yaml").write_text("name: small\nruntime: python\n")
        (root / "__main__.py").write_text(textwrap.dedent(SMALL_PROGRAM))
        (root / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
        args = ("--cwd", str(root), "--stack", "dev", "--json", "--no-policy")
        done = cli(*args)
        if done.returncode != 0:
            print(f"small pulumi-aws project: preview failed: {done.stderr.strip()}")
            return
        label = "one stack, small pulumi-aws project (--cwd, 6 resources)"
        report(label, timed(lambda: cli(*args)), 3)


def _small_project(root: Path, settings: str) -> Path:
    root.mkdir()
    (root / "Pulumi.yaml").write_text(settings)
    (root / "__main__.py").write_text(textwrap.dedent(SMALL_PROGRAM))
    (root / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    return root


def bench_own_venv() -> None:
    """The same 6-resource program with tierstack's SDKs and in its own venv (same pulumi and
    pulumi-aws versions, so only the extra interpreter and the bootstrap differ)."""
    from importlib.metadata import version

    with tempfile.TemporaryDirectory() as directory:
        plain = _small_project(Path(directory, "plain"), "name: small\nruntime: python\n")
        own = _small_project(
            Path(directory, "own"),
            "name: small\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n",
        )
        (own / "requirements.txt").write_text(
            f"pulumi=={version('pulumi')}\npulumi-aws=={version('pulumi-aws')}\n"
        )
        done = cli("--cwd", str(own), "--stack", "dev", "--no-policy", "--install")
        if done.returncode != 0:
            print(f"own venv: preview failed: {done.stderr.strip()[-300:]}")
            return
        python = str(own / "venv" / "bin" / "python")
        for label, interpreter, project in (
            ("tierstack's SDKs", sys.executable, plain),
            ("its own venv", python, own),
        ):
            args = ("--cwd", str(project), "--stack", "dev", "--no-policy")
            floor_args = [interpreter, "-c", "import pulumi, pulumi_aws"]
            preview_time = timed(lambda a=args: cli(*a))
            floor = timed(lambda f=floor_args: subprocess.run(f, check=True, capture_output=True))
            report(f"small pulumi-aws project, {label}", preview_time, None)
            report(f"  floor: python -c 'import pulumi, pulumi_aws' ({label})", floor, None)
            preview_cpu = cpu_timed(lambda a=args: cli(*a))
            floor_cpu = cpu_timed(
                lambda f=floor_args: subprocess.run(f, check=True, capture_output=True)
            )
            print(
                f"  ratio preview / floor: wall {preview_time[0] / floor[0]:.2f}x, CPU "
                f"{preview_cpu:.2f} s / {floor_cpu:.2f} s = {preview_cpu / floor_cpu:.2f}x "
                "(target <= 1.5x)"
            )
            # pulumi_aws loads its modules lazily: the floor above loads none of the classes
            # the program uses. This one does, and nothing else.
            classes = [interpreter, "-c", CLASSES_FLOOR]
            classes_cpu = cpu_timed(
                lambda f=classes: subprocess.run(f, check=True, capture_output=True)
            )
            print(
                f"  with the program's classes loaded: CPU {classes_cpu:.2f} s; preview / that "
                f"= {preview_cpu / classes_cpu:.2f}x"
            )


def bench_one_stack_per_cloud(stacks: list[str]) -> None:
    for cloud in ("aws", "gcp", "azure"):
        first = next((name for name in stacks if name.startswith(f"{cloud}-")), None)
        if first is None:
            print(f"one stack, {cloud}: no {cloud}-* stack file")
            continue
        note = failures(cli("--stack", first, "--json"))
        report(
            f"one stack, {first} (with policies)", timed(lambda s=first: cli("--stack", s)), 3, note
        )


def project_with_only(stacks: list[str], directory: Path) -> Path:
    """A project that is this repository's program with only `stacks`' config files, so that
    `--all` previews exactly those."""
    project = load_project(tierstack.REPO_ROOT)
    config_dir = directory / "config"
    config_dir.mkdir()
    for stack in stacks:
        (config_dir / f"Pulumi.{stack}.yaml").symlink_to(
            project.stack_config_dir / f"Pulumi.{stack}.yaml"
        )
    settings = yaml.safe_load((tierstack.REPO_ROOT / "Pulumi.yaml").read_text())
    settings.update(main=str(project.program_dir) + "/", stackConfigDir="config")
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(settings))
    return directory


def bench_all(stacks: list[str]) -> None:
    aws_stacks = [name for name in stacks if name.startswith("aws-")]
    with tempfile.TemporaryDirectory() as directory:
        only_aws = project_with_only(aws_stacks, Path(directory))
        note = failures(cli("--cwd", str(only_aws), "--all"))
        report(
            f"--all over the {len(aws_stacks)} AWS stacks (with policies)",
            timed(lambda: cli("--cwd", str(only_aws), "--all")),
            8,
            note,
        )
    note = failures(cli("--all"))
    report(
        f"--all over all {len(stacks)} stacks (with policies)",
        timed(lambda: cli("--all")),
        None,
        note,
    )


if __name__ == "__main__":
    print(f"{os.cpu_count()} cores")
    repo_stacks = list_stacks(load_project(tierstack.REPO_ROOT))
    bench_small_project()
    bench_own_venv()
    bench_one_stack_per_cloud(repo_stacks)
    bench_all(repo_stacks)
