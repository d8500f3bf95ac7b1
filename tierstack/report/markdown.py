"""The report as Markdown for a pull-request comment (and JSON for machines).

Users read the summary first, so it comes first and is never cut; then policy results (new
violations first); then one collapsed section per stack. GitHub rejects comments longer than
65,536 characters: the details of the largest stacks are cut first, each with a line saying
what was cut and where the full report is.
"""

from __future__ import annotations

from typing import Any

from tierstack.report.build import Report, StackReport
from tierstack.report.cost import money, unverified_note
from tierstack.report.diff import ACTIONS, show

MARKER = "<!-- tierstack-report -->"  # finds the comment to update in place
GITHUB_COMMENT_LIMIT = 65_536
DEFAULT_FULL_REPORT = "the job summary and the `tierstack-report` artifact of this run"
_SYMBOL = {"create": "+", "update": "~", "replace": "±", "delete": "-"}
_SHORT = 12


def _size(text: str) -> int:
    """Length as UTF-8 bytes: never less than GitHub's character count, so a comment that fits
    this way fits GitHub's limit whichever way it counts."""
    return len(text.encode("utf-8"))


def _counts(report: StackReport) -> dict[str, int]:
    return report.diff.counts()


def _cost_cell(report: StackReport) -> tuple[str, str]:
    head = money(report.head_cost.total) if report.head_cost else "—"
    unpriced = len(report.head_cost.unpriced) if report.head_cost else 0
    if unpriced:
        head += f" ({unpriced} unpriced)"
    if report.head_cost and report.head_cost.unverified_total:
        head += " (unverified prices)"
    return head, money(report.cost_delta, sign=True)


def _policy_cell(report: StackReport) -> str:
    if report.error:
        return "❌ preview failed"
    new_mandatory = sum(1 for p in report.policy_new if p["level"] == "mandatory")
    if report.mandatory:
        return f"❌ {report.mandatory} mandatory ({new_mandatory} new)"
    advisory = len(report.policy_new) + len(report.policy_existing)
    new_advisory = len(report.policy_new)
    return f"⚠️ {advisory} advisory ({new_advisory} new)" if advisory else "✅"


def summary_line(report: Report) -> str:
    totals = {key: 0 for key in (*ACTIONS, "unchanged")}
    for stack in report.stacks:
        for key, value in _counts(stack).items():
            totals[key] += value
    delta = sum(stack.cost_delta for stack in report.stacks)
    status = "❌ failing" if report.failed else "✅ passing"
    return (
        f"**{len(report.stacks)} stack{'s' * (len(report.stacks) != 1)}: "
        f"{totals['create']} to create, {totals['update']} to update, "
        f"{totals['replace']} to replace, {totals['delete']} to delete, "
        f"{totals['unchanged']} unchanged · cost {money(delta, sign=True)}/month · {status}**"
    )


def _summary_table(report: Report) -> list[str]:
    lines = [
        "| stack | create | update | replace | delete | unchanged | policy | monthly cost "
        "| delta |",
        "|---|--:|--:|--:|--:|--:|---|--:|--:|",
    ]
    for stack in report.stacks:
        counts = _counts(stack)
        head, delta = _cost_cell(stack)
        lines.append(
            f"| `{stack.stack}` | {counts['create']} | {counts['update']} | {counts['replace']} "
            f"| {counts['delete']} | {counts['unchanged']} | {_policy_cell(stack)} "
            f"| {head} | {delta} |"
        )
    return lines


def _names(stack: StackReport) -> dict[str, str]:
    names = {}
    for result in (stack.diff.base, stack.diff.head):
        for record in (result or {}).get("resources", []):
            names[record["urn"]] = record["name"]
    return names


def _policy_section(report: Report, *, only_new: bool = False) -> list[str]:
    rows: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
    for stack in report.stacks:
        names = _names(stack)
        rows += [("🆕 new", stack.stack, p, names) for p in stack.policy_new]
        if not only_new:
            rows += [("existing", stack.stack, p, names) for p in stack.policy_existing]
            rows += [("✅ resolved", stack.stack, p, names) for p in stack.policy_resolved]
    if not rows:
        return ["### Policies", "", "No policy violations.", ""]
    lines = [
        "### Policies",
        "",
        "| | level | policy | stack | resource | message |",
        "|---|---|---|---|---|---|",
    ]
    for state, stack_name, p, names in rows:
        resource = names.get(p["resource"] or "", p["resource"] or "(stack)")
        message = p["message"].replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {state} | **{p['level']}** | `{p['policy']}` | `{stack_name}` | `{resource}` "
            f"| {message} |"
        )
    if only_new:
        hidden = sum(len(s.policy_existing) + len(s.policy_resolved) for s in report.stacks)
        lines.append(f"\n{hidden} existing or resolved results cut: see the full report.")
    return [*lines, ""]


def _resource_lines(stack: StackReport) -> list[str]:
    lines = []
    for change in stack.diff.resources:
        label = "replace (estimate)" if change.action == "replace" else change.action
        kind = "" if change.custom else " (component)"
        lines.append(
            f"- `{_SYMBOL[change.action]}` **{label}** `{change.type}` **{change.name}**{kind}"
        )
        for item in change.changes:
            forces = " — forces replacement" if item.replaces else ""
            lines.append(f"  - `{item.path}`: `{show(item.old)}` → `{show(item.new)}`{forces}")
    return lines


def _cost_lines(stack: StackReport) -> list[str]:
    base, head = stack.base_cost, stack.head_cost
    if head is None and base is None:
        return []
    lines = ["**Monthly cost estimate**", ""]
    where = head or base
    lines.append(
        f"{money(base.total) if base else '$0.00'} → {money(head.total) if head else '$0.00'} "
        f"(**{money(stack.cost_delta, sign=True)}**/month, {where.cloud} {where.region}, "
        "at the autoscaling minimum)"
    )
    note = unverified_note(head) if head else None
    if note:
        lines[-1] += (
            f"; ⚠️ {note}: no published page confirmed those price lines yet (`make prices`)"
        )
    before = {line.urn: line for line in (base.lines if base else [])}
    after = {line.urn: line for line in (head.lines if head else [])}
    moved = [
        urn
        for urn in sorted(set(before) | set(after))
        if (before[urn].monthly if urn in before else 0.0)
        != (after[urn].monthly if urn in after else 0.0)
    ]
    if moved:
        lines += ["", "| resource | base | head | delta | priced as |", "|---|--:|--:|--:|---|"]
        for urn in moved:
            old = before[urn].monthly if urn in before else 0.0
            new = after[urn].monthly if urn in after else 0.0
            line = after.get(urn) or before[urn]
            label = ""
            if line.unverified:
                label = f" — ⚠️ unverified price: {', '.join(line.unverified)}"
            lines.append(
                f"| `{line.name}` ({line.type.rsplit(':', 1)[-1]}) | {money(old)} | {money(new)} "
                f"| {money(new - old, sign=True)} | {line.detail}{label} |"
            )
    if head and head.unpriced:
        lines += [
            "",
            "Unpriced (not counted): "
            + "; ".join(f"`{u.name}` ({u.type}): {u.reason}" for u in head.unpriced),
        ]
    if head and head.usage:
        lines += ["", f"Usage-based, no fixed monthly charge: {len(head.usage)} resources."]
    return [*lines, ""]


def _details(stack: StackReport, *, cut: str | None = None) -> list[str]:
    counts = _counts(stack)
    head, delta = _cost_cell(stack)
    title = (
        f"<b>{stack.stack}</b>: "
        + " ".join(f"{_SYMBOL[a]}{counts[a]}" for a in ACTIONS)
        + f" · {head} ({delta})"
    )
    lines = ["<details>", f"<summary>{title}</summary>", ""]
    if cut:
        return [*lines, cut, "", "</details>", ""]
    if stack.error:
        lines += ["The preview of this branch failed:", "", "```", stack.error.strip(), "```", ""]
    if stack.base_error:
        lines += [
            "The base failed to preview, so every resource shows as new:",
            "",
            "```",
            stack.base_error.strip().splitlines()[-1],
            "```",
            "",
        ]
    if stack.diff.head is None:
        lines += ["The stack file was deleted on this branch.", ""]
    resource_lines = _resource_lines(stack)
    lines += resource_lines or ["No resource changes."]
    lines.append("")
    lines += _cost_lines(stack)
    if stack.mermaid:
        lines += ["**Architecture**", "", "```mermaid", stack.mermaid.rstrip(), "```", ""]
    elif stack.diagram_note:
        lines += [f"No diagram: {stack.diagram_note}.", ""]
    return [*lines, "</details>", ""]


def _header(report: Report) -> list[str]:
    return [
        MARKER,
        f"## tierstack report — against `{report.base_ref}` (`{report.base[:_SHORT]}`)",
        "",
        summary_line(report),
        "",
        *_summary_table(report),
        "",
    ]


def _footer(report: Report) -> list[str]:
    first, last = report.price_dates
    return [
        "<sub>Offline previews under a mock engine: no provider defaults, no deployed state; "
        "replacements are estimates from the provider schemas; a changed secret looks unchanged "
        "(its values are never read). Costs: list prices from "
        f"tierstack's price table ({first} to {last}), scaled tiers at their minimum, usage "
        "not counted.</sub>",
        "",
    ]


def render(
    report: Report,
    *,
    max_chars: int | None = GITHUB_COMMENT_LIMIT,
    full_report: str = DEFAULT_FULL_REPORT,
) -> str:
    """The Markdown report; with `max_chars`, cut to fit (summary and totals always kept)."""
    sections = {stack.stack: _details(stack) for stack in report.stacks}

    def assemble(only_new_policy: bool = False) -> str:
        parts = _header(report) + _policy_section(report, only_new=only_new_policy)
        if report.stacks:
            parts += ["### Stacks", ""]
        for stack in report.stacks:
            parts += sections[stack.stack]
        if not report.stacks:
            parts += ["No stack is affected by this change.", ""]
        return "\n".join(parts + _footer(report))

    text = assemble()
    if max_chars is None or _size(text) <= max_chars:
        return text
    for stack in sorted(
        report.stacks, key=lambda s: len("\n".join(sections[s.stack])), reverse=True
    ):
        changes = len(stack.diff.resources)
        sections[stack.stack] = _details(
            stack,
            cut=f"✂️ Details cut to stay under GitHub's {max_chars:,}-character comment limit "
            f"({changes} resource changes, cost lines and diagram): see {full_report}.",
        )
        text = assemble()
        if _size(text) <= max_chars:
            return text
    text = assemble(only_new_policy=True)
    if _size(text) <= max_chars:
        return text
    note = f"\n\n✂️ Report cut at {max_chars:,} characters: see {full_report}.\n"
    keep = max_chars - _size(note)
    return text.encode("utf-8")[:keep].decode("utf-8", errors="ignore") + note


def as_json(report: Report) -> dict[str, Any]:
    stacks = []
    for stack in report.stacks:
        stacks.append(
            {
                "stack": stack.stack,
                "baseFromCache": stack.base_cached,
                "counts": _counts(stack),
                "error": stack.error,
                "baseError": stack.base_error,
                "resources": [
                    {
                        "action": c.action,
                        "estimate": c.action == "replace",
                        "urn": c.urn,
                        "type": c.type,
                        "name": c.name,
                        "changes": [
                            {
                                "path": i.path,
                                "old": show(i.old),
                                "new": show(i.new),
                                "replaces": i.replaces,
                            }
                            for i in c.changes
                        ],
                    }
                    for c in stack.diff.resources
                ],
                "policy": {
                    "new": stack.policy_new,
                    "existing": stack.policy_existing,
                    "resolved": stack.policy_resolved,
                },
                "cost": {
                    "base": stack.base_cost.as_dict() if stack.base_cost else None,
                    "head": stack.head_cost.as_dict() if stack.head_cost else None,
                    "deltaUsd": stack.cost_delta,
                },
                "mermaid": stack.mermaid,
            }
        )
    return {
        "base": report.base,
        "baseRef": report.base_ref,
        "failed": report.failed,
        "summary": summary_line(report).strip("*"),
        "changedFiles": report.changed_files,
        "stacks": stacks,
    }
