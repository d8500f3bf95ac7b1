"""Progress of long commands (`up`, `verify`, `down`, `preview --all`, `report`).

A newcomer must tell a slow step from a hung one. On a terminal, rich draws a live view: one row
per phase with its elapsed time, and rows beneath it for the parts that move independently (each
host of a converge, the test run). When stderr is not a terminal (CI logs, a pipe), each phase
writes one plain line when it ends, so logs stay readable and diffable. `quiet` writes nothing.
Progress goes to stderr: stdout keeps what scripts read (URLs, JSON).

Long child processes report through an events file: one JSON object per line, written by the
Ansible callback (tierstack/local/ansible_plugins) or the pytest plugin (tierstack.local.
pytest_events) that `TIERSTACK_EVENTS` points at; `run_following` runs the child and hands each
event to the caller as it arrives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.progress import Progress as RichProgress
from rich.text import Text

Mode = Literal["live", "plain", "quiet"]
EVENTS_ENV = "TIERSTACK_EVENTS"


def choose_mode(quiet: bool, stream: TextIO | None = None) -> Mode:
    """Live on a terminal, plain lines elsewhere; `TERM=dumb` counts as elsewhere."""
    if quiet:
        return "quiet"
    stream = stream or sys.stderr
    interactive = stream.isatty() and os.environ.get("TERM", "") != "dumb"
    return "live" if interactive else "plain"


class _MarkColumn(ProgressColumn):
    """A spinner while a row runs, then a check mark, or a cross when it failed."""

    def __init__(self) -> None:
        super().__init__()
        self._spinner = SpinnerColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("failed"):
            return Text("✗", style="bold red")
        if task.fields.get("done"):
            return Text("✓", style="green")
        # The spinner itself: rich's column blanks it whenever a count reaches its total.
        return self._spinner.spinner.render(task.get_time())  # type: ignore[return-value]


class _ElapsedColumn(ProgressColumn):
    """The row's own clock, stopped when the row is done (rich's column would also stop it
    whenever a count reaches its total, e.g. a host between two roles)."""

    def render(self, task: Task) -> Text:
        seconds = int(task.elapsed or 0)
        return Text(f"{seconds // 60}:{seconds % 60:02d}", style="yellow")


class _CountColumn(ProgressColumn):
    """`done/total` when the total is known, the count alone when it is not."""

    def render(self, task: Task) -> Text:
        if not task.fields.get("show_count"):
            return Text("")
        done = int(task.completed)
        return Text(f"{done}/{int(task.total)}" if task.total else f"{done}", style="cyan")


class Row:
    """One line of the display: a phase, or a part of one (a host, the test run)."""

    def __init__(
        self,
        progress: Progress,
        task: TaskID | None,
        title: str,
        total: float | None,
        indent: int = 0,
    ) -> None:
        self._progress = progress
        self._task = task
        self.indent = indent
        self.counted = total is not None or indent > 0  # a phase without a total shows no count
        self.done = False
        self.title = title
        self.total = total
        self.completed = 0.0
        self.detail = ""
        self.started = time.monotonic()

    def update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        advance: float = 0,
        title: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Thread-safe: previews and converges report from their own threads."""
        with self._progress.lock:
            self._update(completed, total, advance, title, detail)

    def _update(
        self,
        completed: float | None,
        total: float | None,
        advance: float,
        title: str | None,
        detail: str | None,
    ) -> None:
        if total is not None:
            self.total = total
            self.counted = True
        if completed is not None:
            self.completed = completed
        self.completed += advance
        if self.total is not None:
            self.completed = min(self.completed, self.total)
        if title is not None:
            self.title = title
        if detail is not None:
            self.detail = detail
        self._progress._refresh(self)

    def advance(self, amount: float = 1) -> None:
        self.update(advance=amount)

    def finish(self, detail: str | None = None, *, failed: bool = False) -> None:
        """Freezes the row's clock; a finished row counts as complete unless it failed."""
        with self._progress.lock:
            if detail is not None:
                self.detail = detail
            if not failed:
                self.total = self.total or max(self.completed, 1)
                self.completed = self.total
            self._progress._finish(self, failed)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Progress:
    """The display of one command; use as a context manager around its phases."""

    def __init__(self, mode: Mode = "plain", stream: TextIO | None = None) -> None:
        self.mode = mode
        self.stream = stream or sys.stderr
        self.lock = threading.RLock()
        self._rich: RichProgress | None = None
        if mode == "live":
            self._rich = RichProgress(
                _MarkColumn(),
                TextColumn("{task.description}", markup=False),
                BarColumn(bar_width=10),
                _CountColumn(),
                TextColumn("{task.fields[detail]}", style="dim", markup=False),
                _ElapsedColumn(),
                console=Console(file=self.stream),
                refresh_per_second=8,
            )

    def __enter__(self) -> Progress:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._rich is not None:
            self._rich.stop()

    def row(self, title: str, total: float | None = None, *, indent: int = 0) -> Row:
        """A row of its own (e.g. one host under the converge phase)."""
        task = None
        if self._rich is not None:
            task = self._rich.add_task(
                "  " * indent + title, total=total, detail="", show_count=indent > 0 or bool(total)
            )
        return Row(self, task, title, total, indent)

    @contextmanager
    def phase(self, title: str, total: float | None = None) -> Iterator[Row]:
        """A phase: its row finishes when the block does, or is marked failed if it raises.
        In plain mode the phase writes its one line then: `title: detail (elapsed)`."""
        row = self.row(title, total)
        try:
            yield row
        except BaseException:
            row.finish(failed=True)
            raise
        if not row.done:
            row.finish()

    def line(self, text: str) -> None:
        """A line above the live display, or a plain line; nothing when quiet."""
        if self.mode == "quiet":
            return
        if self._rich is not None:
            self._rich.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def _refresh(self, row: Row) -> None:
        if self._rich is not None and row._task is not None:
            self._rich.update(
                row._task,
                description="  " * row.indent + row.title,
                completed=row.completed,
                total=row.total,
                detail=row.detail,
                show_count=row.counted,
            )

    def _finish(self, row: Row, failed: bool) -> None:
        row.done = True
        if self._rich is not None and row._task is not None:
            self._refresh(row)
            self._rich.update(row._task, failed=failed, done=not failed)
            self._rich.stop_task(row._task)
            return
        if self.mode == "plain" and not failed and row.indent == 0:
            detail = f": {row.detail}" if row.detail else ""
            print(f"{row.title}{detail} ({row.elapsed:.1f}s)", file=self.stream, flush=True)


def run_following(
    command: Sequence[str],
    events: Path,
    on_event: Callable[[dict[str, Any]], None],
    *,
    poll: float = 0.1,
    **popen: Any,
) -> int:
    """Runs `command` with TIERSTACK_EVENTS=events and calls `on_event` for each event the
    child writes, as it writes them; returns the exit status. Partial lines wait for the rest."""
    events.unlink(missing_ok=True)
    events.touch(mode=0o600)
    env = {**(popen.pop("env", None) or os.environ), EVENTS_ENV: str(events)}
    with events.open("r", encoding="utf-8") as feed:
        child = subprocess.Popen(list(command), env=env, **popen)
        pending = ""
        while True:
            finished = child.poll() is not None
            pending += feed.read()
            *lines, pending = pending.split("\n")
            for line in lines:
                if line.strip():
                    try:
                        event = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    on_event(event)
            if finished:
                return int(child.returncode)
            time.sleep(poll)


def write_event(event: dict[str, Any]) -> None:
    """Appends one event to the file TIERSTACK_EVENTS names (for the child-side plugins)."""
    path = os.environ.get(EVENTS_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(event) + "\n")
