"""preview(): a whole Pulumi Python project run in a child process, read like the Pulumi CLI
reads it (Pulumi.yaml, stackConfigDir, project defaults, stack file)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tierstack.preview.engine import preview
from tierstack.preview.project import ProjectError, list_stacks, load_project
from tierstack.records import SECRET, UNKNOWN

from .conftest import write


@pytest.fixture(scope="module")
def dev(demo_project: Path) -> dict[str, Any]:
    os.environ["AWS_SECRET_ACCESS_KEY"] = "must-not-reach-the-program"
    try:
        return preview(demo_project, "dev", policy_pack=None)
    finally:
        del os.environ["AWS_SECRET_ACCESS_KEY"]


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {record["name"]: record for record in result["resources"]}


def test_result_has_the_public_keys(dev: dict[str, Any]) -> None:
    assert "error" not in dev, dev.get("error")
    assert {"stack", "resources", "outputs", "policy", "summary"} <= set(dev)
    assert (dev["stack"], dev["project"], dev["policy"]) == ("dev", "demo", [])
    for record in dev["resources"]:
        assert set(record) == {
            "urn",
            "type",
            "name",
            "parent",
            "custom",
            "inputs",
            "dependencies",
            "propertyDependencies",
        }


def test_tree_counts_and_nesting(dev: dict[str, Any]) -> None:
    records = by_name(dev)
    assert dev["resources"][0]["name"] == "demo-dev"
    assert records["media-bucket"]["parent"] == records["media"]["urn"]
    assert records["media"]["parent"] == records["demo-dev"]["urn"]
    assert dev["summary"]["byType"] == {
        "aws:ec2/subnet:Subnet": 2,
        "aws:rds/instance:Instance": 1,
        "aws:s3/bucket:Bucket": 1,
        "aws:s3/bucketVersioning:BucketVersioning": 1,
        "demo:storage:Store": 1,
        "pulumi:pulumi:Stack": 1,
        "random:index/randomPassword:RandomPassword": 1,
    }
    assert (
        dev["summary"]["resources"],
        dev["summary"]["custom"],
        dev["summary"]["components"],
    ) == (8, 6, 2)


def test_stack_config_overrides_project_defaults_and_keeps_types(dev: dict[str, Any]) -> None:
    records = by_name(dev)
    assert records["media-bucket"]["inputs"]["tags"] == {"size": "small"}  # project default
    assert records["subnet-1"]["inputs"]["availabilityZone"] == "eu-west-1b"  # 2 subnets
    db = records["db"]["inputs"]
    assert (db["instanceClass"], db["storageEncrypted"]) == ("db.t3.micro", True)
    assert dev["outputs"]["region"] == "eu-west-1"


def test_unknowns_secrets_and_credentials(dev: dict[str, Any]) -> None:
    assert by_name(dev)["db"]["inputs"]["password"] == SECRET
    assert dev["outputs"]["dbPassword"] == SECRET
    assert dev["outputs"]["bucketName"] == UNKNOWN
    assert dev["outputs"]["dbEndpoint"] == UNKNOWN
    assert dev["outputs"]["sawCredentials"] == "none"
    assert "AAABAK" not in json.dumps(dev)
    assert any("demo:dbPassword" in limit and "decrypted" in limit for limit in dev["limits"])
    assert "program says hello" in dev["diagnostics"]


def test_another_stack_of_the_same_project(demo_project: Path) -> None:
    prod = preview(demo_project, "prod", policy_pack=None)
    records = by_name(prod)
    assert "error" not in prod, prod.get("error")
    assert records["media-bucket"]["inputs"]["tags"] == {"size": "large"}
    assert records["db"]["inputs"]["instanceClass"] == "db.r6g.large"
    assert records["db"]["inputs"]["storageEncrypted"] is False
    assert "subnet-1" not in records  # the project default: one subnet
    assert records["subnet-0"]["inputs"]["availabilityZone"] == "us-east-2a"


def test_failing_program_reports_only_its_own_frames(failing_project: Path) -> None:
    result = preview(failing_project, "test", policy_pack=None)
    error = result["error"]
    assert error.endswith("ValueError: unknown size 'huge': use small or large")
    assert 'File "__main__.py", line 9, in <module>' in error
    assert 'File "__main__.py", line 5, in sizing' in error
    assert "site-packages" not in error and "tierstack/preview" not in error
    assert [r["name"] for r in result["resources"]] == ["broken-test", "before-failure"]


def test_unknown_stack_lists_the_available_ones(demo_project: Path) -> None:
    with pytest.raises(ProjectError, match=r"unknown stack 'qa'.*available: dev, prod"):
        preview(demo_project, "qa")


def test_project_errors_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match=r"no Pulumi\.yaml"):
        load_project(tmp_path)
    write(tmp_path / "Pulumi.yaml", "name: web\nruntime: nodejs\n")
    with pytest.raises(ProjectError, match="runtime is 'nodejs'; only `python`"):
        load_project(tmp_path)
    write(tmp_path / "Pulumi.yaml", "name: web\nruntime: python\nmain: infra/\n")
    with pytest.raises(ProjectError, match=r"infra/__main__.py does not exist"):
        load_project(tmp_path)


def test_stack_discovery_uses_stack_config_dir(demo_project: Path) -> None:
    assert list_stacks(load_project(demo_project)) == ["dev", "prod"]
