"""Runs a playbook's variable checks alone: the blueprint assertions and every role's
meta/argument_specs.yml, against localhost with `--check` and a tag no task carries, so only the
tasks tagged `always` (the checks, and Ansible's own argument validation) run and nothing on this
machine is changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tierstack.local.target import REPO, describe_failure


def boot_vars(script: str) -> dict[str, Any]:
    """The vars.yml a cloud VM's boot script writes for ansible-pull, parsed back out."""
    body = script.split("<<'TIERSTACK_VARS'\n", 1)[1].split("TIERSTACK_VARS\n", 1)[0]
    return yaml.safe_load(body)


def check_variables(
    playbook: Path, variables: dict[str, Any], workdir: Path
) -> subprocess.CompletedProcess[str]:
    """ansible-playbook PLAYBOOK with VARIABLES as extra vars (as ansible-pull passes
    vars.yml), checks only."""
    extra_vars = workdir / "vars.json"
    extra_vars.write_text(json.dumps({**variables, "ansible_become": False}))
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "--check",
            "--tags",
            "tierstack-checks-only",
            "-e",
            f"@{extra_vars}",
            str(playbook),
        ],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_GATHERING": "explicit"},  # the checks need no facts
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def check_role_variables(
    role: str, variables: dict[str, Any], workdir: Path
) -> subprocess.CompletedProcess[str]:
    """The checks of one role, applied to localhost."""
    playbook = workdir / "check.yml"
    playbook.write_text(
        f"- name: Check {role}\n  hosts: localhost\n  gather_facts: false\n"
        f"  roles:\n    - role: {role}\n"
    )
    return check_variables(playbook, variables, workdir)


TIER_ROLE = {"app": "python_app", "worker": "worker", "gateway": "mqtt_broker"}


def assert_boot_script_converges_its_tier(script: str, workdir: Path) -> dict[str, Any]:
    """The vars.yml in a VM's boot script pass the checks of the playbook the script pulls,
    down to the argument spec of the role that serves the tier; returns the vars."""
    variables = boot_vars(script)
    playbook = f"playbooks/{variables['tierstack_app']}.yml"
    assert f"--extra-vars @/etc/tierstack/vars.yml {playbook}\n" in script
    result = check_variables(REPO / playbook, variables, workdir)
    assert result.returncode == 0, describe_failure(result.stdout, workdir / "check.log")
    role = TIER_ROLE[variables["tierstack_tier"]]
    assert f"TASK [{role} : Validating arguments against arg spec" in result.stdout
    return variables
