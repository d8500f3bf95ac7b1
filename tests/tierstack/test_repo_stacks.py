"""This repository's own stacks preview offline (the issue's acceptance check for the AWS apps)."""

from __future__ import annotations

import pytest

import tierstack
from tierstack.preview.engine import preview_many
from tierstack.preview.project import list_stacks, load_project

APPS = ["cloud-drive", "image-processing", "iot-gateway", "mapreduce", "social-analytics"]


@pytest.mark.slow
def test_every_aws_app_previews_without_error() -> None:
    project = load_project(tierstack.REPO_ROOT)
    stacks = [f"aws-{app}" for app in APPS]
    assert set(stacks) <= set(list_stacks(project)), "a stack file is missing"
    results = preview_many(project.directory, stacks, policy_pack=None)
    for result in results:
        assert "error" not in result, f"{result['stack']}: {result.get('error')}"
        types = result["summary"]["byType"]
        assert types["pulumi:pulumi:Stack"] == 1
        assert result["summary"]["custom"] >= 20, result["stack"]
        assert all(record["parent"] for record in result["resources"][1:])
