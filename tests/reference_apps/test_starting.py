"""The stand-in app that serves 503 while the real one cannot be built yet: no request waits
for a try (a secret store that does not answer can take many seconds to fail), and a try that
fails for any reason leaves 503s, never a 500."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from reference_apps.backends.secrets import SecretUnavailable
from reference_apps.starting import WaitingForBackends


def call(app: Any) -> tuple[str, dict[str, str], bytes]:
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer.update(status=status, headers=dict(headers))

    body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz"}, start_response))
    return answer["status"], answer["headers"], body


def real_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_no_request_waits_for_a_slow_try() -> None:
    release, tries = threading.Event(), []

    def factory() -> Any:
        tries.append(1)
        release.wait(30)  # a secret store that does not answer
        return real_app

    clock = Clock()
    waiting = WaitingForBackends(factory, clock=clock, first_retry=5)
    assert call(waiting)[0].startswith("503")  # before the first retry is due
    clock.now += 6
    answered: list[str] = []
    request = threading.Thread(target=lambda: answered.append(call(waiting)[0]))
    request.start()
    request.join(10)  # a request blocked on the try would still be running here
    assert answered and answered[0].startswith("503"), "a request waited for the try"
    wait_until(lambda: tries == [1])
    status, headers, _ = call(waiting)  # while the try still runs: 503, and no second try
    assert status.startswith("503") and int(headers["Retry-After"]) >= 1
    assert tries == [1]
    release.set()
    wait_until(lambda: call(waiting)[0] == "200 OK")


def test_a_failed_try_keeps_503s_and_backs_off() -> None:
    outcomes: list[BaseException | None] = [
        SecretUnavailable("not yet"),
        RuntimeError("a bug"),
        None,
    ]
    tries: list[int] = []

    def factory() -> Any:
        tries.append(1)
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return real_app

    clock = Clock()
    waiting = WaitingForBackends(factory, clock=clock, first_retry=5)
    for expected_tries, wait in ((1, 6), (2, 11), (3, 21)):
        clock.now += wait
        assert call(waiting)[0].startswith("503")
        wait_until(lambda n=expected_tries: len(tries) == n and not waiting._trying)
        if expected_tries < 3:
            clock.now += 1  # too early for the next try: backed off (10 s, then 20 s)
            assert call(waiting)[0].startswith("503")
            assert len(tries) == expected_tries
    assert call(waiting)[0] == "200 OK"
