"""The GitHub workflows: actionlint clean, pinned actions, least permissions, no secret on a
fork's path, and the offline report job's own commands run in a fresh clone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import tierstack

from .report_repos import branch, commit, edit, project_copy

WORKFLOWS = tierstack.REPO_ROOT / ".github" / "workflows"
ACTIONLINT = Path(sys.executable).parent / "actionlint"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def all_workflows() -> dict[str, dict[str, Any]]:
    return {path.name: load(path.name) for path in sorted(WORKFLOWS.glob("*.yml"))}


def test_actionlint_is_clean() -> None:
    done = subprocess.run(
        [str(ACTIONLINT), "-no-color", "-oneline"],
        cwd=tierstack.REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert set(all_workflows()) == {
        "pull-request.yml",
        "pull-request-comment.yml",
        "deploy.yml",
        "drift.yml",
    }


def _uses(node: Any) -> list[str]:
    """Every `uses:` value in a parsed workflow (steps and reusable-workflow jobs alike)."""
    if isinstance(node, dict):
        found = [node["uses"]] if isinstance(node.get("uses"), str) else []
        return found + [u for value in node.values() for u in _uses(value)]
    if isinstance(node, list):
        return [u for value in node for u in _uses(value)]
    return []


def test_actions_pinned_to_full_commits_with_their_version() -> None:
    text = "\n".join(path.read_text() for path in WORKFLOWS.glob("*.yml"))
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses
    # The text and the parsed workflows agree: no `uses:` written in another form escapes.
    parsed = [u for workflow in all_workflows().values() for u in _uses(workflow)]
    assert sorted(parsed) == sorted(action for action, _ in uses)
    for action, comment in uses:
        assert PINNED.match(action), action
        assert re.match(r" # v\d+\.\d+\.\d+$", comment), (action, comment)


def test_least_permissions_and_concurrency() -> None:
    for name, workflow in all_workflows().items():
        assert workflow["permissions"] == {}, f"{name}: nothing granted at the top"
        assert workflow["concurrency"]["group"], name
        for job_name, job in workflow["jobs"].items():
            granted = job.get("permissions")
            assert isinstance(granted, dict), f"{name}/{job_name} declares its permissions"
            assert "write-all" not in str(granted)
            assert granted.get("contents", "read") == "read", f"{name}/{job_name}"


def _secrets_in(node: Any) -> bool:
    return "secrets." in yaml.safe_dump(node)


def test_fork_pull_requests_reach_no_secret() -> None:
    workflow = load("pull-request.yml")
    assert set(workflow["on"]) == {"pull_request"}, "never pull_request_target"
    jobs = workflow["jobs"]
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"

    # Which jobs run for a fork: the ones not gated on the same repository, directly or
    # through the job they need.
    def gated(name: str) -> bool:
        job = jobs[name]
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        return same_repo in str(job.get("if", "")) or any(gated(n) for n in needs)

    fork_jobs = [name for name in jobs if not gated(name)]
    assert sorted(fork_jobs) == ["lint-and-unit", "report"]
    for name in fork_jobs:
        assert not _secrets_in(jobs[name]), name
        assert jobs[name]["permissions"] == {"contents": "read"}, name
        for step in jobs[name]["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    assert _secrets_in(jobs["cloud-preview"]) and gated("cloud-preview")
    # The commenting workflow has write access, so it never runs the pull request's code.
    comment = load("pull-request-comment.yml")
    assert set(comment["on"]) == {"workflow_run"}
    for job in comment["jobs"].values():
        assert not _secrets_in(job)
        assert all("run" not in step for step in job["steps"])
        assert not any("checkout" in step.get("uses", "") for step in job["steps"])


def test_deploys_go_through_environments_with_a_saved_plan() -> None:
    deploy = load("deploy.yml")["jobs"]["deploy"]
    assert "prod" in deploy["environment"] and "dev" in deploy["environment"]
    commands = "\n".join(step.get("run", "") for step in deploy["steps"])
    assert "--save-plan plan.json" in commands and "pulumi up" in commands
    assert "--plan plan.json" in commands
    drift = load("drift.yml")["jobs"]["drift"]
    commands = "\n".join(step.get("run", "") for step in drift["steps"])
    assert "--refresh --expect-no-changes" in commands


# --- the offline report job, run for real ---------------------------------------------------

CONTEXT = {
    "github.base_ref": "main",
    "github.server_url": "https://github.example",
    "github.repository": "acme/infra",
    "github.run_id": "4242",
    "github.event.pull_request.number": "7",
}


def _substitute(value: str, outputs: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key.startswith("steps.") and key.endswith(".outputs.status"):
            return outputs["status"]
        return CONTEXT[key]  # an unknown expression fails the test: add it above

    return EXPRESSION.sub(one, value)


@pytest.fixture(scope="module")
def pull_request_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of a repository whose pull request adds a queue, as actions/checkout
    leaves it: the branch checked out, origin/main fetched."""
    root = tmp_path_factory.mktemp("workflow")
    origin = project_copy(root / "origin", ["aws-image-processing"])
    commit(origin, "base")
    branch(
        origin,
        "add-queue",
        lambda repo: edit(
            repo / "stacks/blueprints/image_processing.py",
            "        queues=(\n",
            '        queues=(\n            Queue("thumbnail-jobs", "thumbnail requests"),\n',
        ),
    )
    clone = root / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", "--branch", "add-queue", str(origin), str(clone)], check=True
    )
    return clone


# Stand-ins for the two installers of the set-up step (the real ones would download the locked
# environment, which this test already runs in): they record their arguments, and `uv sync`
# links the project's .venv to this interpreter's environment, which is what it would install.
STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
if [ "$(basename "$0")" = uv ] && [ "$1" = sync ]; then ln -s "{prefix}" .venv; fi
"""


def _stub_installers(folder: Path) -> Path:
    folder.mkdir()
    for name in ("pipx", "uv"):
        tool = folder / name
        tool.write_text(STUB.format(log=folder / "calls", prefix=sys.prefix), encoding="utf-8")
        tool.chmod(0o755)
    return folder / "calls"


def test_offline_job_steps_produce_the_comment(pull_request_clone: Path, tmp_path: Path) -> None:
    """Every `run:` step of the job, read from the workflow itself, in order, in a fresh clone,
    with the environment GitHub gives: `env:` of the workflow and the step, expressions
    substituted, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / GITHUB_PATH files. The `tierstack`
    command comes only from what the set-up step adds to GITHUB_PATH."""
    workflow = load("pull-request.yml")
    job = workflow["jobs"]["report"]
    output, summary, github_path = tmp_path / "output", tmp_path / "summary", tmp_path / "path"
    calls = _stub_installers(tmp_path / "stubs")
    venv_bin = str(Path(sys.executable).parent)
    system_path = [p for p in os.environ["PATH"].split(os.pathsep) if p and p != venv_bin]
    environment = {
        **os.environ,
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_PATH": str(github_path),
        **workflow["env"],
    }
    ran, artifact = [], None
    for step in job["steps"]:
        if "uses" in step:
            if step["uses"].startswith("actions/upload-artifact@"):
                artifact = step["with"]["path"]
            continue  # checkout: the clone above; cache and upload: GitHub's services
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        ) if output.exists() else {}  # fmt: skip
        added = github_path.read_text().split() if github_path.exists() else []
        path = os.pathsep.join([*reversed(added), str(calls.parent), *system_path])
        env = {k: _substitute(str(v), outputs) for k, v in (step.get("env") or {}).items()}
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=pull_request_clone,
            env={**environment, "PATH": path, **env},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, (step.get("name"), done.stdout, done.stderr)
        ran.append(step["name"])
    assert ran == [step["name"] for step in job["steps"] if "run" in step]
    assert calls.read_text().splitlines() == [
        f"pipx install --quiet uv=={workflow['env']['UV_VERSION']}",
        "uv sync --frozen --quiet",
    ]
    assert github_path.read_text().split() == [str(pull_request_clone / ".venv" / "bin")]
    assert {
        "Python environment",
        "Report against the base branch",
        "Job summary",
        "Pull request number for the comment",
        "Mandatory policies and previews must pass",
    } <= set(ran)
    folder = pull_request_clone / artifact
    comment = (folder / "comment.md").read_text(encoding="utf-8")
    assert comment.startswith("<!-- tierstack-report -->\n")
    assert "**1 stack: 8 to create, 0 to update, 0 to replace, 0 to delete," in comment
    assert "`+` **create** `aws:sqs/queue:Queue` **thumbnail-jobs-dlq**" in comment
    assert summary.read_text(encoding="utf-8") == (folder / "full.md").read_text(encoding="utf-8")
    assert (folder / "pr-number").read_text() == "7\n"
    assert "status=0" in output.read_text()
