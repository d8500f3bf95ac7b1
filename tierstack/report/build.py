"""`tierstack report`: previews the affected stacks on the base commit (its own code, in a
temporary worktree) and on the working tree, and compares them: resources, policies, cost and
the architecture diagram. The result is plain data; markdown.py renders it."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tierstack.preview import engine
from tierstack.preview.engine import DEFAULT, preview_many
from tierstack.preview.environment import program_environment
from tierstack.preview.project import Project, list_stacks, load_project, load_stack_config
from tierstack.progress import Progress
from tierstack.report import cost, diagram, gitbase
from tierstack.report.cache import PreviewCache
from tierstack.report.diff import StackDiff, diff_stack

_REGION_KEYS = ("aws:region", "gcp:region", "azure-native:location", "azure:location")


@dataclass
class StackReport:
    stack: str
    diff: StackDiff
    base_cost: cost.Estimate | None
    head_cost: cost.Estimate | None
    policy_new: list[dict[str, Any]] = field(default_factory=list)
    policy_existing: list[dict[str, Any]] = field(default_factory=list)
    policy_resolved: list[dict[str, Any]] = field(default_factory=list)
    mermaid: str | None = None
    diagram_note: str | None = None
    base_cached: bool = False

    @property
    def error(self) -> str | None:
        return (self.diff.head or {}).get("error")

    @property
    def base_error(self) -> str | None:
        return (self.diff.base or {}).get("error")

    @property
    def cost_delta(self) -> float:
        head = self.head_cost.total if self.head_cost else 0.0
        base = self.base_cost.total if self.base_cost else 0.0
        return round(head - base, 2)

    @property
    def mandatory(self) -> int:
        return sum(1 for p in self.policy_new + self.policy_existing if p["level"] == "mandatory")


@dataclass
class Report:
    base: str  # the commit compared with
    base_ref: str  # what the user asked for (or the default)
    stacks: list[StackReport]
    changed_files: list[str]
    price_dates: tuple[str, str]

    @property
    def failed(self) -> bool:
        return any(s.error or s.mandatory for s in self.stacks)


def _policy_pack(project: Project | None) -> Path | None:
    if project is not None and (project.directory / "policies").is_dir():
        return project.directory / "policies"
    return DEFAULT


def _with_region(project: Project, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds the provider region keys of each stack's config (only those: no secret can ride
    along) so that the cost estimate knows where the stack runs."""
    for result in results:
        values = load_stack_config(project, result["stack"]).values
        result["config"] = {key: values[key] for key in _REGION_KEYS if key in values}
    return results


def _previews(
    project: Project | None,
    stacks: list[str],
    policy: bool,
    jobs: int | None,
    on_done: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    if project is None or not stacks:
        return {}
    pack = _policy_pack(project) if policy else None
    results = preview_many(project.directory, stacks, jobs=jobs, policy_pack=pack, on_done=on_done)
    return {result["stack"]: result for result in _with_region(project, results)}


def _previews_both(
    head: tuple[Project, list[str]],
    base: tuple[Project | None, list[str]],
    policy: bool,
    jobs: int | None,
    on_done: Callable[[str], None] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Head and base stacks in one zygote when both trees run in the same interpreter: the
    SDKs and the providers are imported once instead of once per tree, which is most of what
    a second `preview_many` would cost on top of the stacks' own work. Each stack still runs in
    its own forked process, in its own tree. Separate runs otherwise (or without fork)."""
    (head_project, head_stacks), (base_project, base_stacks) = head, base
    if base_project is None or not base_stacks or not head_stacks or not hasattr(os, "fork"):
        return (
            _previews(head_project, head_stacks, policy, jobs, on_done),
            _previews(base_project, base_stacks, policy, jobs, on_done),
        )
    head_env, base_env = program_environment(head_project), program_environment(base_project)
    if head_env.command("") != base_env.command("") or head_env.foreign or base_env.foreign:
        return (
            _previews(head_project, head_stacks, policy, jobs, on_done),
            _previews(base_project, base_stacks, policy, jobs, on_done),
        )
    sides = [(head_project, head_stacks, head_env), (base_project, base_stacks, base_env)]
    requests = [
        (project, environment, engine._request(project, stack, pack, None))
        for project, stacks, environment in sides
        for pack in [_policy_pack(project) if policy else None]
        for stack in stacks
    ]
    workers = max(1, min(jobs or os.cpu_count() or 1, len(requests)))
    results = engine._preview_in_zygote(
        head_project,
        [request for _, _, request in requests],
        workers,
        head_env,
        engine.CHILD_TIMEOUT_SECONDS,
        on_done,
    )
    finished = [
        engine._finish(request, result, environment)
        for (_, environment, request), result in zip(requests, results, strict=True)
    ]
    split = len(head_stacks)
    head_results = _with_region(head_project, finished[:split])
    base_results = _with_region(base_project, finished[split:])
    return (
        {result["stack"]: result for result in head_results},
        {result["stack"]: result for result in base_results},
    )


def _policy_key(record: dict[str, Any]) -> tuple[str, str]:
    """A violation is the same one on both sides when the same policy flags the same resource
    (messages may quote values that the change altered)."""
    return record["policy"], record["resource"] or "(stack)"


def _compare_policy(report: StackReport) -> None:
    base = (report.diff.base or {}).get("policy", [])
    head = (report.diff.head or {}).get("policy", [])
    base_keys = {_policy_key(p) for p in base}
    head_keys = {_policy_key(p) for p in head}
    rank = {"mandatory": 0, "advisory": 1}
    order = lambda p: (rank.get(p["level"], 2), p["policy"])  # noqa: E731
    report.policy_new = sorted((p for p in head if _policy_key(p) not in base_keys), key=order)
    report.policy_existing = sorted((p for p in head if _policy_key(p) in base_keys), key=order)
    report.policy_resolved = sorted((p for p in base if _policy_key(p) not in head_keys), key=order)


def _component_names(stack_diff: StackDiff, action: str) -> set[str]:
    return {
        change.name
        for change in stack_diff.resources
        if change.action == action and not change.custom
    }


def _diagram(report: StackReport, project: Project, blueprints: dict[str, Any] | None) -> None:
    if report.diff.head is None:
        report.diagram_note = "the stack is deleted"
        return
    if blueprints is None:
        report.diagram_note = "no blueprint in this project"
        return
    try:
        graph = diagram.stack_graph(project, report.stack, blueprints)
    except diagram.DiagramError as error:
        report.diagram_note = str(error)
        return
    graph.added = _component_names(report.diff, "create")
    known = {label.split("<br/>")[0] for label, _ in graph.nodes.values()}
    graph.removed = {
        name for name in _component_names(report.diff, "delete") if name not in known
    } & _blueprint_names(report.diff.base)
    report.mermaid = diagram.mermaid(graph)


def _blueprint_names(result: dict[str, Any] | None) -> set[str]:
    """Names of the components directly under the stack: the blueprint's components."""
    if not result:
        return set()
    root = next((r["urn"] for r in result["resources"] if r["parent"] is None), None)
    return {r["name"] for r in result["resources"] if r["parent"] == root and not r["custom"]}


def affected(project_dir: Path, base_ref: str | None = None) -> list[str]:
    """The working tree's stacks that the change since the merge base with `base_ref` can
    alter, without previewing anything (what CI deploys or previews with the real CLI)."""
    project = load_project(project_dir)
    repo = gitbase.repo_root(project.directory)
    commit = gitbase.resolve_base(repo, base_ref)
    changed = gitbase.changed_files(repo, commit)
    return gitbase.affected_stacks(project, repo, changed, list_stacks(project))


def build(
    project_dir: Path,
    *,
    base_ref: str | None = None,
    stacks: list[str] | None = None,
    all_stacks: bool = False,
    policy: bool = True,
    jobs: int | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> Report:
    """The whole comparison. Raises GitError / ProjectError for usage errors. `progress` shows
    its phases: the stacks chosen, the previews (base and head), the comparison."""
    progress = progress or Progress("quiet")
    project = load_project(project_dir)
    repo = gitbase.repo_root(project.directory)
    commit = gitbase.resolve_base(repo, base_ref)
    changed = gitbase.changed_files(repo, commit)
    with gitbase.base_tree(repo, commit) as tree:
        base_dir = tree / project.directory.relative_to(repo)
        try:
            base_project = load_project(base_dir)
        except Exception:  # no project on the base: every stack is new
            base_project = None
        head_stacks = list_stacks(project)
        base_stacks = list_stacks(base_project) if base_project else []
        known = sorted(set(head_stacks) | set(base_stacks))
        if stacks:
            unknown = sorted(set(stacks) - set(known))
            if unknown:
                from tierstack.preview.project import ProjectError

                raise ProjectError(
                    f"unknown stack {', '.join(unknown)}; available: {', '.join(known)}"
                )
            chosen = sorted(set(stacks))
        elif all_stacks:
            chosen = known
        else:
            chosen = gitbase.affected_stacks(project, repo, changed, known)
        store = PreviewCache(repo, commit, project.name, policy) if use_cache else None
        base = {}
        for stack in chosen:
            cached = store.get(stack) if store and stack in base_stacks else None
            if cached is not None:
                base[stack] = cached
        base_todo = [s for s in chosen if s in base_stacks and s not in base]
        head_todo = [s for s in chosen if s in head_stacks]
        title = f"preview {len(chosen)} stacks vs {commit[:12]}"
        with progress.phase(title, len(head_todo) + len(base_todo)) as row:
            done = lambda stack: row.update(advance=1, detail=stack)  # noqa: E731
            head, fresh = _previews_both(
                (project, head_todo), (base_project, base_todo), policy, jobs, done
            )
            row.update(
                detail=f"{len(head_todo)} head, {len(base_todo)} base, {len(base)} base cached"
            )
        for result in fresh.values():
            if store:
                store.put(result)
        base.update(fresh)
    try:
        blueprints: dict[str, Any] | None = diagram.load_blueprints(project.directory)
        if "error" in blueprints:
            blueprints = None
    except diagram.DiagramError:
        blueprints = None
    table = cost.default_table()
    reports = []
    with progress.phase("compare", len(chosen)) as row:
        for stack in chosen:
            stack_diff = diff_stack(stack, base.get(stack), head.get(stack))
            report = StackReport(
                stack,
                stack_diff,
                cost.estimate(base[stack], table) if stack in base else None,
                cost.estimate(head[stack], table) if stack in head else None,
                base_cached=stack in base and stack not in fresh,
            )
            _compare_policy(report)
            _diagram(report, project, blueprints)
            reports.append(report)
            row.advance()
        row.update(detail="changes, policies, cost, diagrams")
    dates = table.dates()
    return Report(
        commit,
        base_ref or gitbase.DEFAULT_UPSTREAM,
        reports,
        changed,
        (str(dates[0]), str(dates[-1])) if dates else ("", ""),
    )
