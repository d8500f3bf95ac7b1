"""Ansible callback `tierstack_events`: one JSON line per task result, for the progress display.

Enabled by `tierstack up local` (ANSIBLE_CALLBACKS_ENABLED) and writing only when
TIERSTACK_EVENTS names a file; the CLI follows that file while the playbook runs. Each result
carries the host, its role, and how many tasks that role has: the play's task list cannot say
in advance what a host will run (the playbook includes roles dynamically, per tier), but a role
is loaded whole when it is included, so its task count is known the moment it starts.
Self-contained (no tierstack import): Ansible loads it by path.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: tierstack_events
type: notification
short_description: one JSON event per task result, to the file TIERSTACK_EVENTS names
description:
  - Writes play, task result and recap events for tierstack's progress display.
requirements:
  - TIERSTACK_EVENTS set in the controller's environment (the callback is silent otherwise)
"""


def count_tasks(blocks: list[Any]) -> int:
    """The tasks in a role's blocks (block, rescue and always sections; nested blocks too)."""
    total = 0
    for block in blocks:
        for section in (block.block, block.rescue, block.always):
            for item in section or []:
                total += count_tasks([item]) if hasattr(item, "block") else 1
    return total


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "tierstack_events"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._path = os.environ.get("TIERSTACK_EVENTS", "")
        self._role_sizes: dict[int, int] = {}

    def _write(self, event: dict[str, Any]) -> None:
        if not self._path:
            return
        with open(self._path, "a", encoding="utf-8") as out:
            out.write(json.dumps(event) + "\n")

    def _role_size(self, role: Any) -> int:
        if id(role) not in self._role_sizes:
            try:
                self._role_sizes[id(role)] = count_tasks(role.get_task_blocks())
            except Exception:  # an unexpected Role shape must not break the converge
                self._role_sizes[id(role)] = 0
        return self._role_sizes[id(role)]

    def _task_event(self, kind: str, host: Any, task: Any, **extra: Any) -> None:
        role = getattr(task, "_role", None)
        self._write(
            {
                "event": kind,
                "host": host.get_name(),
                "task": task.name or task.get_name(),
                "role": role.get_name() if role else "",
                "role_tasks": self._role_size(role) if role else 0,
                **extra,
            }
        )

    def _result(self, result: Any, status: str) -> None:
        self._task_event("task", result._host, result._task, status=status)

    def v2_runner_on_start(self, host: Any, task: Any) -> None:
        """A task starts on a host: the display names what a slow host is busy with."""
        self._task_event("start", host, task)

    def v2_playbook_on_play_start(self, play: Any) -> None:
        try:
            inventory = play.get_variable_manager()._inventory
            hosts = [host.get_name() for host in inventory.get_hosts(play.hosts)]
        except Exception:
            hosts = []
        self._write({"event": "play", "name": play.get_name(), "hosts": hosts})

    def v2_runner_on_ok(self, result: Any) -> None:
        self._result(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result: Any) -> None:
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._write(
            {
                "event": "recap",
                "hosts": {host: stats.summarize(host) for host in sorted(stats.processed)},
            }
        )
