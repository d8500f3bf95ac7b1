"""Policy results in the preview: a tiny CrossGuard pack written into a temporary directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tierstack.preview.engine import preview

from .conftest import run_cli, write

PACK = """
from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ResourceValidationPolicy,
)


def versioned_bucket_names(args, report_violation):
    if args.resource_type == "aws:s3/bucketVersioning:BucketVersioning":
        report_violation("versioning resources must carry a name tag")


def databases_encrypted(args, report_violation):
    if args.resource_type == "aws:rds/instance:Instance" and not args.props.get(
        "storageEncrypted"
    ):
        report_violation("database storage must be encrypted")


PolicyPack(
    name="tiny",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[
        ResourceValidationPolicy(
            name="versioning-tagged",
            description="versioning is tagged",
            validate=versioned_bucket_names,
        ),
        ResourceValidationPolicy(
            name="db-encrypted",
            description="databases are encrypted",
            enforcement_level=EnforcementLevel.MANDATORY,
            validate=databases_encrypted,
        ),
    ],
)
"""


@pytest.fixture(scope="module")
def tiny_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-pack")
    write(root / "PulumiPolicy.yaml", "name: tiny\nruntime: python\n")
    write(root / "__main__.py", PACK)
    return root


def test_results_name_policy_level_resource_and_message(
    demo_project: Path, tiny_pack: Path
) -> None:
    result = preview(demo_project, "prod", policy_pack=tiny_pack)  # prod: storage not encrypted
    assert "error" not in result, result.get("error")
    urns = {r["name"]: r["urn"] for r in result["resources"]}
    assert sorted(result["policy"], key=lambda p: p["policy"]) == [
        {
            "policy": "db-encrypted",
            "level": "mandatory",
            "resource": urns["db"],
            "message": "database storage must be encrypted",
        },
        {
            "policy": "versioning-tagged",
            "level": "advisory",
            "resource": urns["media-versioning"],
            "message": "versioning resources must carry a name tag",
        },
    ]
    assert result["summary"]["policy"] == {"mandatory": 1, "advisory": 1}


def test_mandatory_violation_exits_1_and_config_can_lower_it(
    demo_project: Path, tiny_pack: Path, tmp_path: Path
) -> None:
    base = ("preview", "--cwd", str(demo_project), "--policy-pack", str(tiny_pack))
    done = run_cli(*base, "--stack", "prod")
    assert done.returncode == 1, done.stderr
    assert "Policies: 1 mandatory, 1 advisory" in done.stdout
    assert "mandatory  db-encrypted" in done.stdout
    assert "database storage must be encrypted" in done.stdout

    lowered = tmp_path / "policy-config.json"
    lowered.write_text(json.dumps({"db-encrypted": "advisory"}))
    done = run_cli(*base, "--stack", "prod", "--policy-config", str(lowered), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["policy"] == {"mandatory": 0, "advisory": 2}

    done = run_cli(*base, "--stack", "dev")  # dev: encrypted, only the advisory result
    assert done.returncode == 0, done.stderr


def test_bad_policy_config_is_a_usage_error(
    demo_project: Path, tiny_pack: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"no-such-policy": "mandatory"}))
    done = run_cli(
        "preview",
        "--cwd",
        str(demo_project),
        "--stack",
        "dev",
        "--policy-pack",
        str(tiny_pack),
        "--policy-config",
        str(bad),
    )
    assert done.returncode == 2
    assert "no-such-policy" in done.stdout + done.stderr
