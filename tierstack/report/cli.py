"""`tierstack report`, `tierstack cost` and `tierstack diagram`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import tierstack

EXIT_OK, EXIT_FAILED = 0, 1


def _usage(message: str) -> Exception:
    from tierstack.cli import UsageError

    return UsageError(message)


def _project_dir(args: argparse.Namespace) -> Path:
    return (args.cwd or tierstack.REPO_ROOT).resolve()


def _write(text: str, path: Path | None) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run_report(args: argparse.Namespace) -> int:
    from tierstack.preview.project import ProjectError
    from tierstack.report import build, gitbase, markdown

    if args.max_chars < 1000:
        raise _usage("--max-chars must be at least 1000")
    if args.list_stacks:
        try:
            names = build.affected(_project_dir(args), args.base)
        except (ProjectError, gitbase.GitError) as error:
            raise _usage(str(error)) from error
        sys.stdout.write(json.dumps(names) + "\n")
        return EXIT_OK
    from tierstack.progress import Progress, choose_mode

    try:
        with Progress(choose_mode(args.quiet)) as progress:
            report = build.build(
                _project_dir(args),
                base_ref=args.base,
                stacks=args.stack or None,
                all_stacks=args.all,
                policy=not args.no_policy,
                jobs=args.jobs,
                use_cache=not args.no_cache,
                progress=progress,
            )
    except (ProjectError, gitbase.GitError) as error:
        raise _usage(str(error)) from error
    full_report = args.full_report or markdown.DEFAULT_FULL_REPORT
    if args.format == "json":
        _write(json.dumps(markdown.as_json(report), indent=2) + "\n", args.output)
    else:
        _write(
            markdown.render(report, max_chars=args.max_chars, full_report=full_report), args.output
        )
    if args.full_output:
        _write(markdown.render(report, max_chars=None), args.full_output)
    if args.sarif:
        from tierstack.preview.sarif import to_sarif

        heads = [stack.diff.head for stack in report.stacks if stack.diff.head]
        _write(json.dumps(to_sarif(heads), indent=2) + "\n", args.sarif)
    for stack in report.stacks:
        if stack.error:
            last = stack.error.strip().splitlines()[-1]
            print(f"tierstack: {stack.stack}: {last}", file=sys.stderr)
        elif stack.mandatory:
            print(
                f"tierstack: {stack.stack}: {stack.mandatory} mandatory policy violation(s)",
                file=sys.stderr,
            )
    return EXIT_FAILED if report.failed else EXIT_OK


def _preview_one(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from tierstack.preview.engine import preview
    from tierstack.preview.project import ProjectError, load_project, load_stack_config

    try:
        project = load_project(_project_dir(args))
        result = preview(project.directory, args.stack, policy_pack=None)
        values = load_stack_config(project, args.stack).values
    except ProjectError as error:
        raise _usage(str(error)) from error
    if result.get("error"):
        last = result["error"].strip().splitlines()[-1]
        print(f"tierstack: {args.stack}: {last}", file=sys.stderr)
    result["config"] = {
        k: values[k] for k in ("aws:region", "gcp:region", "azure-native:location") if k in values
    }
    return project, result


def run_cost(args: argparse.Namespace) -> int:
    from tierstack.report import cost

    _, result = _preview_one(args)
    if result.get("error"):
        return EXIT_FAILED
    estimate = cost.estimate(result)
    if args.format == "json":
        sys.stdout.write(json.dumps(estimate.as_dict(), indent=2) + "\n")
        return EXIT_OK
    out = [
        f"Monthly cost estimate of {args.stack} ({estimate.cloud} {estimate.region}), "
        "list prices, scaled tiers at their minimum:"
    ]
    width = max((len(line.name) for line in estimate.lines), default=10) + 2
    out += [
        f"  {line.name:<{width}}{money_cell(line.monthly)}  {line.detail}"
        + (f"  [unverified price: {', '.join(line.unverified)}]" if line.unverified else "")
        for line in estimate.lines
    ]
    out.append(f"  {'total':<{width}}{money_cell(estimate.total)}")
    note = cost.unverified_note(estimate)
    if note:
        out.append(
            f"Unverified: {note}; no published page confirmed those price lines yet "
            "(make prices lists them)"
        )
    if estimate.usage:
        out.append(f"Usage-based (no fixed charge, not counted): {len(estimate.usage)} resources")
    for item in estimate.unpriced:
        out.append(f"Unpriced (not counted): {item.name} ({item.type}): {item.reason}")
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK


def money_cell(value: float) -> str:
    from tierstack.report.cost import money

    return f"{money(value):>12}"


def run_diagram(args: argparse.Namespace) -> int:
    from tierstack.preview.project import ProjectError, load_project
    from tierstack.report import diagram

    try:
        project = load_project(_project_dir(args))
        from tierstack.preview.project import list_stacks

        if args.stack not in list_stacks(project):
            raise _usage(
                f"unknown stack {args.stack!r}; available: {', '.join(list_stacks(project))}"
            )
        graph = diagram.stack_graph(project, args.stack, diagram.load_blueprints(project.directory))
        text = {"mermaid": diagram.mermaid, "dot": diagram.dot, "svg": diagram.svg}[args.format](
            graph
        )
    except (ProjectError, diagram.DiagramError) as error:
        raise _usage(str(error)) from error
    _write(text, args.output)
    return EXIT_OK


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cwd",
        "-C",
        type=Path,
        default=None,
        help="the Pulumi project directory (default: this repository)",
    )


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report",
        help="what a change does to each affected stack, against a base commit",
        description="Previews every affected stack on the base commit (in a temporary "
        "worktree) and on the working tree, and writes one Markdown report: summary, "
        "resource changes, policy results (new violations first), monthly cost and its delta, "
        "and a Mermaid diagram. Exit 1 when a mandatory policy fails or a preview fails.",
        epilog="Example:\n  tierstack report                          # vs the merge base with "
        "origin/main\n  tierstack report --base release-1 --format json -o report.json\n"
        "  tierstack report -o comment.md --full-output full.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(report)
    report.add_argument(
        "--base",
        default=None,
        help="branch or commit to compare with (default: the merge base of HEAD and origin/main)",
    )
    which = report.add_mutually_exclusive_group()
    which.add_argument(
        "--stack",
        "-s",
        action="append",
        help="this stack (repeatable) instead of the stacks the change affects",
    )
    which.add_argument("--all", action="store_true", help="every stack")
    report.add_argument("--format", choices=("markdown", "json"), default="markdown")
    report.add_argument("--output", "-o", type=Path, default=None, help="write here, not stdout")
    report.add_argument(
        "--full-output",
        type=Path,
        default=None,
        help="also write the uncut Markdown report here (job summary, artifact)",
    )
    report.add_argument(
        "--max-chars",
        type=int,
        default=65_536,
        help="cut the Markdown to this length (GitHub's comment limit)",
    )
    report.add_argument(
        "--full-report",
        default=None,
        help="where readers find the uncut report (a URL), named when cutting",
    )
    report.add_argument(
        "--sarif",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the head's policy results as SARIF 2.1.0 (for code scanning)",
    )
    report.add_argument("--no-policy", action="store_true", help="skip policy evaluation")
    report.add_argument(
        "--no-cache",
        action="store_true",
        help="preview the base again even if .tierstack/report-cache has it",
    )
    report.add_argument(
        "--list-stacks",
        action="store_true",
        help="only print the affected stacks as a JSON list (no preview): CI's stack matrix",
    )
    report.add_argument(
        "--jobs", "-j", type=int, default=None, help="previews at once (default: one per core)"
    )
    report.add_argument("--quiet", "-q", action="store_true", help="no progress display on stderr")
    report.set_defaults(func=run_report)

    cost_parser = subparsers.add_parser(
        "cost",
        help="monthly cost estimate of one stack, from the dated price table",
        description="Previews the stack offline and prices it from tierstack/report/prices.yaml "
        "(list prices, scaled tiers at their minimum; usage-based and unpriced resources listed).",
        epilog="Example:\n  tierstack cost --stack gcp-cloud-drive --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(cost_parser)
    cost_parser.add_argument("--stack", "-s", required=True)
    cost_parser.add_argument("--format", choices=("text", "json"), default="text")
    cost_parser.set_defaults(func=run_cost)

    diagram_parser = subparsers.add_parser(
        "diagram",
        help="architecture diagram of one stack (Mermaid, or SVG through Graphviz)",
        description="Draws the stack's blueprint: tiers, data stores, queues and their flows.",
        epilog="Example:\n  tierstack diagram --stack aws-mapreduce --format svg -o mapreduce.svg",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(diagram_parser)
    diagram_parser.add_argument("--stack", "-s", required=True)
    diagram_parser.add_argument("--format", choices=("mermaid", "svg", "dot"), default="mermaid")
    diagram_parser.add_argument("--output", "-o", type=Path, default=None)
    diagram_parser.set_defaults(func=run_diagram)
