"""Checkov, a second opinion next to our pack: the ten AWS and GCP stacks, exported with
`tierstack preview --all --format tfplan`, have no finding that policies/checkov-waivers.yaml
does not explain, and no waiver that explains nothing. A deliberately insecure program, exported
the same way, gets the check ids that its mistakes deserve: the export carries the properties
that matter. One Checkov run over one directory holds every plan."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tierstack.preview.checkov import (
    CHECKOV,
    README,
    Finding,
    Waiver,
    judge,
    load_waivers,
    readme_with_table,
    run_checkov,
)

STACKS = [
    f"{cloud}-{app}"
    for cloud in ("aws", "gcp")
    for app in ("cloud-drive", "image-processing", "iot-gateway", "mapreduce", "social-analytics")
]
INSECURE = "insecure-dev"  # the plan of the insecure program: its findings are wanted

INSECURE_PROGRAM = textwrap.dedent("""
    import pulumi_aws as aws

    aws.ec2.SecurityGroup("admin", description="admin", ingress=[
        {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}])
    aws.rds.Instance("db", engine="postgres", instance_class="db.t3.micro",
                     allocated_storage=20, publicly_accessible=True, storage_encrypted=False)
    aws.ec2.LaunchTemplate("web", image_id="ami-0123", metadata_options={"http_tokens": "optional"})
    aws.sqs.Queue("jobs", sqs_managed_sse_enabled=False)
""")
# What Checkov says about those mistakes (checkov/terraform/checks/resource/aws/…).
INSECURE_CHECKS = {
    "CKV_AWS_24": "aws_security_group.admin",  # SSH open to the world
    "CKV_AWS_16": "aws_db_instance.db",  # storage not encrypted
    "CKV_AWS_17": "aws_db_instance.db",  # publicly accessible
    "CKV_AWS_79": "aws_launch_template.web",  # IMDSv1 allowed
    "CKV_AWS_27": "aws_sqs_queue.jobs",  # queue not encrypted
}


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tierstack.cli", "preview", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)


@pytest.fixture(scope="session")
def findings(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> list[Finding]:
    """One export and one Checkov run per test session, even with xdist workers: the first
    worker runs them under a lock, the others read its findings."""
    if worker_id == "master":
        return _export_and_scan(tmp_path_factory)
    shared = tmp_path_factory.getbasetemp().parent  # this run's directory, common to workers
    with open(shared / "checkov.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cache = shared / "checkov-findings.json"
        if cache.is_file():
            return [Finding(**item) for item in json.loads(cache.read_text())]
        found = _export_and_scan(tmp_path_factory)
        cache.write_text(json.dumps([dataclasses.asdict(f) for f in found]))
        return found


def _export_and_scan(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is missing: run `make setup` (scripts/setup.d/50-checkov.sh)")
    plans = tmp_path_factory.mktemp("plans")
    done = _cli("--all", "--no-policy", "--format", "tfplan", "--out", str(plans))
    assert done.returncode == 0, done.stderr
    for plan in plans.glob("*.json"):
        if plan.stem not in STACKS:
            plan.unlink()  # azure: nothing to export
    project = tmp_path_factory.mktemp("insecure")
    (project / "Pulumi.yaml").write_text("name: insecure\nruntime: python\n")
    (project / "Pulumi.dev.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (project / "__main__.py").write_text(INSECURE_PROGRAM)
    done = _cli("--cwd", str(project), "--stack", "dev", "--no-policy", "--format", "tfplan")
    assert done.returncode == 0, done.stderr
    (plans / f"{INSECURE}.json").write_text(done.stdout)
    assert sorted(p.stem for p in plans.glob("*.json")) == sorted([*STACKS, INSECURE])
    return run_checkov(plans)


def _stacks_only(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.stack != INSECURE]


@pytest.mark.slow
def test_every_checkov_finding_on_the_stacks_is_fixed_or_waived(findings: list[Finding]) -> None:
    waivers, _ = load_waivers()
    unexplained, stale = judge(_stacks_only(findings), waivers)
    assert unexplained == [], "fix these in the components or waive them (with the reason):\n" + (
        "\n".join(f"{f.check} {f.where}: {f.name}" for f in unexplained)
    )
    assert stale == [], "these waivers match no finding any more: remove them\n" + "\n".join(
        f"{w.check} {pattern}" for w, pattern in stale
    )


@pytest.mark.slow
def test_a_waiver_for_a_resource_that_no_longer_fails_is_stale(findings: list[Finding]) -> None:
    waivers, _ = load_waivers()
    stacks = _stacks_only(findings)
    gone = Waiver("CKV_AWS_18", ("aws-cloud-drive/aws_s3_bucket.renamed-away",), "moved", "")
    fixed_elsewhere = Waiver("CKV_AWS_16", ("aws-*/aws_db_instance.*",), "encrypted now", "")
    _, stale = judge(stacks, [*waivers, gone, fixed_elsewhere])
    assert stale == [(gone, gone.resources[0]), (fixed_elsewhere, fixed_elsewhere.resources[0])]
    # and a finding whose waiver is dropped is unexplained again
    without = [w for w in waivers if w.check != "CKV_AWS_260"]
    unexplained, _ = judge(stacks, without)
    assert {f.where for f in unexplained} == {
        f"aws-{app}/aws_vpc_security_group_ingress_rule.web-lb-in-80"
        for app in (
            "cloud-drive",
            "image-processing",
            "iot-gateway",
            "mapreduce",
            "social-analytics",
        )
    }


@pytest.mark.slow
def test_the_insecure_program_gets_the_checks_its_mistakes_deserve(findings: list[Finding]) -> None:
    failed = {(f.check, f.address) for f in findings if f.stack == INSECURE}
    assert set(INSECURE_CHECKS.items()) <= failed


def test_the_readme_table_is_written_from_the_waiver_file() -> None:
    waivers, fixed = load_waivers()
    text = README.read_text(encoding="utf-8")
    assert readme_with_table(text, waivers, fixed) == text, (
        "policies/README.md is stale: python -m tierstack.preview.checkov --write-readme"
    )
    assert all(w.check in text and w.reason in text for w in waivers)
