"""`tierstack up|verify|down|status|logs local`: the local target's subcommands, registered into
the main parser by tierstack.cli."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import subprocess
import sys
from typing import Any

from tierstack.local import podman, status
from tierstack.local.target import APPS, REPO, LocalTarget, TargetError, available_apps
from tierstack.local.watch import ConvergeWatch, SuiteWatch
from tierstack.local.wheelhouse import ensure_wheelhouse
from tierstack.progress import Progress, choose_mode, run_following

TARGETS = ("local",)
DEFAULT_NAME = "tierstack"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")

UP_EXAMPLES = """\
Example:
  tierstack up local                         # every app, https://<app>.localhost:8443/
  tierstack up local --app cloud-drive --no-verify
  tierstack up local --name tscli --subnet 10.234.0.0/24 --https-port 9443 --http-port 9080
"""
VERIFY_EXAMPLES = """\
Example:
  tierstack verify local
  tierstack verify local --name tscli --quiet
"""
DOWN_EXAMPLES = """\
Example:
  tierstack down local                       # keeps the data volumes and secrets
  tierstack down local --name tscli --purge  # deletes them too
"""
STATUS_EXAMPLES = """\
Example:
  tierstack status local
  tierstack status local --name tscli --json | jq '.apps[].url'

exit status: 0 every host, service and app server is healthy; 1 not, or the target is not up.
"""
LOGS_EXAMPLES = """\
Example:
  tierstack logs local app1 cloud-drive      # the last 100 lines of the app's unit
  tierstack logs local services postgresql@15-main --follow
  tierstack logs local lb                    # the host's whole journal
"""


def _subcommand(subparsers: Any, name: str, help_text: str, examples: str) -> Any:
    parser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument(
        "--name",
        default=DEFAULT_NAME,
        help="the target's name, prefix of its containers, network and volumes "
        f"(default: {DEFAULT_NAME})",
    )
    return parser


def _quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress display: only results and errors"
    )


def register(subparsers: Any) -> None:
    """Adds `up`, `verify`, `down`, `status` and `logs`, each taking the target `local`."""
    up = _subcommand(
        subparsers, "up", "create the local target's hosts, converge and verify", UP_EXAMPLES
    )
    up.add_argument(
        "--app",
        action="append",
        choices=sorted(APPS),
        dest="apps",
        help="deploy this app (repeatable; default: every app in reference_apps)",
    )
    up.add_argument("--https-port", type=int, default=8443, help="published HTTPS port")
    up.add_argument("--http-port", type=int, default=8080, help="published HTTP port")
    up.add_argument(
        "--subnet",
        default="10.231.0.0/24",
        help="the target's private /24 network (default: 10.231.0.0/24)",
    )
    up.add_argument("--no-verify", action="store_true", help="skip the testinfra suite")
    _quiet(up)
    up.set_defaults(func=up_handler)

    verify = _subcommand(
        subparsers, "verify", "re-run the testinfra suite on the local target", VERIFY_EXAMPLES
    )
    _quiet(verify)
    verify.set_defaults(func=verify_handler)

    down = _subcommand(
        subparsers, "down", "remove the local target's hosts and network", DOWN_EXAMPLES
    )
    down.add_argument(
        "--purge",
        action="store_true",
        help="also delete the data volumes and the generated secrets",
    )
    _quiet(down)
    down.set_defaults(func=down_handler)

    show = _subcommand(
        subparsers,
        "status",
        "show the local target's hosts, services, health, app URLs and deployed commit",
        STATUS_EXAMPLES,
    )
    show.add_argument("--json", action="store_true", help="the status as one JSON object")
    show.set_defaults(func=status_handler)

    logs = _subcommand(
        subparsers,
        "logs",
        "show the journal of a local target host or of one of its units",
        LOGS_EXAMPLES,
    )
    logs.add_argument("host", help=f"one of {', '.join(status.host_names())}")
    logs.add_argument("unit", nargs="?", help="a systemd unit, e.g. haproxy or cloud-drive")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new entries")
    logs.add_argument(
        "--lines", "-n", type=int, default=100, help="entries shown first (default: 100)"
    )
    logs.set_defaults(func=logs_handler)


def _fail(message: str) -> int:
    print(f"tierstack: {message}", file=sys.stderr)
    return 1


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise TargetError(
            f"target name {name!r} is not valid: use lower-case letters, digits and '-' "
            "(at most 31, starting with a letter or digit)"
        )


def _load(name: str) -> LocalTarget:
    """The target `up` left, with Podman ready to reach it."""
    _check_name(name)
    target = LocalTarget.load(name)
    podman.require_podman()
    return target


def up_handler(args: argparse.Namespace) -> int:
    """Creates the hosts, converges them, waits for the load balancer, runs the suite and
    prints the URLs; progress on stderr, the URLs on stdout."""
    apps = args.apps or available_apps()
    if not apps:
        return _fail("no reference app with a wsgi.py found under reference_apps/")
    missing = [app for app in apps if app not in available_apps()]
    if missing:
        return _fail(f"app {missing[0]} has no reference_apps/.../wsgi.py in this checkout")
    for port in (args.https_port, args.http_port):
        if not 1 <= port <= 65535:
            return _fail(f"port {port} is out of range: use 1-65535")
    try:
        _check_name(args.name)
        subnet = ipaddress.IPv4Network(args.subnet)
        if subnet.prefixlen != 24:
            raise ValueError
    except ValueError:
        return _fail(f"subnet {args.subnet!r} is not valid: give a /24, e.g. 10.234.0.0/24")
    except TargetError as error:
        return _fail(str(error))
    target = LocalTarget(
        name=args.name,
        subnet=str(subnet),
        https_port=args.https_port,
        http_port=args.http_port,
        apps=sorted(set(apps), key=list(APPS).index),
    )
    with Progress(choose_mode(args.quiet)) as progress:
        try:
            with progress.phase("prerequisites") as phase:
                podman.require_podman()
                ensure_wheelhouse()
                phase.update(detail="podman, host image, wheelhouse")
            with progress.phase("hosts", total=5) as phase:
                target.create_hosts(on_host=lambda name: phase.update(advance=1, detail=name))
                phase.update(detail=f"{target.network} ({target.subnet})")
            with progress.phase("converge") as phase:
                watch = ConvergeWatch(progress, phase)
                target.converge(on_event=watch)
                phase.update(detail=watch.summary())
            with progress.phase("load balancer") as phase:
                target.wait_until_serving()
                cert = target.ca_certificate()
                servers = sum(len(s) for s in target.backend_states().values())
                phase.update(detail=f"{servers} app servers up")
            if not args.no_verify:
                _suite(target, progress)
        except (TargetError, podman.PodmanError) as error:
            failure = str(error)
        else:
            failure = ""
    if failure:
        return _fail(failure)
    for app, url in target.urls().items():
        print(f"{app}: {url}")
    print(
        f"trust {cert.relative_to(REPO)} (self-signed), e.g. curl --cacert {cert.relative_to(REPO)}"
    )
    return 0


def _suite(target: LocalTarget, progress: Progress) -> None:
    """Runs the role and end-to-end tests against the existing target, output to verify.log.

    Tests marked `reconverges` are left to `make test`: they converge again or re-create the
    hosts (idempotence, a provided certificate, down and up keeping the data), which is not what
    checking a running deployment should do; `up` has just converged and printed its change count.
    Tests marked `faults` are left to `make test` too: they stop and restart the services.
    """
    env = {**os.environ, "TIERSTACK_LOCAL_TARGET": target.name}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "tierstack.local.pytest_events",
        "-m",
        "hosts and not reconverges and not faults",
        "tests/roles",
        "tests/e2e",
    ]
    log = target.state_dir / "verify.log"
    with progress.phase("verify") as phase, log.open("w") as out:
        watch = SuiteWatch(phase)
        code = run_following(
            command,
            log.with_suffix(".events"),
            watch,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        phase.update(detail=watch.summary())
        if code != 0:
            first = f" (first: {watch.failed[0]})" if watch.failed else ""
            failed = f"{len(watch.failed)} of {watch.total} tests failed" if watch.failed else ""
            raise TargetError(
                f"the testinfra suite failed{': ' + failed if failed else f' (exit {code})'}"
                f"{first}; log: {log.relative_to(REPO)}"
            )


def verify_handler(args: argparse.Namespace) -> int:
    """Re-runs the suite against the target `up` created."""
    try:
        target = _load(args.name)
        stopped = target.stopped_hosts()
        if stopped:
            hint = "" if args.name == DEFAULT_NAME else f" --name {args.name}"
            return _fail(f"host {stopped[0]} is not running: run `tierstack up local{hint}`")
        with Progress(choose_mode(args.quiet)) as progress:
            _suite(target, progress)
    except (TargetError, podman.PodmanError) as error:
        return _fail(str(error))
    return 0


def down_handler(args: argparse.Namespace) -> int:
    """Removes the hosts and network; keeps the data volumes unless --purge."""
    try:
        _check_name(args.name)
        target = LocalTarget.load(args.name)
    except TargetError:
        target = LocalTarget(name=args.name)
    try:
        podman.require_podman()
    except podman.PodmanError as error:
        return _fail(str(error))
    with Progress(choose_mode(args.quiet)) as progress, progress.phase("remove hosts") as phase:
        target.remove_hosts(
            purge=args.purge, on_host=lambda name: phase.update(advance=1, detail=name)
        )
        phase.update(detail="data volumes and secrets deleted" if args.purge else "data kept")
    kept = "" if args.purge else " (data volumes kept; --purge deletes them)"
    print(f"removed the local target's hosts and network{kept}")
    return 0


def status_handler(args: argparse.Namespace) -> int:
    """Prints the target's hosts, services, health, URLs and commit; exit 1 when unhealthy."""
    try:
        target = _load(args.name)
        report = status.collect(target)
    except (TargetError, podman.PodmanError) as error:
        return _fail(str(error))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        sys.stdout.write(status.render(report))
    return 0 if report["healthy"] else 1


def logs_handler(args: argparse.Namespace) -> int:
    """Shows a host's journal, of one unit when given."""
    if args.lines < 0:
        return _fail("--lines must be 0 or more")
    try:
        if args.host not in status.host_names():
            raise TargetError(
                f"unknown host {args.host!r}: choose one of {', '.join(status.host_names())}"
            )
        target = _load(args.name)
        journal = status.journal_command(
            target, args.host, args.unit, follow=args.follow, lines=args.lines
        )
    except (TargetError, podman.PodmanError) as error:
        return _fail(str(error))
    return status.show_journal(journal)
