"""A steady stream of requests during a fault, every response counted.

Shared by the emulator fault tests (tests/reference_apps/faults/), the local-target fault tests
(tests/e2e/test_faults.py) and the fault benchmark (bench/bench_faults.py): each sends requests
at a fixed pace from a thread while a backing service is stopped and started, then asks what was
answered when — which statuses, whether any 503 fell outside the outage, how long users saw
degraded answers.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

NO_ANSWER = 0  # a connection error or a request past its timeout


@dataclass(frozen=True)
class Outcome:
    """One request: when it started and ended (monotonic seconds), what it got."""

    kind: str
    started: float
    ended: float
    status: int
    retry_after: str | None = None
    detail: str = ""


@dataclass
class Outage:
    """When the fault began and when the service was back (monotonic seconds)."""

    began: float = 0.0
    ended: float = 0.0

    def start(self) -> None:
        self.began = time.monotonic()

    def stop(self) -> None:
        self.ended = time.monotonic()


Request = Callable[[], tuple[int, str | None, str]]
"""Sends one request; returns (status, Retry-After header, a short detail for failures)."""


@dataclass
class Traffic:
    """Requests of each kind sent one every ``interval`` seconds, each kind from its own thread
    (a request that hangs holds up only its own kind)."""

    requests: dict[str, Request]
    interval: float = 0.1
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(kind,), daemon=True) for kind in self.requests
        ]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)
        self.outcomes.sort(key=lambda outcome: outcome.started)

    def _run(self, kind: str) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status, retry_after, detail = self.requests[kind]()
            except Exception as error:  # the request itself failed: no answer at all
                status, retry_after, detail = NO_ANSWER, None, repr(error)[:200]
            ended = time.monotonic()
            self.outcomes.append(Outcome(kind, started, ended, status, retry_after, detail))
            self._stop.wait(max(0.0, self.interval - (ended - started)))

    def wait_for(self, predicate: Callable[[Outcome], bool], timeout: float) -> Outcome:
        """The first new outcome matching ``predicate`` (e.g. a 2xx after recovery)."""
        seen = len(self.outcomes)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for outcome in self.outcomes[seen:]:
                if predicate(outcome):
                    return outcome
            time.sleep(0.05)
        tail = [(o.kind, o.status, o.detail) for o in self.outcomes[-5:]]
        raise AssertionError(f"no matching response in {timeout}s; last ones: {tail}")

    def statuses(self) -> Counter[int]:
        return Counter(outcome.status for outcome in self.outcomes)

    def server_errors(self) -> list[Outcome]:
        """Everything a user must never see: a 5xx other than 503, or no answer at all."""
        return [
            o
            for o in self.outcomes
            if o.status == NO_ANSWER or (o.status >= 500 and o.status != 503)
        ]

    def unavailable(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 503]

    def outside(self, outage: Outage, slack: float) -> list[Outcome]:
        """503s that neither overlapped the outage nor came within ``slack`` seconds of its end:
        a service that stayed degraded after its dependency was back."""
        return [
            o
            for o in self.unavailable()
            if o.ended < outage.began or o.started > outage.ended + slack
        ]

    def window(self) -> tuple[float, int]:
        """The degraded window (first 503 to the first 2xx after the last 503, in seconds) and
        the number of degraded responses; (0, 0) when nothing was degraded."""
        degraded = [o for o in self.outcomes if o.status >= 500 or o.status == NO_ANSWER]
        if not degraded:
            return 0.0, 0
        last_ended = max(o.ended for o in degraded)
        first_started = min(o.started for o in degraded)
        recovered = min(
            (o.ended for o in self.outcomes if o.started >= last_ended and 200 <= o.status < 300),
            default=max(o.ended for o in self.outcomes),
        )
        return recovered - first_started, len(degraded)

    def summary(self) -> str:
        seconds, count = self.window()
        counts = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses().items()))
        return f"{len(self.outcomes)} requests ({counts}); degraded {count} over {seconds:.1f} s"
