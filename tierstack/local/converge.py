"""Ansible runs on a target's hosts: the converge, its environment, and what its log says
when it fails (the recap, the failed host and task, the reason)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tierstack.local.catalog import REPO
from tierstack.local.errors import TargetError
from tierstack.local.inventory import inventory, write_private
from tierstack.local.wheelhouse import ensure_wheelhouse
from tierstack.progress import run_following

CALLBACKS = Path(__file__).with_name("ansible_plugins")
Events = Callable[[dict[str, Any]], None]

if TYPE_CHECKING:
    from tierstack.local.target import LocalTarget


def converge(
    target: LocalTarget,
    *,
    log_name: str = "converge.log",
    limit: str = "",
    extra_vars: dict[str, Any] | None = None,
    on_event: Events | None = None,
) -> dict[str, dict[str, int]]:
    """Runs playbooks/local.yml (on the hosts `limit` names, all when empty; `extra_vars`
    win over the inventory); returns the play recap per host or raises TargetError."""
    target.commit = checkout_commit()
    target.save()
    return run_playbook(
        target,
        REPO / "playbooks" / "local.yml",
        inventory(target),
        log_name=log_name,
        limit=limit,
        extra_vars=extra_vars,
        on_event=on_event,
    )


def run_playbook(
    target: LocalTarget,
    playbook: Path,
    hosts: dict[str, Any],
    *,
    log_name: str,
    inventory_name: str = "inventory.yml",
    limit: str = "",
    extra_vars: dict[str, Any] | None = None,
    on_event: Events | None = None,
) -> dict[str, dict[str, int]]:
    """Runs a playbook on hosts of this target (an inventory whose hosts use
    `connection_vars`); returns the play recap per host or raises TargetError. `on_event`
    receives the tierstack_events callback's events while the playbook runs."""
    ensure_wheelhouse()
    target.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    inventory_file = target.state_dir / inventory_name
    write_private(inventory_file, yaml.safe_dump(hosts, sort_keys=False))
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "ansible-playbook"), "-i", str(inventory_file)]
    if limit:
        command += ["--limit", limit]
    overrides = target.state_dir / "extra-vars.json"
    if extra_vars:  # through a private file: they may hold keys
        write_private(overrides, json.dumps(extra_vars))
        command += ["-e", f"@{overrides}"]
    log = target.state_dir / log_name
    try:
        with log.open("w") as out:
            returncode = run_following(
                [*command, str(playbook)],
                log.with_suffix(".events"),
                on_event or (lambda event: None),
                cwd=REPO,
                env=ansible_env(bin_dir),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
    finally:
        overrides.unlink(missing_ok=True)
    text = log.read_text()
    recap = parse_recap(text)
    if returncode != 0 or not recap:
        raise TargetError(describe_failure(text, log))
    return recap


def ansible_env(bin_dir: Path) -> dict[str, str]:
    """The environment of a converge: this repo's ansible.cfg and Mitogen's free strategy.

    Mitogen keeps one Python interpreter per host for the whole run instead of shipping and
    starting every module anew: a converge with nothing to change drops from about 60 s to about
    24 s on a 2-core machine. The roles do not depend on it (cloud hosts run plain `ansible-pull`
    with the local connection); `ANSIBLE_STRATEGY=free` in the environment switches back to
    Ansible's own strategy.
    """
    import ansible_mitogen.plugins.strategy as strategies  # pinned in the lock, with ansible-core

    return {
        "ANSIBLE_STRATEGY": "mitogen_free",
        # Task timings in converge.log (ansible.posix ships with the full ansible package), and
        # the progress events (silent unless TIERSTACK_EVENTS is set).
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks,tierstack_events",
        **os.environ,
        "ANSIBLE_CALLBACK_PLUGINS": os.pathsep.join(
            filter(None, [str(CALLBACKS), os.environ.get("ANSIBLE_CALLBACK_PLUGINS")])
        ),
        "ANSIBLE_STRATEGY_PLUGINS": os.path.dirname(strategies.__file__),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }


RECAP_LINE = re.compile(r"^(\S+)\s+:\s+(ok=\d+.*)$", re.MULTILINE)


def parse_recap(text: str) -> dict[str, dict[str, int]]:
    """Reads the PLAY RECAP counters, e.g. {'app1': {'ok': 30, 'changed': 0, ...}}."""
    section = text.rsplit("PLAY RECAP", 1)
    if len(section) != 2:
        return {}
    return {
        host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counters)}
        for host, counters in RECAP_LINE.findall(section[1])
    }


def describe_failure(text: str, log: Path) -> str:
    """One line naming the failed host and task, and the log to read.

    The last failure is the one that stopped the run: an earlier one may have been rescued
    (a block's `rescue` then fails with the message meant for people) or ignored.
    """
    lines = text.splitlines()
    task = ""
    failure: tuple[str, str, int] | None = None
    for index, line in enumerate(lines):
        for banner in ("TASK [", "RUNNING HANDLER ["):
            if line.startswith(banner):
                task = line[len(banner) :].split("]", 1)[0]
        match = re.match(r"^(?:fatal|failed): \[([^\]]+)\]", line)
        if match:
            failure = (match.group(1), task, index)
        elif line.startswith("...ignoring"):
            failure = None
    if failure is None:
        tail = [line for line in lines if line.strip()][-1:] or ["no output"]
        return f"converge failed: {tail[0][:200]} (log: {log})"
    host, task, index = failure
    message = failure_message("\n".join(lines[index:]))
    reason = f": {message}" if message else ""
    return f"converge failed on host {host} at task '{task}'{reason} (log: {log})"


def failure_message(failure: str, limit: int = 300) -> str:
    """The `msg` of a failed task's result on one line.

    The result is the indented YAML block under the `fatal:` line (callback_result_format =
    yaml); a multi-line message (`msg: |-`) is joined, so the reason stays one line.
    """
    lines = failure.splitlines()[1:]
    block = []
    for line in lines:
        if line.strip() and not line[0].isspace():
            break
        block.append(line)
    try:
        result = yaml.safe_load("\n".join(block))
    except yaml.YAMLError:
        result = None
    if isinstance(result, dict) and result.get("msg") is not None:
        message = str(result["msg"])
    else:  # a JSON result on the fatal line itself (callback_result_format = json)
        found = re.search(r'"msg": "((?:[^"\\\n]|\\.)*)"', failure.split("\n", 1)[0])
        message = json.loads(f'"{found.group(1)}"') if found else ""
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 1] + "…"


def checkout_commit() -> str:
    """The commit the hosts are converged from, `+changes` when the work tree differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    if head.returncode != 0:
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return head.stdout.strip() + ("+changes" if dirty else "")
