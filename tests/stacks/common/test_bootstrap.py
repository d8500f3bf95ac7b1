"""The boot script every cloud VM runs: vars for the playbooks, ansible-pull of this repo."""

import base64
import re
import subprocess

import yaml

from stacks.blueprints.settings import parse_settings
from stacks.common.args import StackContext
from stacks.common.bootstrap import (
    host_vars,
    render_cloud_config,
    render_script,
)
from tests.playbook_check import boot_vars
from tests.stacks.harness import run_pulumi

CONTEXT = StackContext(
    settings=parse_settings(
        {
            "tierstack:cloud": "aws",
            "tierstack:app": "image-processing",
            "tierstack:repoUrl": "https://git.example.org/platform/tierstack.git",
            "tierstack:repoRef": "v1.2.0",
        }
    ),
    stack="aws-image-processing",
)


def vars_in(script: str) -> dict:
    return boot_vars(script)


def test_script_writes_the_playbook_vars() -> None:
    script = render_script(CONTEXT, host_vars(CONTEXT, "worker", {"QUEUE_URL": "sqs://q"}))
    assert vars_in(script) == {
        "tierstack_app": "image-processing",
        "tierstack_tier": "worker",
        "tierstack_env": "dev",
        "tierstack_network_cidr": "10.40.0.0/16",
        "python_app_env": {"QUEUE_URL": "sqs://q"},
        # AWS hosts keep time with Amazon Time Sync (their security groups allow no UDP 123).
        "common_ntp_servers": ["169.254.169.123"],
    }


def test_script_pulls_this_repo_at_the_configured_ref() -> None:
    script = render_script(CONTEXT, host_vars(CONTEXT, "app", {}))
    pull = next(line for line in script.splitlines() if line.startswith("ExecStart="))
    assert "/opt/ansible/bin/ansible-pull" in pull
    assert "--url https://git.example.org/platform/tierstack.git" in pull
    assert "--checkout v1.2.0" in pull
    assert pull.endswith("--extra-vars @/etc/tierstack/vars.yml playbooks/image-processing.yml")
    assert "--limit localhost " in pull  # no host-pattern warning for the VM's own name
    requirements = "/var/lib/tierstack/repo/playbooks/requirements-ansible.txt"
    assert f"--require-hashes --only-binary=:all: -r {requirements}" in script
    # The unit runs Mitogen's strategy from the same pinned virtualenv (the boot test runs it).
    assert (
        'Environment=ANSIBLE_STRATEGY=mitogen_free ANSIBLE_STRATEGY_PLUGINS=$strategies"' in script
    )
    assert "/opt/ansible/bin/python -c" in script


def test_script_is_valid_bash() -> None:
    script = render_script(CONTEXT, host_vars(CONTEXT, "app", {"KV_URL": "dynamodb://t"}))
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_vars_with_shell_metacharacters_stay_data() -> None:
    hostile = {"OBJECT_STORE_URL": "s3://b'; rm -rf / #"}
    script = render_script(CONTEXT, host_vars(CONTEXT, "app", hostile))
    assert vars_in(script)["python_app_env"] == hostile


def test_cloud_config_runs_the_script_once() -> None:
    document = render_cloud_config("#!/bin/bash\necho hi\n")
    assert document.startswith("#cloud-config\n")
    parsed = yaml.safe_load(document)
    assert parsed["write_files"][0]["content"] == "#!/bin/bash\necho hi\n"
    assert parsed["write_files"][0]["permissions"] == "0700"
    assert parsed["runcmd"] == [["/bin/bash", "/var/lib/cloud/scripts/tierstack-bootstrap.sh"]]


def test_outputs_resolve_into_the_script() -> None:
    import pulumi

    from stacks.common.bootstrap import bootstrap_script, cloud_config_base64

    def program() -> pulumi.Output[str]:
        script = bootstrap_script(
            CONTEXT, "app", {"KV_URL": pulumi.Output.from_input("dynamodb://t")}
        )
        return cloud_config_base64(script)

    run = run_pulumi(program, computed=lambda *_: {})
    document = yaml.safe_load(base64.b64decode(run.result).decode())
    script = document["write_files"][0]["content"]
    assert vars_in(script)["python_app_env"] == {"KV_URL": "dynamodb://t"}


def test_network_steps_retry_until_the_network_is_ready() -> None:
    """A VM can boot before its NAT route or DNS answers: every step that fetches over the
    network goes through `retry`, which runs the command again until it succeeds."""
    script = render_script(CONTEXT, host_vars(CONTEXT, "app", {}))
    fetching = re.compile(r"\b(apt-get (update|install)|git clone|git -C \S+ fetch|pip install)\b")
    steps = [line.strip() for line in script.splitlines() if fetching.search(line)]
    assert len(steps) == 5
    assert [step for step in steps if not step.startswith("retry ")] == []
    function = re.search(r"^retry\(\) \{\n.*?^\}\n", script, re.S | re.M)
    assert function
    # The command fails twice, then succeeds; `sleep` is stubbed so the test does not wait.
    probe = (
        "set -euo pipefail\nsleep() { :; }\n"
        + function.group(0)
        + 'n=0\nflaky() { n=$((n + 1)); [ "$n" -ge 3 ]; }\nretry flaky\necho "$n"\n'
    )
    done = subprocess.run(["bash"], input=probe, text=True, capture_output=True, check=True)
    assert done.stdout.strip() == "3"
    assert done.stderr.count("retrying") == 2


def test_converge_timer_is_started_not_only_enabled() -> None:
    """`systemctl enable` alone takes effect at the next boot: an autoscaled VM may never
    reboot, so the timer that heals drift is started as well (`enable --now`)."""
    script = render_script(CONTEXT, host_vars(CONTEXT, "app", {}))
    assert "systemctl enable --now tierstack-converge.timer" in script.splitlines()
