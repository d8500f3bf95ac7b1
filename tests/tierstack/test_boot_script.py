"""`tierstack boot-script`: the user data a stack gives a tier, as the CLI prints it; and the
user data of every tier of every stack within its cloud's size limit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_cloud_boot import BOOTS
from tierstack.boot_script import stack_user_data
from tierstack.mocks.harness import stack_names

TIERSTACK = str(Path(sys.executable).parent / "tierstack")
COMMIT = "0123456789abcdef0123456789abcdef01234567"

# Documented limits, checked on what the VMs really get:
# - AWS: "User data is limited to 16 KB, in raw form, before it is base64-encoded"
#   (EC2 User Guide, "Run commands when you launch an EC2 instance with user data input").
# - Azure: custom data "can't be larger than 64 KB" (Azure docs, "Custom data and cloud-init on
#   Azure Virtual Machines").
# - GCP: a metadata value is at most 256 KB (Compute Engine docs, "About VM metadata", limits).
LIMITS = {"aws": 16 * 1024, "azure": 64 * 1024, "gcp": 256 * 1024}


def boot_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TIERSTACK, "boot-script", *args], capture_output=True, text=True, check=False
    )


def test_prints_the_cloud_config_a_launch_template_carries() -> None:
    result = boot_script(
        "--stack", "aws-cloud-drive", "--tier", "app", "--set", f"repoRef={COMMIT}"
    )
    assert result.returncode == 0, result.stderr
    document = yaml.safe_load(result.stdout)
    assert result.stdout.startswith("#cloud-config\n")
    script = document["write_files"][0]["content"]
    assert document["runcmd"] == [["/bin/bash", document["write_files"][0]["path"]]]
    assert f"--checkout {COMMIT}" in script
    assert "tierstack_tier: app" in script
    assert "tierstack_app: cloud-drive" in script


def test_prints_the_gcp_startup_script_and_its_vars() -> None:
    script = boot_script("--stack", "gcp-image-processing", "--tier", "worker")
    assert script.returncode == 0, script.stderr
    assert script.stdout.startswith("#!/bin/bash\n")
    variables = boot_script("--stack", "gcp-image-processing", "--tier", "worker", "--vars")
    parsed = yaml.safe_load(variables.stdout)
    assert parsed["tierstack_tier"] == "worker"
    assert parsed["python_app_env"]["QUEUE_URL"].startswith("pubsub://")
    assert yaml.safe_dump(parsed, sort_keys=True) in script.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stack", "aws-social-analytics", "--tier", "worker"], "several tiers are 'worker'"),
        (["--stack", "aws-cloud-drive", "--tier", "gateway"], "no tier 'gateway' in this stack"),
        (["--stack", "aws-blog", "--tier", "app"], "no stack file stacks/config/Pulumi.aws-blog"),
        (["--stack", "aws-cloud-drive", "--tier", "app", "--set", "repoRef"], "KEY=VALUE"),
        (
            ["--stack", "aws-cloud-drive", "--tier", "app", "--set", "repoUrl=http://x/r.git"],
            "tierstack:repoUrl 'http://x/r.git' must be an https://",
        ),
    ],
)
def test_bad_requests_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = boot_script(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


@pytest.mark.parametrize("stack", stack_names())
def test_every_tier_boots_within_its_clouds_user_data_limit(stack: str) -> None:
    tiers = stack_user_data(stack)
    assert tiers, f"{stack} declares no VM"
    limit = LIMITS[stack.split("-", 1)[0]]
    for tier in tiers:
        assert tier.kind in ("app", "worker", "gateway")
        assert len(tier.text.encode()) <= limit, f"{stack} {tier.name}: {len(tier.text)} bytes"
    # The boot test (tests/e2e/test_cloud_boot.py) boots every one of them, as what it is.
    booted = {(boot.tier, boot.kind) for boot in BOOTS if boot.stack == stack}
    assert booted == {(tier.name, tier.kind) for tier in tiers}
