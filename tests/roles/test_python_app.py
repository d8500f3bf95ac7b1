"""python_app: each app under its own system user, in a sandboxed gunicorn unit that restarts
on failure, with a private environment file and read-only code."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tierstack.local.target import APPS

pytestmark = pytest.mark.hosts


@pytest.fixture(params=["app1", "app2"])
def app_host(request: pytest.FixtureRequest, hosts: dict[str, Any]) -> Any:
    return hosts[request.param]


def test_apps_run_enabled_under_their_own_users(app_host: Any, target: Any) -> None:
    for app in target.apps:
        assert app_host.service(app).is_running
        assert app_host.service(app).is_enabled
        bind = f"--bind 0.0.0.0:{APPS[app].port}"
        users = {
            process.user
            for process in app_host.process.filter(comm="gunicorn")
            if bind in process.args
        }
        assert users == {app}


def test_units_are_sandboxed(app_host: Any, target: Any) -> None:
    for app in target.apps:
        shown = app_host.check_output(
            f"systemctl show {app} -p ProtectSystem -p PrivateTmp -p NoNewPrivileges"
            " -p ProtectHome -p Restart -p User -p CapabilityBoundingSet"
        )
        properties = dict(line.split("=", 1) for line in shown.splitlines())
        assert properties["ProtectSystem"] == "strict"
        assert properties["PrivateTmp"] == "yes"
        assert properties["NoNewPrivileges"] == "yes"
        assert properties["ProtectHome"] == "yes"
        assert properties["Restart"] == "on-failure"
        assert properties["User"] == app
        assert properties["CapabilityBoundingSet"] == ""


def test_environment_file_is_readable_by_its_app_only(app_host: Any, target: Any) -> None:
    for app in target.apps:
        env = app_host.file(f"/etc/tierstack/{app}.env")
        assert (env.user, env.group, env.mode) == ("root", app, 0o640)
        assert 'APP_ENV="production"' in env.content_string
        assert "SECRET_KEY=" in env.content_string


def test_code_is_read_only_for_the_apps(app_host: Any) -> None:
    code = app_host.file("/opt/tierstack/src/reference_apps")
    assert (code.user, code.mode) == ("root", 0o755)
    assert app_host.run("runuser -u cloud-drive -- touch /opt/tierstack/src/x").rc != 0


def test_a_crashed_app_is_restarted(hosts: dict[str, Any], target: Any) -> None:
    app2, app = hosts["app2"], target.apps[-1]
    before = app2.check_output(f"systemctl show -p MainPID --value {app}")
    app2.check_output(f"kill -9 {before}")
    deadline = time.monotonic() + 30
    after = before
    while time.monotonic() < deadline:
        after = app2.check_output(f"systemctl show -p MainPID --value {app}")
        if after not in ("0", before) and app2.service(app).is_running:
            break
        time.sleep(0.5)
    assert after not in ("0", before)
    port = APPS[app].port
    assert (
        app2.run(
            f"timeout 30 sh -c 'until curl -sf http://127.0.0.1:{port}/healthz; do sleep 0.5; done'"
        ).rc
        == 0
    )
