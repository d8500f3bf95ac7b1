"""Thin wrappers over the `podman` command: the hosts are plain systemd containers on a private
network, so a handful of podman calls is all the local target needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence

IMAGE = "localhost/tierstack-host:bookworm"


class PodmanError(RuntimeError):
    """A podman call failed; the message says which one and why, in one line."""


def require_podman() -> None:
    """Fails with the fix when podman or the base image is missing."""
    if os.geteuid() != 0:
        raise PodmanError("run as root: the hosts need a rootful Podman network")
    if shutil.which("podman") is None:
        raise PodmanError("podman is not installed: run `make setup` (as root) first")
    if run(["image", "exists", IMAGE], check=False).returncode != 0:
        raise PodmanError(f"the host image {IMAGE} is missing: run `make setup` to build it")


def run(
    args: Sequence[str], *, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs `podman ARGS`, returning its output; raises PodmanError with stderr on failure."""
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=False, input=stdin
    )
    if check and result.returncode != 0:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        reason = detail[-1] if detail else f"exit code {result.returncode}"
        raise PodmanError(f"podman {' '.join(args[:2])} failed: {reason}")
    return result


def exists(kind: str, name: str) -> bool:
    """Whether a container, network or volume of that name exists."""
    return run([kind, "exists", name], check=False).returncode == 0


def running(name: str) -> bool:
    """Whether the container exists and is running."""
    result = run(["container", "inspect", name], check=False)
    if result.returncode != 0:
        return False
    return bool(json.loads(result.stdout)[0]["State"]["Running"])


def exec_(
    name: str, command: Sequence[str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs a command inside a host."""
    return run(["exec", name, *command], check=check)
