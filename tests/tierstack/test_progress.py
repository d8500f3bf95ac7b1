"""Progress from real events: the tierstack_events Ansible callback in a real ansible-playbook
run (localhost, connection local: no Podman host), the pytest plugin in a real pytest run, and
the plain lines a CI log gets from them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tierstack.local.converge import run_playbook
from tierstack.local.errors import TargetError
from tierstack.local.target import LocalTarget
from tierstack.local.watch import ConvergeWatch, SuiteWatch
from tierstack.progress import Progress, choose_mode

ROLE_TASKS = """\
- name: Say hello
  ansible.builtin.debug:
    msg: hello
- name: Write a file
  ansible.builtin.copy:
    dest: "{{ out }}"
    content: "x\\n"
    mode: "0600"
- name: Never runs
  ansible.builtin.debug:
    msg: skipped
  when: false
- name: In a block
  block:
    - name: Fail when asked
      ansible.builtin.fail:
        msg: asked to fail
      when: fail | default(false)
"""

PLAYBOOK = """\
- name: Tiny play
  hosts: all
  gather_facts: false
  tasks:
    - name: Include the role
      ansible.builtin.include_role:
        name: tiny
"""


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LocalTarget, Path, dict]:
    (tmp_path / "roles" / "tiny" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "tiny" / "tasks" / "main.yml").write_text(ROLE_TASKS)
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    state = tmp_path / "state"
    monkeypatch.setattr(LocalTarget, "state_dir", property(lambda self: state))
    monkeypatch.setattr("tierstack.local.converge.ensure_wheelhouse", lambda: None)
    monkeypatch.setenv("ANSIBLE_ROLES_PATH", str(tmp_path / "roles"))
    inventory = {
        "all": {
            "hosts": {"localhost": {"ansible_connection": "local"}},
            "vars": {
                "ansible_python_interpreter": sys.executable,
                "out": str(tmp_path / "written"),
            },
        }
    }
    return LocalTarget(name="unit"), playbook, inventory


def test_the_callback_reports_each_task_with_its_role_and_the_roles_size(
    tiny: tuple[LocalTarget, Path, dict],
) -> None:
    target, playbook, inventory = tiny
    events: list[dict[str, Any]] = []
    recap = run_playbook(target, playbook, inventory, log_name="tiny.log", on_event=events.append)
    assert recap["localhost"]["changed"] == 1
    assert events[0] == {"event": "play", "name": "Tiny play", "hosts": ["localhost"]}
    tasks = [e for e in events if e["event"] == "task"]
    in_role = [(e["task"], e["status"]) for e in tasks if e["role"] == "tiny"]
    assert in_role == [
        ("Say hello", "ok"),
        ("Write a file", "changed"),
        ("Never runs", "skipped"),
        ("Fail when asked", "skipped"),
    ]
    assert {e["role_tasks"] for e in tasks if e["role"] == "tiny"} == {4}
    # Each task is announced on its host before its result, so a slow one can be named.
    starts = [e["task"] for e in events if e["event"] == "start" and e["role"] == "tiny"]
    assert starts == [task for task, _ in in_role]
    assert events[-1]["event"] == "recap"
    assert events[-1]["hosts"]["localhost"]["changed"] == 1
    # The events file is kept beside the log, one JSON object a line.
    lines = (target.state_dir / "tiny.events").read_text().splitlines()
    assert [json.loads(line) for line in lines] == events


def test_converge_progress_in_a_ci_log_is_one_line_per_phase(
    tiny: tuple[LocalTarget, Path, dict],
) -> None:
    target, playbook, inventory = tiny
    out = io.StringIO()
    with Progress("plain", out) as progress, progress.phase("converge") as phase:
        watch = ConvergeWatch(progress, phase)
        run_playbook(target, playbook, inventory, log_name="tiny.log", on_event=watch)
        phase.update(detail=watch.summary())
    line = out.getvalue()
    assert line.count("\n") == 1
    assert line.startswith("converge: 1 hosts, 5 tasks, 1 changed (")
    assert watch.hosts["localhost"].by_role == {"": 1, "tiny": 4}


def test_a_host_row_names_the_task_it_is_busy_with() -> None:
    out = io.StringIO()
    with Progress("plain", out) as progress, progress.phase("converge") as phase:
        watch = ConvergeWatch(progress, phase)
        start = {"host": "app1", "role": "common", "role_tasks": 27}
        watch({"event": "task", **start, "task": "Probe", "status": "ok"})
        watch({"event": "start", **start, "task": "Install the baseline packages"})
        row = watch.hosts["app1"].row
        assert (row.title, row.completed, row.total) == ("app1     common", 1, 27)
        assert row.detail == "Install the baseline pack…"  # cut to fit an 80-column terminal
        watch({"event": "recap", "hosts": {"app1": {"changed": 0, "failures": 0}}})
        assert row.done and row.detail == "1 tasks, 0 changed"
        phase.update(detail=watch.summary())
    assert out.getvalue().startswith("converge: 1 hosts, 1 tasks, 0 changed (")


def test_a_failed_task_is_reported_by_event_and_by_its_line(
    tiny: tuple[LocalTarget, Path, dict],
) -> None:
    target, playbook, inventory = tiny
    inventory["all"]["vars"]["fail"] = True
    out = io.StringIO()
    with (
        pytest.raises(TargetError) as error,
        Progress("plain", out) as progress,
        progress.phase("converge") as phase,
    ):
        watch = ConvergeWatch(progress, phase)
        run_playbook(target, playbook, inventory, log_name="tiny.log", on_event=watch)
    assert watch.failed == ["localhost"]
    assert str(error.value).startswith(
        "converge failed on host localhost at task 'tiny : Fail when asked': asked to fail"
    )
    assert out.getvalue() == ""  # a failed phase leaves its line to the error


def test_the_pytest_plugin_counts_tests_as_they_end(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n"
        "def test_a(): pass\n"
        "def test_b(): pass\n"
        "def test_c(): assert False\n"
        "@pytest.mark.skip\ndef test_d(): pass\n"
    )
    events = tmp_path / "events"
    from tierstack.progress import run_following

    out = io.StringIO()
    with Progress("plain", out) as progress, progress.phase("verify") as phase:
        watch = SuiteWatch(phase)
        code = run_following(
            [sys.executable, "-m", "pytest", "-q", "-p", "tierstack.local.pytest_events"],
            events,
            watch,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
        )
        phase.update(detail=watch.summary())
    assert code == 1
    assert watch.total == 4
    assert watch.outcomes == {
        "test_sample.py::test_a": "passed",
        "test_sample.py::test_b": "passed",
        "test_sample.py::test_c": "failed",
        "test_sample.py::test_d": "skipped",
    }
    assert watch.failed == ["test_sample.py::test_c"]
    assert out.getvalue().startswith("verify: 2 passed of 4, 1 failed, 1 skipped (")


def test_the_live_display_draws_rows_with_rich() -> None:
    out = io.StringIO()
    with Progress("live", out) as progress:
        with progress.phase("prerequisites"):
            pass
        with progress.phase("hosts", total=2) as phase:
            phase.advance()
            phase.advance()
            progress.row("app1", indent=1).finish("3 tasks")
            # A host between two roles has all of one role's tasks done: not done itself.
            progress.row("lb", indent=1).update(completed=12, total=12)
    final = out.getvalue().splitlines()[-4:]  # the last frame
    assert final[0].startswith("✓ prerequisites") and "/" not in final[0]  # no count, no total
    assert final[1].startswith("✓ hosts") and " 2/2 " in final[1]
    assert final[2].startswith("✓   app1") and "3 tasks" in final[2]
    assert final[3][0] in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" and " 12/12 " in final[3]  # still spinning


def test_mode_follows_the_terminal_and_quiet() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert choose_mode(False, io.StringIO()) == "plain"
    assert choose_mode(True, Tty()) == "quiet"
    quiet = io.StringIO()
    with Progress("quiet", quiet) as progress, progress.phase("hosts"):
        progress.line("not shown")
    assert quiet.getvalue() == ""
