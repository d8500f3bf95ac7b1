"""End-to-end tests through the local target's load balancer (the host fixtures are in
tests/conftest.py, shared with tests/roles)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tierstack.local.target import LocalTarget


@pytest.fixture(scope="session", autouse=True)
def localhost_names() -> Iterator[None]:
    """Resolves `<app>.localhost` to 127.0.0.1 in this process, as browsers and curl do
    (RFC 6761); glibc here does not, and the apps are addressed by name through the LB."""
    original = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    yield
    socket.getaddrinfo = original


class LbClient:
    """HTTPS to one app by its name (`https://<app>.localhost:<port>`) through the load
    balancer's published port, trusting the LB's certificate."""

    def __init__(self, target: LocalTarget, app: str) -> None:
        import requests

        self.base = f"https://{app}.localhost:{target.https_port}"
        self.session = requests.Session()
        self.session.headers["Referer"] = self.base + "/"
        # Per request: a session-level `verify` loses to REQUESTS_CA_BUNDLE (requests#3829).
        self.ca_file = str(target.state_dir / "lb.crt")

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("verify", self.ca_file)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def client(target: LocalTarget) -> Any:
    """Factory: client("cloud-drive") talks to that app through the load balancer."""

    def make(app: str) -> LbClient:
        if app not in target.apps:
            pytest.fail(f"{app} is not deployed on this target (apps: {target.apps})")
        return LbClient(target, app)

    return make


@pytest.fixture
def lb_servers(hosts: dict[str, Any]) -> Any:
    """Callable: {server: (status, total sessions)} of one app's backend, from HAProxy's
    statistics page (bound to the lb's localhost, so read on the lb)."""

    def read(app: str) -> dict[str, tuple[str, int]]:
        csv = hosts["lb"].check_output("curl -s 'http://127.0.0.1:8404/stats;csv'")
        rows = [line.split(",") for line in csv.splitlines() if not line.startswith("#")]
        return {
            row[1]: (row[17], int(row[7]))
            for row in rows
            if row[0] == app and row[1] not in ("FRONTEND", "BACKEND")
        }

    return read


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.3) -> Any:
    """Polls ``check`` until it returns something truthy (no fixed sleep); its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
