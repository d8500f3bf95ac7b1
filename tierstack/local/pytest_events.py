"""pytest plugin (`-p tierstack.local.pytest_events`): the test run's progress as events.

`tierstack verify local` and `up` run the testinfra suite with its output in a log and follow
these events instead: how many tests were collected, each one's outcome as it ends. Silent
unless TIERSTACK_EVENTS names a file.
"""

from __future__ import annotations

import pytest

from tierstack.progress import write_event


def pytest_collection_finish(session: pytest.Session) -> None:
    write_event({"event": "collected", "total": len(session.items)})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One event per test: its call's outcome, or the setup's when the test never ran, or a
    failed teardown (which fails a test that had passed)."""
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        write_event({"event": "test", "nodeid": report.nodeid, "outcome": report.outcome})
    elif report.when == "teardown" and report.outcome == "failed":
        write_event({"event": "test", "nodeid": report.nodeid, "outcome": "error"})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    write_event({"event": "finished", "exitstatus": int(exitstatus)})
