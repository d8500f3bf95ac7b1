"""What a person meets first: every command's --help shows an example, the shell completion is
generated from the same parser, and the local target's status and logs commands fail with one
line that says what to do (through the installed console script)."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tierstack.cli import build_parser

from .conftest import run_cli


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def test_every_command_is_registered() -> None:
    assert set(_subcommands()) >= {
        "preview",
        "boot-script",
        "report",
        "cost",
        "diagram",
        "up",
        "verify",
        "down",
        "status",
        "logs",
        "completion",
    }


@pytest.mark.parametrize("command", sorted(_subcommands()))
def test_every_commands_help_has_an_example(command: str) -> None:
    done = run_cli(command, "--help")
    assert done.returncode == 0, done.stderr
    example = done.stdout.split("Example", 1)
    assert len(example) == 2, f"`tierstack {command} --help` shows no example"
    assert f"tierstack {command}" in example[1]


def test_the_bash_completion_is_valid_and_knows_every_command(tmp_path: Path) -> None:
    done = run_cli("completion", "bash")
    assert done.returncode == 0, done.stderr
    script = tmp_path / "tierstack.bash"
    script.write_text(done.stdout)
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    listed = next(
        line for line in done.stdout.splitlines() if line.startswith("_shtab_tierstack_subparsers=")
    )
    assert set(listed.split("(", 1)[1].rstrip(")").split()) == set(_subcommands())
    # The options of the new subcommands complete too.
    assert "_shtab_tierstack_up_option_strings=(-h --help --name" in done.stdout
    assert "--follow" in done.stdout and "--subnet" in done.stdout


def test_the_bash_completion_completes_a_subcommand(tmp_path: Path) -> None:
    """Runs the generated function the way bash's completion does, for `tierstack sta<TAB>`."""
    script = tmp_path / "tierstack.bash"
    script.write_text(run_cli("completion", "bash").stdout)
    probe = (
        f"source {script}; COMP_WORDS=(tierstack sta); COMP_CWORD=1; COMP_LINE='tierstack sta';"
        " COMP_POINT=${#COMP_LINE}; _shtab_tierstack; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True)
    assert done.stdout.split() == ["status"], done.stderr


def test_the_zsh_completion_knows_every_command() -> None:
    done = run_cli("completion", "zsh")
    assert done.returncode == 0 and done.stdout.startswith("#compdef tierstack")
    for command in _subcommands():
        assert f"\n    {command}:'" in done.stdout, command
    checked = subprocess.run(["zsh", "-n"], input=done.stdout, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr


def test_completion_refuses_another_shell() -> None:
    done = run_cli("completion", "fish")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "invalid choice" in done.stderr


NOT_UP = (
    "tierstack: the local target 'tscli-never-up' is not up: "
    "run `tierstack up local --name tscli-never-up`"
)


@pytest.mark.parametrize(
    "args",
    [
        ("status", "local", "--name", "tscli-never-up"),
        ("status", "local", "--name", "tscli-never-up", "--json"),
        ("logs", "local", "app1", "--name", "tscli-never-up"),
        ("verify", "local", "--name", "tscli-never-up"),
    ],
)
def test_a_target_that_is_not_up_is_one_line(args: tuple[str, ...]) -> None:
    done = run_cli(*args)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [NOT_UP]
    assert done.stdout == ""


def test_logs_of_an_unknown_host_lists_the_hosts() -> None:
    done = run_cli("logs", "local", "db1")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "tierstack: unknown host 'db1': choose one of services, app1, app2, worker, lb, gateway"
    ]


def test_a_bad_target_name_is_refused_before_podman_is_asked() -> None:
    done = run_cli("status", "local", "--name", "Bad_Name")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "tierstack: target name 'Bad_Name' is not valid: use lower-case letters, digits and "
        "'-' (at most 31, starting with a letter or digit)"
    ]


def test_up_refuses_a_subnet_that_is_not_a_24() -> None:
    for subnet in ("10.234.0.0/16", "not-a-network"):
        done = run_cli("up", "local", "--name", "tscli-never-up", "--subnet", subnet)
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            f"tierstack: subnet '{subnet}' is not valid: give a /24, e.g. 10.234.0.0/24"
        ]


def test_status_json_is_built_from_the_targets_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status of a target whose hosts are gone: every host missing, no app server, not
    healthy (Podman answers for real: it lists no container of that name)."""
    from tierstack.local import status
    from tierstack.local.target import LocalTarget
    from tierstack.local.topology import HOSTS

    if shutil.which("podman") is None:
        pytest.fail("podman is installed by scripts/setup.sh")
    monkeypatch.setattr(LocalTarget, "state_dir", property(lambda self: tmp_path))
    target = LocalTarget(name="tscli-gone", subnet="10.234.9.0/24", apps=["cloud-drive"])
    report = status.collect(target)
    assert [host["state"] for host in report["hosts"]] == ["missing"] * len(HOSTS)
    assert report["hosts"][0]["address"] == "10.234.9.14"
    assert report["apps"] == [
        {
            "name": "cloud-drive",
            "url": "https://cloud-drive.localhost:8443/",
            "servers": {},
            "healthy": False,
        }
    ]
    assert report["healthy"] is False
    text = status.render(report)
    assert "NOT healthy" in text and "services  missing   10.234.9.14" in text
    json.dumps(report)  # serialisable as it is


def test_down_of_a_target_without_hosts_reports_its_phase() -> None:
    """Podman answers for real (there is nothing of that name to remove); the phase is one line
    on stderr, the result on stdout, and --quiet leaves only the result."""
    done = run_cli("down", "local", "--name", "tscli-never-up")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"remove hosts: data kept \(\d+\.\ds\)\n", done.stderr)
    assert done.stdout == (
        "removed the local target's hosts and network (data volumes kept; --purge deletes them)\n"
    )
    quiet = run_cli("down", "local", "--name", "tscli-never-up", "--quiet")
    assert (quiet.returncode, quiet.stderr) == (0, "")
