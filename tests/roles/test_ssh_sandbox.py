"""sshd runs in common's systemd sandbox and still does its job: the administrator logs in over
SSH with a key and administers with sudo (a broken or over-tight sshd fails here), and the
sandbox is in force for the sessions it starts."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tierstack.local.inventory import ADMIN_USER

pytestmark = pytest.mark.hosts

HOSTS = ("lb", "app1", "services")
MAX_EXPOSURE = 5.4
"""Measured on a converged host (9.6 without the sandbox; BENCHMARKS.md)."""


def ssh(target: Any, host: str, command: str) -> subprocess.CompletedProcess[str]:
    """Runs `command` on `host` over SSH as the administrator, with the target's key and the
    pinned host keys (no password, no agent)."""
    return subprocess.run(
        [
            "ssh",
            "-i",
            str(target.ssh_key),
            "-o",
            f"UserKnownHostsFile={target.state_dir / 'known_hosts'}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
            f"{ADMIN_USER}@{target.ip(host)}",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("name", HOSTS)
def test_the_admin_logs_in_with_a_key_and_administers_with_sudo(target: Any, name: str) -> None:
    result = ssh(
        target,
        name,
        "id -un; sudo -n id -u;"
        " sudo -n sh -c 'echo written > /etc/tierstack-ssh-check; cat /etc/tierstack-ssh-check;"
        " rm /etc/tierstack-ssh-check'",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [ADMIN_USER, "0", "written"]


@pytest.mark.parametrize("name", HOSTS)
def test_the_sandbox_is_in_force_for_ssh_sessions(
    hosts: dict[str, Any], target: Any, name: str
) -> None:
    shown = hosts[name].check_output(
        "systemctl show ssh -p PrivateTmp -p ProtectKernelTunables -p RestrictNamespaces"
        " -p LockPersonality -p SystemCallArchitectures"
    )
    assert dict(line.split("=", 1) for line in shown.splitlines()) == {
        "PrivateTmp": "yes",
        "ProtectKernelTunables": "yes",
        "RestrictNamespaces": "yes",
        "LockPersonality": "yes",
        "SystemCallArchitectures": "native",
    }
    # Root outside sshd's sandbox can create a network namespace on these hosts (checked with
    # `podman exec`); root in a session sshd started cannot.
    assert hosts[name].run("unshare --net true").rc == 0
    result = ssh(target, name, "sudo -n unshare --net true && echo unshared; echo done")
    assert result.stdout.split() == ["done"], result.stdout + result.stderr


def test_sshd_exposure_is_at_most_the_measured_figure(hosts: dict[str, Any]) -> None:
    report = hosts["app1"].check_output("systemd-analyze security --no-pager ssh.service")
    found = re.search(r"Overall exposure level for ssh\.service: (\d+\.\d+)", report)
    assert found, report
    assert float(found.group(1)) <= MAX_EXPOSURE, report
