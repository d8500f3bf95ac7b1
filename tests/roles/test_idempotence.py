"""A second converge of the whole local target changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.hosts, pytest.mark.reconverges]


def test_second_converge_reports_no_change(target: Any) -> None:
    recap = target.converge(log_name="idempotence.log")
    assert set(recap) == {"lb", "app1", "app2", "worker", "services"}
    changed = {host: counts["changed"] for host, counts in recap.items() if counts["changed"]}
    assert changed == {}, f"changed tasks: {changed} (see {target.state_dir}/idempotence.log)"
    assert all(counts["failed"] == 0 for counts in recap.values())
