"""blueprint_host's app-role task (tasks/database_role.yml) as Ansible runs it, on this machine:
the step's exit 3 (`pending`, the database server did not answer within the wait) neither fails
nor changes the converge; its exit 2 (a setting waiting cannot fix) fails it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tierstack.local.target import REPO

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
TASK = "Create each app's own database login as the admin"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def converge(tmp_path: Path, database_url: str, admin_user: str) -> tuple[dict[str, Any], Any]:
    """Runs the task file on localhost for cloud-drive with `database_url`; (the play's stats
    for localhost, the task's result for the app). The code root is this checkout and this
    interpreter, laid out as python_app installs them."""
    root = tmp_path / "opt"
    (root / "venv" / "bin").mkdir(parents=True)
    python = root / "venv" / "bin" / "python"
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    (root / "src").symlink_to(REPO)
    playbook = tmp_path / "play.yml"
    role_vars = {
        "python_app_root": str(root),
        "blueprint_host_apps": ["cloud-drive"],
        "blueprint_host_envs": {
            "cloud-drive": {
                "DATABASE_URL": database_url,
                "DATABASE_PASSWORD_REF": "aws-secretsmanager://drive-app",
            }
        },
        "blueprint_host_database_admin_user": admin_user,
        "blueprint_host_database_admin_password_ref": "aws-secretsmanager://drive-admin",
        "blueprint_host_database_role_wait": 1,
    }
    play = {
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {
                "ansible.builtin.include_role": {
                    "name": "blueprint_host",
                    "tasks_from": "database_role",
                },
                "vars": role_vars,
            }
        ],
    }
    playbook.write_text(yaml.safe_dump([play]))
    result = subprocess.run(
        [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={
            "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
        },
    )
    report = json.loads(result.stdout)
    [task] = [t for t in report["plays"][0]["tasks"] if t["task"]["name"].endswith(TASK)]
    [item] = task["hosts"]["localhost"]["results"]
    return report["stats"]["localhost"], item


def test_a_server_that_does_not_answer_leaves_the_converge_ok(tmp_path: Path) -> None:
    url = f"postgresql://drive_app@127.0.0.1:{closed_port()}/drive?sslmode=require"
    stats, item = converge(tmp_path, url, "tierstack")
    assert (item["rc"], item["stdout"], item["changed"], item["failed"]) == (
        3,
        "pending",
        False,
        False,
    )
    assert "does not answer" in item["stderr"]
    assert stats["failures"] == 0 and stats["changed"] == 0, stats


def test_a_setting_waiting_cannot_fix_fails_the_converge(tmp_path: Path) -> None:
    """The app's URL names the admin login: exit 2, the converge fails."""
    url = f"postgresql://tierstack@127.0.0.1:{closed_port()}/drive?sslmode=require"
    stats, item = converge(tmp_path, url, "tierstack")
    assert (item["rc"], item["failed"]) == (2, True)
    assert "names the admin login tierstack" in item["stderr"]
    assert stats["failures"] == 1, stats
