"""The `tierstack` command: `preview` (offline, any Pulumi Python project), `report` / `cost` /
`diagram` (the pull-request report), `boot-script` (what a stack's VMs run at boot) and, when
the local target is installed, `up` / `verify` / `down`.

Exit codes of `preview`: 0 ok; 1 a mandatory policy failed; 2 usage error; 3 the program failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import tierstack
from tierstack import boot_script

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command line: exit 2 with one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


PREVIEW_EPILOG = """\
Example:
  tierstack preview --stack aws-image-processing
  tierstack preview --all --json > previews.json     # progress on stderr, --quiet for none
  tierstack preview -C ../my-project --stack dev --invoke-answers answers.yaml

The program runs in the virtualenv its Pulumi.yaml names (runtime.options.virtualenv, or the uv /
poetry toolchain's), like the Pulumi CLI; without one, in tierstack's own SDKs (a note says so).

exit codes (the JSON's `status` for each stack; with several stacks the worst wins):
  0  ok
  1  a mandatory policy failed (status policy-failed)
  2  usage error: bad option, project, stack, policy config or environment (usage-error)
  3  the program failed, or did not finish in time (program-failed)
"""


def _add_preview(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="offline preview of a Pulumi Python program (no CLI, plugins or credentials)",
        description="Runs the program under a mock engine and prints what it would create: "
        "resource tree, counts, outputs and policy results. Offline: no provider defaults, "
        "no diff against real state.",
        epilog=PREVIEW_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stack", "-s", help="stack name (Pulumi.<stack>.yaml)")
    which.add_argument("--all", action="store_true", help="every stack config found")
    which.add_argument(
        "--list-invokes",
        action="store_true",
        help="list the provider functions answered offline without --invoke-answers, and exit",
    )
    parser.add_argument(
        "--cwd",
        "-C",
        type=Path,
        default=None,
        help="the Pulumi project directory (default: this repository)",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per stack (a list with --all)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "tfplan", "sarif"),
        default=None,
        help="text (default), json (like --json), or tfplan: a Terraform plan JSON document of "
        "the aws/gcp resources, for Terraform scanners such as Checkov (with --all: --out DIR); "
        "sarif: policy results at the program's lines, for code scanning",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="with --format tfplan --all: write one <stack>.json plan per stack into DIR",
    )
    parser.add_argument(
        "--no-policy",
        action="store_true",
        help="skip policy evaluation: only the resource tree (e.g. of someone else's program)",
    )
    parser.add_argument(
        "--invoke-answers",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON or YAML mapping provider function tokens to results, for the ones the "
        "built-in offline table does not answer (it takes precedence)",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="create or update the program's own virtualenv from its requirements.txt / "
        "pyproject.toml with uv before previewing",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop a program that runs longer (default: 120)",
    )
    parser.add_argument(
        "--policy-pack",
        type=Path,
        default=None,
        help="CrossGuard policy pack directory (default: the repo's policies/)",
    )
    parser.add_argument(
        "--policy-config", type=Path, default=None, help="policy config file (enforcement levels)"
    )
    parser.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        help="stacks previewed at once with --all (default: one per core)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress display on stderr with --all"
    )
    parser.set_defaults(func=run_preview)


def _list_invokes() -> int:
    from tierstack.preview.invokes import KNOWN_INVOKES

    sys.stdout.write("".join(f"{token}\n" for token in sorted(KNOWN_INVOKES)))
    return EXIT_OK


def run_preview(args: argparse.Namespace) -> int:
    if args.list_invokes:
        return _list_invokes()
    from tierstack.preview.engine import (
        DEFAULT,
        exit_code,
        load_invoke_answers,
        preview,
    )
    from tierstack.preview.project import ProjectError, list_stacks, load_project
    from tierstack.preview.render import render

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    project_dir = (args.cwd or tierstack.REPO_ROOT).resolve()
    output_format = args.format or ("json" if args.json else "text")
    if args.json and output_format != "json":
        raise UsageError("--json is --format json: give one of them")
    if output_format == "tfplan" and args.all and args.out is None:
        raise UsageError("--format tfplan --all writes one plan per stack: give --out DIR")
    if args.out is not None and not (output_format == "tfplan" and args.all):
        raise UsageError("--out is for --format tfplan --all")
    if args.no_policy and (args.policy_pack or args.policy_config):
        raise UsageError("--no-policy cannot be combined with --policy-pack/--policy-config")
    pack = None if args.no_policy else (args.policy_pack.resolve() if args.policy_pack else DEFAULT)
    config = args.policy_config.resolve() if args.policy_config else None
    options: dict[str, Any] = {
        "policy_pack": pack,
        "policy_config": config,
        "install": args.install,
        "timeout": args.timeout,
    }
    try:
        if args.invoke_answers:
            options["invoke_answers"] = load_invoke_answers(args.invoke_answers)
        project = load_project(project_dir)
        stacks = list_stacks(project)
        if args.all:
            if not stacks:
                raise UsageError(f"no Pulumi.<stack>.yaml in {project.stack_config_dir}")
            results = _preview_all(project.directory, stacks, args, options)
        elif args.stack:
            results = [preview(project.directory, args.stack, **options)]
        else:
            raise UsageError(
                "choose --stack NAME or --all; available stacks: " + (", ".join(stacks) or "none")
            )
    except ProjectError as error:
        raise UsageError(str(error)) from error

    if output_format == "tfplan":
        _write_tfplans(results, args.out)
    elif output_format == "sarif":
        from tierstack.preview.sarif import to_sarif

        json.dump(to_sarif(results), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif output_format == "json":
        payload: Any = results if args.all else results[0]
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for result in results:
            sys.stdout.write(render(result))
            if result.get("error"):
                failed = "the program" if result.get("errorKind") == "program" else "the preview"
                sys.stdout.write(f"\nerror: {failed} failed:\n{result['error']}\n")
            sys.stdout.write("\n")
        if args.all:
            sys.stdout.write(_overview(results))
    note = results[0].get("environment", {}).get("note")
    if note:
        print(f"tierstack: note: {note}", file=sys.stderr)
    for result in results:
        if result.get("error"):
            last_line = result["error"].strip().splitlines()[-1]
            where = f"{result['errorAt']}: " if result.get("errorAt") else ""
            print(f"tierstack: {result['stack']}: {where}{last_line}", file=sys.stderr)
    return exit_code(results)


def _preview_all(
    directory: Path, stacks: list[str], args: argparse.Namespace, options: dict[str, Any]
) -> list[dict[str, Any]]:
    """`preview --all` with its progress: stacks previewed of all, on stderr."""
    from tierstack.preview.engine import preview_many
    from tierstack.progress import Progress, choose_mode

    title = f"preview {len(stacks)} stacks"
    with Progress(choose_mode(args.quiet)) as progress, progress.phase(title, len(stacks)) as row:
        results = preview_many(
            directory,
            stacks,
            jobs=args.jobs,
            on_done=lambda stack: row.update(advance=1, detail=stack),
            **options,
        )
        failed = sum(1 for result in results if result.get("error"))
        row.update(detail=f"{len(results)} previewed" + (f", {failed} failed" if failed else ""))
    return results


def _write_tfplans(results: list[dict[str, Any]], out: Path | None) -> None:
    """One Terraform plan per stack: to stdout, or to OUT/<stack>.json with --all."""
    from tierstack.preview.tfplan import to_tfplan

    if out is None:
        json.dump(to_tfplan(results[0]), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    try:
        out.mkdir(parents=True, exist_ok=True)
        for result in results:
            text = json.dumps(to_tfplan(result), indent=2) + "\n"
            (out / f"{result['stack']}.json").write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"--out {out}: {error.strerror}") from error


def _overview(results: list[dict[str, Any]]) -> str:
    width = max(len(r["stack"]) for r in results) + 2
    lines = [f"{'STACK':<{width}}RESOURCES  MANDATORY  ADVISORY  STATUS"]
    for r in results:
        policy = r["summary"]["policy"]
        status = r.get("status") or ("failed" if r.get("error") else "ok")
        lines.append(
            f"{r['stack']:<{width}}{r['summary']['resources']:>9}  "
            f"{policy['mandatory']:>9}  {policy['advisory']:>8}  {status}"
        )
    return "\n".join(lines) + "\n"


def _register_local(subparsers: Any) -> None:
    """Adds up/verify/down from the local target, when it is installed."""
    try:
        local_cli = importlib.import_module("tierstack.local.cli")
    except ModuleNotFoundError as missing:
        if missing.name not in ("tierstack.local", "tierstack.local.cli"):
            raise
        return
    local_cli.register(subparsers)


def _register_report(subparsers: Any) -> None:
    """Adds report/cost/diagram (the pull-request report)."""
    from tierstack.report.cli import register

    register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tierstack",
        description="Multi-tier blueprints on AWS, GCP and Azure: offline preview and the "
        "local target.",
    )
    parser.add_argument("--version", action="version", version=f"tierstack {tierstack.__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    _add_preview(subparsers)
    boot_script.register(subparsers)
    _register_report(subparsers)
    _register_local(subparsers)
    _add_completion(subparsers)
    return parser


COMPLETION_EPILOG = """\
Example:
  tierstack completion bash > ~/.local/share/bash-completion/completions/tierstack
  tierstack completion zsh > "${fpath[1]}/_tierstack"     # then restart the shell
"""


def _add_completion(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print the shell completion script (bash or zsh)",
        description="Prints a completion script generated from this command's own parser, so it "
        "always knows every subcommand and option.",
        epilog=COMPLETION_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=("bash", "zsh"))
    parser.set_defaults(func=run_completion)


def run_completion(args: argparse.Namespace) -> int:
    import shtab

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):
            parser.print_help()
            return EXIT_USAGE
        return int(args.func(args))
    except UsageError as error:
        print(f"tierstack: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `tierstack status local --json | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
