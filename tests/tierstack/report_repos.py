"""Git repositories for the report tests: a copy of this repository's Pulumi project (program,
policy pack, chosen stack files) committed on `main`, and branches that change it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import tierstack

REPO = tierstack.REPO_ROOT
GIT_ENV_ARGS = ("-c", "user.name=Report Test", "-c", "user.email=report@example.invalid")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *GIT_ENV_ARGS, *args], cwd=repo, capture_output=True, text=True, check=True
    )
    return done.stdout


def edit(path: Path, old: str, new: str) -> None:
    """Replaces `old` (which must be there, once) by `new`: a fixture that silently changes
    nothing would make the tests pass for the wrong reason."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: {old!r} found {text.count(old)} times"
    path.write_text(text.replace(old, new), encoding="utf-8")


def project_copy(root: Path, stacks: list[str]) -> Path:
    """This repository's Pulumi project with only `stacks`' stack files, as a git repo on main."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "Pulumi.yaml", root)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "stacks", root / "stacks", ignore=ignore)
    shutil.copytree(REPO / "policies", root / "policies", ignore=ignore)
    # The AWS database checks its region's root in the CA bundle the hosts get from this role.
    shutil.copytree(REPO / "roles/blueprint_host/files", root / "roles/blueprint_host/files")
    for config in (root / "stacks" / "config").glob("Pulumi.*.yaml"):
        if config.name[len("Pulumi.") : -len(".yaml")] not in stacks:
            config.unlink()
    git(root, "init", "--quiet", "--initial-branch=main")
    return root


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)


def branch(repo: Path, name: str, change: Callable[[Path], None]) -> None:
    """A branch off main with `change` applied and committed."""
    git(repo, "checkout", "--quiet", "-B", name, "main")
    change(repo)
    commit(repo, name)
    git(repo, "checkout", "--quiet", "main")
