"""What the progress display shows of a converge and of a test run, built from the events the
Ansible callback and the pytest plugin write (see tierstack.progress)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tierstack.progress import Progress, Row


@dataclass
class _Host:
    row: Row
    tasks: int = 0
    changed: int = 0
    role: str = ""
    by_role: Counter[str] = field(default_factory=Counter)


class ConvergeWatch:
    """Rows per host: the role it is in, that role's tasks done of its total, and the tasks and
    changes so far; the phase row counts hosts done. `summary()` is the phase's one line."""

    def __init__(self, progress: Progress, phase: Row) -> None:
        self.progress = progress
        self.phase = phase
        self.hosts: dict[str, _Host] = {}
        self.failed: list[str] = []

    def _host(self, name: str) -> _Host:
        if name not in self.hosts:
            self.hosts[name] = _Host(self.progress.row(name, indent=1))
            self.phase.update(total=len(self.hosts))
        return self.hosts[name]

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "play":
            for name in event.get("hosts", []):
                self._host(name)
        elif kind in ("start", "task"):
            host = self._host(event["host"])
            host.role = event.get("role", "")
            if kind == "task":
                host.tasks += 1
                host.changed += event["status"] == "changed"
                host.by_role[host.role] += 1
                if event["status"] in ("failed", "unreachable"):
                    self.failed.append(event["host"])
            host.row.update(
                title=f"{event['host']:<9}{host.role or 'play'}",
                completed=host.by_role[host.role],
                total=event.get("role_tasks") or None,
                detail=_short(event["task"]) if kind == "start" else None,
            )
        elif kind == "recap":
            for name, counts in event.get("hosts", {}).items():
                host = self._host(name)
                bad = counts.get("failures", 0) or counts.get("unreachable", 0)
                host.row.update(title=name, completed=host.tasks, total=host.tasks or None)
                host.row.finish(
                    f"{host.tasks} tasks, {counts.get('changed', 0)} changed", failed=bool(bad)
                )
                self.phase.advance()

    def summary(self) -> str:
        tasks = sum(host.tasks for host in self.hosts.values())
        changed = sum(host.changed for host in self.hosts.values())
        return f"{len(self.hosts)} hosts, {tasks} tasks, {changed} changed"


def _short(text: str, width: int = 26) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class SuiteWatch:
    """The test run's row: tests finished of those collected, with passed and failed counts."""

    def __init__(self, phase: Row) -> None:
        self.phase = phase
        self.outcomes: dict[str, str] = {}
        self.total = 0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "collected":
            self.total = int(event["total"])
            self.phase.update(total=self.total or None)
        elif kind == "test":
            self.outcomes[event["nodeid"]] = event["outcome"]
            self.phase.update(completed=len(self.outcomes), detail=self.summary())

    @property
    def failed(self) -> list[str]:
        return [node for node, outcome in self.outcomes.items() if outcome in ("failed", "error")]

    def summary(self) -> str:
        counts = Counter(self.outcomes.values())
        parts = [f"{counts['passed']} passed of {self.total}"]
        parts += [f"{counts[key]} {key}" for key in ("failed", "error", "skipped") if counts[key]]
        return ", ".join(parts)
