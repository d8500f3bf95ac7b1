"""Policy results as SARIF 2.1.0, so that GitHub code scanning annotates the line of the
program that declared each failing resource (recorded by the preview when the resource was
constructed: the innermost frame inside the project)."""

from __future__ import annotations

from typing import Any

import tierstack

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"mandatory": "error", "advisory": "warning"}


def _location(result: dict[str, Any], urn: str | None) -> list[dict[str, Any]]:
    source = result.get("sources", {}).get(urn) if urn else None
    if source is None:
        return []
    physical = {
        "artifactLocation": {"uri": source["file"], "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": source["line"]},
    }
    names = {r["urn"]: r for r in result["resources"]}
    logical = names.get(urn, {})
    return [
        {
            "physicalLocation": physical,
            "logicalLocations": [
                {"fullyQualifiedName": urn, "name": logical.get("name", ""), "kind": "resource"}
            ],
        }
    ]


def to_sarif(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One SARIF log (one run of tierstack's policy pack) for the policy results of `results`."""
    rules: dict[str, dict[str, Any]] = {}
    findings = []
    for result in results:
        for item in result["policy"]:
            rules.setdefault(item["policy"], {"id": item["policy"], "name": item["policy"]})
            findings.append(
                {
                    "ruleId": item["policy"],
                    "level": LEVELS.get(item["level"], "note"),
                    "message": {"text": f"{result['stack']}: {item['message']}"},
                    "locations": _location(result, item["resource"]),
                    "properties": {"stack": result["stack"], "resource": item["resource"]},
                }
            )
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tierstack",
                        "version": tierstack.__version__,
                        "rules": sorted(rules.values(), key=lambda rule: rule["id"]),
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the project"}}},
                "results": findings,
            }
        ],
    }
