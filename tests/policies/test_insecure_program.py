"""`tierstack preview --cwd` on a deliberately insecure pulumi-aws project outside this repo:
the pack runs by default, violations land in the JSON and the table, and the exit code is 1."""

import json
import subprocess
import sys
import textwrap

import pytest

INSECURE_PROGRAM = textwrap.dedent("""
    import json
    import pulumi_aws as aws

    bucket = aws.s3.Bucket("uploads", acl="public-read")
    aws.ec2.SecurityGroup("admin", ingress=[
        {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}])
    aws.rds.Instance("db", engine="postgres", instance_class="db.t3.micro",
                     allocated_storage=20, publicly_accessible=True)
    aws.iam.Policy("admin", policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
""")


@pytest.fixture(scope="module")
def insecure_project(tmp_path_factory):
    project = tmp_path_factory.mktemp("insecure")
    (project / "Pulumi.yaml").write_text("name: insecure\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (project / "__main__.py").write_text(INSECURE_PROGRAM)
    return project


def preview(project, *extra):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tierstack.cli",
            "preview",
            "--cwd",
            str(project),
            "--stack",
            "dev",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_json_lists_the_violations_and_exit_is_1(insecure_project):
    result = preview(insecure_project, "--json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    stacks = document if isinstance(document, list) else [document]
    policy = stacks[0]["policy"]
    mandatory = {
        (r["policy"], r["resource"].rsplit("::", 1)[-1])
        for r in policy
        if r["level"] == "mandatory"
    }
    assert {
        ("aws-s3-bucket-no-public-acl", "uploads"),
        ("aws-s3-bucket-public-access-blocked", "uploads"),
        ("aws-ec2-no-public-admin-ingress", "admin"),
        ("aws-rds-not-public", "db"),
        ("aws-rds-storage-encrypted", "db"),
        ("aws-iam-no-wildcard-admin", "admin"),
        ("aws-resource-required-tags", "db"),
    } <= mandatory
    assert all(set(r) == {"policy", "level", "resource", "message"} for r in policy)


def test_human_output_has_the_policy_table(insecure_project):
    result = preview(insecure_project)
    assert result.returncode == 1
    assert "aws-ec2-no-public-admin-ingress" in result.stdout
    assert "ingress opens SSH (port 22) to 0.0.0.0/0" in result.stdout


def test_policy_config_can_make_everything_advisory(insecure_project, tmp_path):
    config = tmp_path / "advisory.json"
    config.write_text(json.dumps({"all": "advisory"}))
    result = preview(insecure_project, "--json", "--policy-config", str(config))
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)
    policy = (policy if isinstance(policy, list) else [policy])[0]["policy"]
    assert policy and {r["level"] for r in policy} == {"advisory"}


def test_unknown_policy_in_config_fails_with_its_name(insecure_project, tmp_path):
    config = tmp_path / "typo.json"
    config.write_text(json.dumps({"aws-rds-not-publik": "mandatory"}))
    result = preview(insecure_project, "--json", "--policy-config", str(config))
    assert result.returncode != 0
    assert "unknown policy 'aws-rds-not-publik'" in result.stdout + result.stderr
