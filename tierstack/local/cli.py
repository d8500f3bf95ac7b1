"""`tierstack up|verify|down local`: the local target's subcommands, registered into the
main parser by tierstack.cli."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any

from tierstack.local import podman
from tierstack.local.target import APPS, REPO, LocalTarget, TargetError, available_apps

TARGETS = ("local",)


def register(subparsers: Any) -> None:
    """Adds `up`, `verify` and `down`, each taking the target `local`."""
    up = subparsers.add_parser("up", help="create the local target's hosts, converge and verify")
    up.add_argument("target", choices=TARGETS)
    up.add_argument(
        "--app",
        action="append",
        choices=sorted(APPS),
        dest="apps",
        help="deploy this app (repeatable; default: every app in reference_apps)",
    )
    up.add_argument("--https-port", type=int, default=8443, help="published HTTPS port")
    up.add_argument("--http-port", type=int, default=8080, help="published HTTP port")
    up.add_argument("--no-verify", action="store_true", help="skip the testinfra suite")
    up.set_defaults(func=up_handler)

    verify = subparsers.add_parser("verify", help="re-run the testinfra suite on the local target")
    verify.add_argument("target", choices=TARGETS)
    verify.set_defaults(func=verify_handler)

    down = subparsers.add_parser("down", help="remove the local target's hosts and network")
    down.add_argument("target", choices=TARGETS)
    down.add_argument(
        "--purge",
        action="store_true",
        help="also delete the data volumes and the generated secrets",
    )
    down.set_defaults(func=down_handler)


def _fail(message: str) -> int:
    print(f"tierstack: {message}", file=sys.stderr)
    return 1


def up_handler(args: argparse.Namespace) -> int:
    """Creates the hosts, converges them, runs the suite and prints the URLs."""
    apps = args.apps or available_apps()
    if not apps:
        return _fail("no reference app with a wsgi.py found under reference_apps/")
    missing = [app for app in apps if app not in available_apps()]
    if missing:
        return _fail(f"app {missing[0]} has no reference_apps/.../wsgi.py in this checkout")
    for port in (args.https_port, args.http_port):
        if not 1 <= port <= 65535:
            return _fail(f"port {port} is out of range: use 1-65535")
    target = LocalTarget(
        https_port=args.https_port,
        http_port=args.http_port,
        apps=sorted(set(apps), key=list(APPS).index),
    )
    started = time.monotonic()
    try:
        target.create_hosts()
        recap = target.converge()
        target.wait_until_serving()
        cert = target.ca_certificate()
    except (TargetError, podman.PodmanError) as error:
        return _fail(str(error))
    changed = sum(counts.get("changed", 0) for counts in recap.values())
    print(f"converged {len(recap)} hosts in {time.monotonic() - started:.0f}s ({changed} changes)")
    if not args.no_verify:
        code = run_suite(target.name)
        if code != 0:
            return _fail(f"the testinfra suite failed (exit {code}): see its output above")
    for app, url in target.urls().items():
        print(f"{app}: {url}")
    print(
        f"trust {cert.relative_to(REPO)} (self-signed), e.g. curl --cacert {cert.relative_to(REPO)}"
    )
    return 0


def run_suite(name: str) -> int:
    """Runs the role and end-to-end tests against the existing target `name`.

    Tests marked `reconverges` are left to `make test`: they converge again or re-create the
    hosts (idempotence, a provided certificate, down and up keeping the data), which is not what
    checking a running deployment should do; `up` has just converged and printed its change count.
    Tests marked `faults` are left to `make test` too: they stop and restart the services.
    """
    env = {**os.environ, "TIERSTACK_LOCAL_TARGET": name}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "hosts and not reconverges and not faults",
        "tests/roles",
        "tests/e2e",
    ]
    return subprocess.run(command, cwd=REPO, env=env, check=False).returncode


def verify_handler(args: argparse.Namespace) -> int:
    """Re-runs the suite against the target `up` created."""
    try:
        target = LocalTarget.load()
        podman.require_podman()
    except (TargetError, podman.PodmanError) as error:
        return _fail(str(error))
    stopped = target.stopped_hosts()
    if stopped:
        return _fail(f"host {stopped[0]} is not running: run `tierstack up local`")
    code = run_suite(target.name)
    return 0 if code == 0 else _fail(f"the testinfra suite failed (exit {code})")


def down_handler(args: argparse.Namespace) -> int:
    """Removes the hosts and network; keeps the data volumes unless --purge."""
    try:
        target = LocalTarget.load()
    except TargetError:
        target = LocalTarget()
    try:
        podman.require_podman()
    except podman.PodmanError as error:
        return _fail(str(error))
    target.remove_hosts(purge=args.purge)
    kept = "" if args.purge else " (data volumes kept; --purge deletes them)"
    print(f"removed the local target's hosts and network{kept}")
    return 0
