"""The diff of two previews, record by record: update or replace (an estimate from the
provider schemas), nested paths, secrets and long values as the report shows them."""

from __future__ import annotations

from typing import Any

from tierstack.records import SECRET, UNKNOWN
from tierstack.report.diff import diff_stack, show
from tierstack.report.replace import replace_properties

STACK = "urn:pulumi:dev::demo::pulumi:pulumi:Stack::demo-dev"


def record(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:dev::demo::{type_}::{name}",
        "type": type_,
        "name": name,
        "parent": STACK,
        "custom": True,
        "inputs": inputs,
        "dependencies": [],
        "propertyDependencies": {},
    }


def result(*records: dict[str, Any]) -> dict[str, Any]:
    root = {**record("pulumi:pulumi:Stack", "demo-dev", {}), "urn": STACK, "parent": None}
    return {"stack": "dev", "resources": [root, *records], "policy": []}


def test_update_replace_and_unchanged() -> None:
    base = result(
        record("aws:s3/bucket:Bucket", "logs", {"bucket": "logs-a", "tags": {"env": "dev"}}),
        record("aws:ec2/launchTemplate:LaunchTemplate", "web", {"instanceType": "t3.small"}),
        record("gcp:compute/instanceTemplate:InstanceTemplate", "tpl", {"machineType": "e2-small"}),
        record("aws:sqs/queue:Queue", "jobs", {"name": "jobs"}),
    )
    head = result(
        record("aws:s3/bucket:Bucket", "logs", {"bucket": "logs-b", "tags": {"env": "prod"}}),
        record("aws:ec2/launchTemplate:LaunchTemplate", "web", {"instanceType": "t3.medium"}),
        record(
            "gcp:compute/instanceTemplate:InstanceTemplate", "tpl", {"machineType": "e2-medium"}
        ),
        record("aws:sqs/queue:Queue", "jobs", {"name": "jobs"}),
    )
    diff = diff_stack("dev", base, head)
    by_name = {change.name: change for change in diff.resources}
    assert diff.counts() == {"create": 0, "update": 1, "replace": 2, "delete": 0, "unchanged": 1}
    bucket = by_name["logs"]
    assert bucket.action == "replace"
    assert [(c.path, c.old, c.new, c.replaces) for c in bucket.changes] == [
        ("bucket", "logs-a", "logs-b", True),
        ("tags.env", "dev", "prod", False),
    ]
    assert by_name["web"].action == "update"
    assert by_name["tpl"].action == "replace"  # instance templates are immutable


def test_replace_properties_read_from_the_installed_sdk() -> None:
    # Not in replace_on_change.yaml: found in pulumi-gcp's own docs ("will trigger recreation").
    assert "tags" in replace_properties("gcp:pubsub/topic:Topic")
    assert replace_properties("aws:iot/topicRule:TopicRule") == frozenset()


def test_values_as_the_report_shows_them() -> None:
    assert show(SECRET) == "[secret]"
    assert show({"user": "app", "password": SECRET}) == "[secret]"
    assert show(["a", SECRET]) == "[secret]"
    assert show(None) == "(none)"
    assert show(UNKNOWN) == UNKNOWN
    long = "x" * 500
    assert show(long) == "x" * 100 + "… (500 chars)"
    assert show({"b": 1, "a": [2]}) == '{"a": [2], "b": 1}'
