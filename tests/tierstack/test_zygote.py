"""`preview_many` through the zygote (one process imports pulumi once and forks a process per
stack): same results as one interpreter per stack, one stack's failure stays its own, its
diagnostics are its own, the timeout holds, and no process is left behind."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tierstack
from tierstack.preview import engine
from tierstack.preview.engine import preview, preview_many
from tierstack.preview.project import list_stacks, load_project

from .conftest import write

STACKS = {
    "quiet": {"mode": "quiet"},
    "chatty": {"mode": "chatty"},
    "broken": {"mode": "broken"},
    "crash": {"mode": "crash"},
    "slow": {"mode": "slow"},
}

PROGRAM = """
import os
import sys
import time

import pulumi
import pulumi_aws as aws

config = pulumi.Config()
mode = config.require("mode")
stack = pulumi.get_stack()
aws.s3.Bucket(f"{stack}-bucket", tags={"stack": stack})
if mode == "chatty":
    print(f"print from {stack}")
    print(f"stderr from {stack}", file=sys.stderr)
    os.write(1, f"fd 1 from {stack}\\n".encode())
elif mode == "broken":
    raise ValueError(f"{stack} is broken on purpose")
elif mode == "crash":
    os._exit(7)
elif mode == "slow":
    time.sleep(120)
aws.sqs.Queue(f"{stack}-queue")
pulumi.export("mode", mode)
"""


@pytest.fixture(scope="module")
def mixed_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stacks that succeed, print, raise, kill their own process and hang."""
    root = tmp_path_factory.mktemp("mixed-project")
    write(root / "Pulumi.yaml", "name: mixed\nruntime: python\n")
    write(root / "__main__.py", PROGRAM)
    for stack, config in STACKS.items():
        lines = "".join(f"  mixed:{key}: {value}\n" for key, value in config.items())
        write(root / f"Pulumi.{stack}.yaml", "config:\n" + lines)
    return root


def _processes_in(directory: Path) -> list[int]:
    """Pids of live or zombie processes whose working directory is `directory`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")).resolve() == directory.resolve():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _zombie_children() -> list[int]:
    """Children of this process that ended and were never reaped."""
    zombies = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            zombies.append(int(entry.name))
    return zombies


@pytest.fixture(scope="module")
def mixed_results(mixed_project: Path) -> list[dict[str, Any]]:
    original = engine.CHILD_TIMEOUT_SECONDS
    engine.CHILD_TIMEOUT_SECONDS = 20  # the slow stack sleeps 120 s
    try:
        return preview_many(mixed_project, list(STACKS), jobs=2, policy_pack=None)
    finally:
        engine.CHILD_TIMEOUT_SECONDS = original


def test_results_come_back_in_the_order_asked(mixed_results: list[dict[str, Any]]) -> None:
    assert [result["stack"] for result in mixed_results] == list(STACKS)


def test_the_other_stacks_survive_a_failing_one(mixed_results: list[dict[str, Any]]) -> None:
    by_stack = {result["stack"]: result for result in mixed_results}
    for stack in ("quiet", "chatty"):
        assert "error" not in by_stack[stack]
        assert by_stack[stack]["outputs"] == {"mode": stack}
        assert [r["name"] for r in by_stack[stack]["resources"] if r["custom"]] == [
            f"{stack}-bucket",
            f"{stack}-queue",
        ]
    broken = by_stack["broken"]
    assert broken["errorKind"] == "program"
    assert broken["error"].endswith("ValueError: broken is broken on purpose")
    assert '__main__.py", line 17' in broken["error"]
    assert [r["name"] for r in broken["resources"] if r["custom"]] == ["broken-bucket"]


def test_a_killed_or_hanging_stack_is_reported(mixed_results: list[dict[str, Any]]) -> None:
    by_stack = {result["stack"]: result for result in mixed_results}
    assert by_stack["crash"]["error"].startswith("the preview process crashed")
    assert "exit 7" in by_stack["crash"]["error"]
    assert by_stack["slow"]["error"] == "the program did not finish within 20 s"
    assert by_stack["slow"]["resources"] == []


def test_diagnostics_are_per_stack(mixed_results: list[dict[str, Any]]) -> None:
    by_stack = {result["stack"]: result for result in mixed_results}
    assert sorted(by_stack["chatty"]["diagnostics"]) == [
        "fd 1 from chatty",
        "print from chatty",
        "stderr from chatty",
    ]
    assert by_stack["quiet"]["diagnostics"] == []
    assert by_stack["broken"]["diagnostics"] == []


def test_no_process_is_left_behind(
    mixed_project: Path, mixed_results: list[dict[str, Any]]
) -> None:
    assert len(mixed_results) == len(STACKS)
    assert _processes_in(mixed_project) == []
    assert _zombie_children() == []


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The SDK lists a resource's dependencies in no fixed order (set iteration)."""
    result = copy.deepcopy(result)
    for record in result["resources"]:
        record["dependencies"].sort()
        for urns in record["propertyDependencies"].values():
            urns.sort()
    return result


def test_zygote_equals_one_process_per_stack_for_the_aws_stacks() -> None:
    project = load_project(tierstack.REPO_ROOT)
    aws_stacks = [name for name in list_stacks(project) if name.startswith("aws-")]
    assert len(aws_stacks) == 5
    forked = preview_many(project.directory, aws_stacks, jobs=2)
    separate = [preview(project.directory, stack) for stack in aws_stacks]
    assert [r["stack"] for r in forked] == aws_stacks
    for one, other in zip(forked, separate, strict=True):
        assert one["summary"]["resources"] > 50
        assert _comparable(one) == _comparable(other)


def test_learned_imports_finish_lazy_packages_first() -> None:
    """Importing a submodule under a still-lazy pulumi package loses the package's names; the
    zygote's loader must not. Fresh interpreters: the test process has them loaded."""
    check = (
        "import importlib, sys, pulumi_aws\n"
        "from tierstack.preview.zygote import load_module\n"
        "{load}('pulumi_aws.acm.certificate')\n"
        "print(hasattr(sys.modules['pulumi_aws.acm'], 'Certificate'))\n"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", check.format(load=load)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout.strip()
        for load in ("load_module", "importlib.import_module")
    ]
    assert outputs == ["True", "False"]


def test_only_loaded_third_party_modules_are_learned() -> None:
    check = (
        "import sys, pulumi_aws, tierstack.preview.engine\n"
        "from tierstack.preview.zygote import _third_party_roots, third_party_modules\n"
        "aws_s3 = pulumi_aws.s3.Bucket\n"
        "print(' '.join(third_party_modules(list(sys.modules), _third_party_roots())))\n"
    )
    learned = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert "pulumi_aws" in learned and "pulumi_aws.s3" in learned
    assert "pulumi_aws.ec2" not in learned  # registered lazily, never loaded
    assert not [name for name in learned if name.startswith(("tierstack", "stacks"))]
    assert "yaml" in learned


def _zygote_for(clouds: list[str]) -> Any:
    from tierstack.preview.zygote import Zygote

    requests = [
        {"project": "p", "stack": f"{cloud}-{i}", "config": {f"{cloud}:region": "r", "p:x": "1"}}
        for i, cloud in enumerate(clouds)
    ]
    return Zygote({"jobs": 2, "timeout": 1, "workdir": "/nonexistent", "requests": requests})


def test_one_cold_import_per_provider_set_while_other_work_exists() -> None:
    zygote = _zygote_for(["aws", "aws", "gcp", "aws"])
    pending = [0, 1, 2, 3]
    assert zygote.providers(0) == frozenset({"aws"})  # the project's own namespace is not one
    assert zygote.next_stack(pending) == 0
    zygote.running[100] = (0, 0.0)
    assert zygote.next_stack(pending) == 2  # gcp overlaps aws's cold import, aws waits
    zygote.running[101] = (2, 0.0)
    del zygote.running[100]
    zygote.to_learn.append(0)
    assert zygote.next_stack(pending, cold_only=True) is None  # aws: learn first, then fork
    zygote.learned.add(zygote.providers(zygote.to_learn.pop()))
    assert zygote.next_stack(pending) == 1
    assert pending == [3]


def test_a_core_never_idles_for_the_learning() -> None:
    zygote = _zygote_for(["aws", "aws"])
    pending = [0, 1]
    zygote.running[100] = (zygote.next_stack(pending), 0.0)
    assert zygote.next_stack(pending) == 1  # same providers, but nothing else to run
