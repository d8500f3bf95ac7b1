"""`tierstack preview --format sarif`: policy results located at the program line that declared
each resource — inside a component for its children, at the caller for a top-level resource."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.tierstack.conftest import TIERSTACK, write

NETWORK = """
import pulumi
import pulumi_aws as aws


class Edge(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("demo:net:Edge", name, None, opts)
        self.group = aws.ec2.SecurityGroup(
            f"{name}-admin",
            description="admin",
            ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22,
                      "cidr_blocks": ["0.0.0.0/0"]}],
            opts=pulumi.ResourceOptions(parent=self),
        )
"""

MAIN = """
import pulumi_aws as aws

from network import Edge

Edge("edge")
aws.s3.Bucket("uploads", acl="public-read")
"""


@pytest.fixture(scope="module")
def sarif(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("sarif-project")
    write(root / "Pulumi.yaml", "name: insecure\nruntime: python\n")
    write(root / "Pulumi.dev.yaml", "config:\n  aws:region: us-east-1\n")
    write(root / "network.py", NETWORK)
    write(root / "__main__.py", MAIN)
    done = subprocess.run(
        [str(TIERSTACK), "preview", "--cwd", str(root), "--stack", "dev", "--format", "sarif"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # mandatory policies failed
    return json.loads(done.stdout)


def _line(path: str, text: str) -> int:
    lines = (NETWORK if path == "network.py" else MAIN).lstrip().splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def _where(sarif: dict, rule: str) -> tuple[str, int]:
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == rule)
    physical = result["locations"][0]["physicalLocation"]
    return physical["artifactLocation"]["uri"], physical["region"]["startLine"]


def test_results_point_at_the_line_that_declared_the_resource(sarif: dict) -> None:
    assert sarif["version"] == "2.1.0"
    assert _where(sarif, "aws-ec2-no-public-admin-ingress") == (
        "network.py",
        _line("network.py", "aws.ec2.SecurityGroup("),
    )
    assert _where(sarif, "aws-s3-bucket-no-public-acl") == (
        "__main__.py",
        _line("__main__.py", 'aws.s3.Bucket("uploads"'),
    )


def test_levels_and_rules(sarif: dict) -> None:
    run = sarif["runs"][0]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["aws-ec2-no-public-admin-ingress"] == "error"
    assert levels["aws-s3-bucket-lifecycle-configured"] == "warning"
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} == set(levels)


def test_component_sources_are_their_callers(tmp_path: Path) -> None:
    """A component is located where it is instantiated, not at its own super().__init__."""
    done = subprocess.run(
        [str(TIERSTACK), "preview", "--stack", "aws-cloud-drive", "--json", "--no-policy"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    by_name = {(r["type"], r["name"]): r["urn"] for r in result["resources"]}
    store = result["sources"][by_name[("tierstack:aws:ObjectStore", "documents")]]
    assert store["file"] == "stacks/program.py"
    bucket = result["sources"][by_name[("aws:s3/bucket:Bucket", "documents")]]
    source = Path(__file__).resolve().parents[2] / bucket["file"]
    assert bucket["file"] == "stacks/aws/buckets.py"  # the helper that ObjectStore calls
    assert "aws.s3.Bucket(" in source.read_text().splitlines()[bucket["line"] - 1]
