"""Streams and agents in the model of IoTPy: a stream is an append-only sequence, an agent reads
one stream and appends to others. Agents are wired once; every value appended flows through.

IoTPy itself (1.1.0, the last release) pins numpy 1.18.1, which does not build on Python 3.11,
so this is a small layer of our own with the same vocabulary: ``Stream``, ``map_element``,
``filter_element``, tumbling and sliding windows, and the detectors the gateway runs.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class Stream(Generic[T]):
    """An append-only stream; agents subscribed to it run on every appended value, in order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._agents: list[Callable[[T], None]] = []
        self.count = 0

    def subscribe(self, agent: Callable[[T], None]) -> None:
        self._agents.append(agent)

    def append(self, value: T) -> None:
        self.count += 1
        for agent in self._agents:
            agent(value)

    def extend(self, values: list[T]) -> None:
        for value in values:
            self.append(value)


def map_element(func: Callable[[T], U | None], source: Stream[T], target: Stream[U]) -> None:
    """Append ``func(value)`` to ``target`` for each value; ``None`` results are skipped."""

    def agent(value: T) -> None:
        result = func(value)
        if result is not None:
            target.append(result)

    source.subscribe(agent)


def filter_element(keep: Callable[[T], bool], source: Stream[T], target: Stream[T]) -> None:
    source.subscribe(lambda value: target.append(value) if keep(value) else None)


def sink(func: Callable[[T], None], source: Stream[T]) -> None:
    """An agent with no output stream: it acts (stores, publishes)."""
    source.subscribe(func)


@dataclass
class Window:
    """The values of one window, with its bounds (seconds since the epoch)."""

    key: str
    start: float
    end: float
    values: list[float]

    def summary(self) -> dict[str, Any]:
        values = self.values
        return {
            "start": self.start,
            "end": self.end,
            "count": len(values),
            "min": min(values),
            "max": max(values),
            "mean": sum(values) / len(values),
        }


def tumbling_window(
    seconds: float,
    key: Callable[[T], str],
    time_of: Callable[[T], float],
    value_of: Callable[[T], float],
    source: Stream[T],
    target: Stream[Window],
) -> None:
    """Non-overlapping event-time windows per key; a window is emitted when a value of a later
    window arrives for the same key (readings arrive in order per device)."""
    open_windows: dict[str, Window] = {}

    def agent(value: T) -> None:
        name, at = key(value), time_of(value)
        start = math.floor(at / seconds) * seconds
        window = open_windows.get(name)
        if window is not None and start > window.start:
            target.append(window)
            window = None
        if window is None:
            window = open_windows[name] = Window(name, start, start + seconds, [])
        if start == window.start:
            window.values.append(value_of(value))

    source.subscribe(agent)


def sliding_window(
    size: int,
    key: Callable[[T], str],
    value_of: Callable[[T], float],
    source: Stream[T],
    target: Stream[tuple[T, list[float]]],
) -> None:
    """The last ``size`` values per key (before the current one), emitted with each new value."""
    history: dict[str, deque[float]] = {}

    def agent(value: T) -> None:
        window = history.setdefault(key(value), deque(maxlen=size))
        target.append((value, list(window)))
        window.append(value_of(value))

    source.subscribe(agent)


def zscore(value: float, window: list[float]) -> float | None:
    """How many standard deviations ``value`` is from the window's mean; None if too few."""
    if len(window) < 10:
        return None
    mean = sum(window) / len(window)
    variance = sum((x - mean) ** 2 for x in window) / (len(window) - 1)
    std = math.sqrt(variance)
    if std < 1e-9:
        return None if value == mean else math.inf
    return (value - mean) / std


@dataclass
class RateMeter:
    """Readings per second per device over a sliding time span (for the rate agent)."""

    span: float = 10.0
    times: dict[str, deque[float]] = field(default_factory=dict)

    def add(self, key: str, at: float) -> float:
        times = self.times.setdefault(key, deque())
        times.append(at)
        while times and times[0] < at - self.span:
            times.popleft()
        return len(times) / self.span
