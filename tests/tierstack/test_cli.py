"""The `tierstack` console script: output, JSON shape and exit codes (0 ok, 1 a mandatory policy
failed, 2 usage, 3 the program failed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tierstack.records import UNKNOWN

from .conftest import run_cli


def test_json_for_one_stack_of_a_project_outside_this_repo(demo_project: Path) -> None:
    done = run_cli(
        "preview", "--cwd", str(demo_project), "--stack", "prod", "--json", "--no-policy"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"stack", "resources", "outputs", "policy", "summary"} <= set(result)
    assert (result["stack"], result["status"]) == ("prod", "ok")
    assert result["outputs"]["region"] == "us-east-2"
    assert result["outputs"]["bucketName"] == UNKNOWN
    first = result["resources"][1]
    assert {"type", "name", "parent", "inputs"} <= set(first)


def test_all_previews_every_stack_file_in_parallel(demo_project: Path) -> None:
    done = run_cli("preview", "--cwd", str(demo_project), "--all", "--no-policy")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("Offline preview: the program ran under a mock engine") == 2
    assert "Previewing stack demo/dev (offline)" in out
    assert "Previewing stack demo/prod (offline)" in out
    assert " +   ├─ demo:storage:Store" in out
    assert " +   │  ├─ aws:s3/bucket:Bucket" in out
    assert "       2 aws:ec2/subnet:Subnet" in out
    assert "    region:" in out and "eu-west-1" in out
    assert "no diff" in out or "nothing is compared" in out
    overview = out.strip().splitlines()[-3:]
    assert overview[0].split() == ["STACK", "RESOURCES", "MANDATORY", "ADVISORY", "STATUS"]
    assert overview[1].split() == ["dev", "8", "0", "0", "ok"]
    assert overview[2].split() == ["prod", "7", "0", "0", "ok"]
    # Progress, one line on stderr when it is not a terminal; --quiet leaves it out.
    progress = done.stderr.splitlines()[0]
    assert re.fullmatch(r"preview 2 stacks: 2 previewed \(\d+\.\ds\)", progress), done.stderr
    quiet = run_cli("preview", "--cwd", str(demo_project), "--all", "--no-policy", "--quiet")
    assert "previewed" not in quiet.stderr and quiet.stdout.count("Previewing stack") == 2


def test_all_json_is_a_list(demo_project: Path, failing_project: Path) -> None:
    done = run_cli("preview", "--cwd", str(failing_project), "--all", "--json", "--no-policy")
    assert done.returncode == 3
    results = json.loads(done.stdout)
    assert isinstance(results, list) and [r["stack"] for r in results] == ["test"]
    assert "ValueError: unknown size 'huge'" in results[0]["error"]
    assert (results[0]["status"], results[0]["errorAt"]) == ("program-failed", "__main__.py:5")


def test_failing_program_exits_3_with_its_message(failing_project: Path) -> None:
    done = run_cli("preview", "--cwd", str(failing_project), "--stack", "test", "--no-policy")
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "tierstack: test: __main__.py:5: ValueError: unknown size 'huge': use small or large"
    ]
    assert 'File "__main__.py", line 9, in <module>' in done.stdout


def test_usage_errors_exit_2_with_one_line(demo_project: Path, tmp_path: Path) -> None:
    cases = {
        ("--stack", "qa"): "unknown stack 'qa'",
        (): "choose --stack NAME or --all; available stacks: dev, prod",
        ("--all", "--jobs", "0"): "--jobs must be at least 1",
        ("--stack", "dev", "--policy-pack", str(tmp_path / "nope")): "is not a directory",
    }
    for args, message in cases.items():
        done = run_cli("preview", "--cwd", str(demo_project), *args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (args, done.stderr)
        assert len(lines) == 1 and message in lines[0], (args, lines)
    done = run_cli("preview", "--cwd", str(tmp_path), "--all")
    assert done.returncode == 2 and "no Pulumi.yaml" in done.stderr
    done = run_cli("preview", "--stack", "a", "--all")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


def test_help_is_readable() -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    assert "preview" in done.stdout and "offline preview" in done.stdout
    done = run_cli("preview", "--help")
    assert done.returncode == 0
    for option in ("--stack", "--all", "--cwd", "--json", "--no-policy", "--policy-pack"):
        assert option in done.stdout
    for option in ("--install", "--invoke-answers FILE", "--list-invokes", "--timeout SECONDS"):
        assert option in done.stdout
    assert "1  a mandatory policy failed" in done.stdout
    assert "2  usage error" in done.stdout
    assert "3  the program failed" in done.stdout
