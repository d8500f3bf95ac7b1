"""worker: the queue consumer runs as a sandboxed systemd unit that always comes back."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.hosts


def test_consumer_runs_enabled_and_sandboxed(hosts: dict[str, Any], target: Any) -> None:
    if "image-processing" not in target.apps:
        pytest.fail("the worker tests need the image-processing app deployed")
    worker = hosts["worker"]
    unit = "image-processing-worker"
    assert worker.service(unit).is_running
    assert worker.service(unit).is_enabled
    shown = worker.check_output(
        f"systemctl show {unit} -p User -p Restart -p ProtectSystem"
        " -p NoNewPrivileges -p PrivateTmp"
    )
    properties = dict(line.split("=", 1) for line in shown.splitlines())
    assert properties == {
        "User": unit,
        "Restart": "always",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
    }
    env = worker.file(f"/etc/tierstack/{unit}.env")
    assert (env.user, env.group, env.mode) == ("root", unit, 0o640)
    assert "QUEUE_URL=" in env.content_string


def test_worker_host_serves_no_app(hosts: dict[str, Any]) -> None:
    assert not hosts["worker"].process.filter(comm="gunicorn")
