"""The base of a comparison: which commit, its tree checked out beside the working tree, and
which stacks a change can affect."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from tierstack.preview.project import Project, stack_file

DEFAULT_UPSTREAM = "origin/main"

# Paths (relative to the project) whose change can alter any stack's resources or policies.
_EVERY_STACK = ("Pulumi.yaml", "Pulumi.yml", "pyproject.toml", "uv.lock", "requirements.txt")


class GitError(Exception):
    """The repository or the base ref cannot be used; the message says what to pass instead."""


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
        )
    except FileNotFoundError as error:
        raise GitError("git is not installed") from error
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise GitError(f"git {' '.join(args)}: {message}")
    return done.stdout


def repo_root(directory: Path) -> Path:
    try:
        return Path(_git(directory, "rev-parse", "--show-toplevel").strip())
    except GitError as error:
        raise GitError(f"{directory} is not in a git repository: {error}") from error


def resolve_base(root: Path, base: str | None) -> str:
    """The commit to compare with: the merge base of HEAD and `base` (origin/main by default),
    so that a branch is compared with where it started, as GitHub's pull-request diff does."""
    ref = base or DEFAULT_UPSTREAM
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GitError as error:
        if base:
            raise GitError(f"unknown base {base!r}: pass --base with a branch or commit") from error
        raise GitError(
            f"no {DEFAULT_UPSTREAM} in this repository: fetch it or pass --base REF"
        ) from error
    try:
        return _git(root, "merge-base", "HEAD", ref).strip()
    except GitError as error:
        raise GitError(f"HEAD and {ref} share no history: pass --base REF") from error


def changed_files(root: Path, base: str) -> list[str]:
    """Files that differ between `base` and the working tree (staged, unstaged, untracked),
    relative to the repository root."""
    tracked = _git(root, "diff", "--name-only", "--no-renames", base, "--").splitlines()
    untracked = _git(root, "ls-files", "--others", "--exclude-standard").splitlines()
    own_state = ".tierstack/"  # the report's own cache, even where .gitignore does not say so
    return sorted(name for name in set(tracked) | set(untracked) if not name.startswith(own_state))


@contextlib.contextmanager
def base_tree(root: Path, commit: str) -> Iterator[Path]:
    """The base commit checked out in a temporary, detached worktree; removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="tierstack-base-"))
    tree = parent / "tree"
    try:
        _git(root, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        yield tree
    finally:
        with contextlib.suppress(GitError):
            _git(root, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(parent, ignore_errors=True)
        with contextlib.suppress(GitError):
            _git(root, "worktree", "prune")


def _stack_keys(project: Project, stack: str) -> tuple[str | None, str | None]:
    """The (cloud, app) a tierstack stack file declares; (None, None) for other projects."""
    try:
        data = yaml.safe_load(stack_file(project, stack).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None, None
    config = data.get("config") or {}
    cloud, app = config.get(f"{project.name}:cloud"), config.get(f"{project.name}:app")
    return (str(cloud) if cloud else None, str(app) if app else None)


def affected_stacks(
    project: Project, repo: Path, changed: list[str], known: list[str]
) -> list[str]:
    """Stacks whose preview a change to `changed` (repo-relative paths) can alter.

    A stack file changes its stack; a blueprint module its app's stacks; a cloud package its
    cloud's stacks; anything else in the program, the policy pack or the project's dependencies
    every stack. Other files (roles, apps, docs, the CLI itself) change no stack."""
    project_dir = project.directory.relative_to(repo)
    program = project.program_dir.relative_to(repo)
    config_dir = project.stack_config_dir.relative_to(repo)
    policies = project_dir / "policies"
    keys = {stack: _stack_keys(project, stack) for stack in known}
    chosen: set[str] = set()
    for name in changed:
        path = Path(name)
        if (
            path.parent == config_dir
            and path.name.startswith("Pulumi.")
            and path.name not in _EVERY_STACK
        ):
            stack = path.name[len("Pulumi.") :].rsplit(".", 1)[0]
            chosen.update({stack} & set(known))
        elif path.parent == program / "blueprints" and path.suffix == ".py":
            app = path.stem.replace("_", "-")
            of_app = {s for s, (_, a) in keys.items() if a == app}
            chosen.update(of_app or known)  # model.py, settings.py: every stack
        elif path.is_relative_to(program) and len(path.relative_to(program).parts) > 1:
            top = path.relative_to(program).parts[0]
            clouds = {c for c, _ in keys.values()}
            if top in clouds:
                chosen.update(s for s, (c, _) in keys.items() if c == top)
            else:
                chosen.update(known)
        elif (
            path.is_relative_to(program)
            or path.is_relative_to(policies)
            or (path.parent == project_dir and path.name in _EVERY_STACK)
        ):
            chosen.update(known)
    return sorted(chosen)
