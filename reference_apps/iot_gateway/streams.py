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


@dataclass(frozen=True)
class WindowStats:
    """Count, sum and sum of squares of a sliding window: its mean and spread in O(1)."""

    count: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.count

    @property
    def std(self) -> float:
        """Sample standard deviation."""
        variance = (self.squares - self.total * self.total / self.count) / (self.count - 1)
        return math.sqrt(max(0.0, variance))


def sliding_window(
    size: int,
    key: Callable[[T], str],
    value_of: Callable[[T], float],
    source: Stream[T],
    target: Stream[tuple[T, WindowStats]],
) -> None:
    """The statistics of the last ``size`` values per key (before the current one), emitted
    with each new value; kept incrementally, so each value costs the same whatever the size."""
    history: dict[str, tuple[deque[float], list[float]]] = {}

    def agent(value: T) -> None:
        window, sums = history.setdefault(key(value), (deque(), [0.0, 0.0]))
        target.append((value, WindowStats(len(window), sums[0], sums[1])))
        number = value_of(value)
        window.append(number)
        sums[0] += number
        sums[1] += number * number
        if len(window) > size:
            old = window.popleft()
            sums[0] -= old
            sums[1] -= old * old

    source.subscribe(agent)


def zscore(value: float, window: WindowStats) -> float | None:
    """How many standard deviations ``value`` is from the window's mean; None if too few."""
    if window.count < 10:
        return None
    std = window.std
    if std < 1e-6 * max(1.0, abs(window.mean)):
        return None if abs(value - window.mean) < 1e-9 else math.inf
    return (value - window.mean) / std


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
