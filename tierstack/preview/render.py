"""Human output of a preview result: the resource tree like `pulumi preview`, counts by type,
stack outputs, policy results, and a plain statement of what an offline preview cannot know."""

from __future__ import annotations

import json
from typing import Any

from tierstack.preview.engine import LIMITS

HEADER = (
    "Offline preview: the program ran under a mock engine"
    " (no Pulumi CLI, plugins or credentials).\n"
    "Not a real plan: provider defaults and computed values are unknown, and nothing is compared\n"
    "with deployed state, so every resource is shown as new."
)


def _tree_lines(resources: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type with tree prefix, name) per resource, parents before children."""
    urns = {record["urn"] for record in resources}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for record in resources:
        parent = record["parent"] if record["parent"] in urns else None
        children.setdefault(parent, []).append(record)
    lines: list[tuple[str, str]] = []

    def walk(record: dict[str, Any], prefix: str, branch: str) -> None:
        lines.append((prefix + branch + record["type"], record["name"]))
        kids = children.get(record["urn"], [])
        child_prefix = prefix + ("│  " if branch == "├─ " else "   " if branch else "")
        for index, kid in enumerate(kids):
            walk(kid, child_prefix, "└─ " if index == len(kids) - 1 else "├─ ")

    for root in children.get(None, []):
        walk(root, "", "")
    return lines


def _format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def render(result: dict[str, Any]) -> str:
    """The whole human report for one stack."""
    out = [f"Previewing stack {result['project']}/{result['stack']} (offline)", HEADER]
    if result.get("environment"):
        out.append(f"Ran in: {result['environment']['description']}")
    out.append("")
    lines = _tree_lines(result["resources"])
    if lines:
        width = max(len(kind) for kind, _ in lines) + 3
        out.append(f"     {'Type':<{width}}Name")
        out.extend(f" +   {kind:<{width}}{name}" for kind, name in lines)
        out.append("")
    summary = result["summary"]
    out.append(
        f"Resources: + {summary['resources']} to create "
        f"({summary['custom']} cloud resources, {summary['components']} components)"
    )
    out.extend(f"    {count:>4} {kind}" for kind, count in summary["byType"].items())
    if result["outputs"]:
        out.append("")
        out.append("Outputs:")
        width = max(len(key) for key in result["outputs"]) + 1
        out.extend(
            f"    {key + ':':<{width}} {_format_value(value)}"
            for key, value in sorted(result["outputs"].items())
        )
    if result["policy"]:
        out.append("")
        counts = summary["policy"]
        out.append(f"Policies: {counts['mandatory']} mandatory, {counts['advisory']} advisory")
        names = {record["urn"]: record["name"] for record in result["resources"]}
        rows = [
            (
                p["level"],
                p["policy"],
                names.get(p["resource"], p["resource"] or "(stack)"),
                p["message"],
            )
            for p in result["policy"]
        ]
        widths = [
            max(len(str(row[i])) for row in [("LEVEL", "POLICY", "RESOURCE", ""), *rows])
            for i in range(3)
        ]
        for row in [("LEVEL", "POLICY", "RESOURCE", "MESSAGE"), *rows]:
            out.append(
                "    " + "  ".join(f"{row[i]:<{widths[i]}}" for i in range(3)) + "  " + row[3]
            )
    extra_limits = [limit for limit in result["limits"] if limit not in LIMITS]
    if extra_limits:
        out.append("")
        out.append("Limits of this preview:")
        out.extend(f"  - {limit}" for limit in extra_limits)
    if result.get("diagnostics"):
        out.append("")
        out.append("Program output:")
        out.extend(f"    {line}" for line in result["diagnostics"])
    return "\n".join(out) + "\n"
