"""/readyz: answered on the private network only, and the backends' answers cached briefly
(each probe used to make live backend calls, an SMTP session included). The mail backend is a
real SMTP server (aiosmtpd) that counts the sessions the app opens."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

import reference_apps.web
from reference_apps.backends import ConfigError
from reference_apps.cloud_drive import create_app


class CountingSmtp:
    def __init__(self) -> None:
        self.noops = 0

    async def handle_NOOP(self, _server, _session, _envelope, _arg) -> str:
        self.noops += 1
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, CountingSmtp]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = CountingSmtp()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def test_readiness_is_cached(
    tmp_path: Path, smtp: tuple[int, CountingSmtp], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, server = smtp
    now = [1000.0]
    monkeypatch.setattr(reference_apps.web, "monotonic", lambda: now[0])
    app = create_app(
        {
            "DATA_DIR": str(tmp_path),
            "MAIL_URL": f"smtp://127.0.0.1:{port}",
            "READYZ_CACHE_SECONDS": "10",
        }
    )
    client = app.test_client()
    for _ in range(5):
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json["checks"]["mail"] == "ok"
    assert server.noops == 1
    now[0] += 10.5
    assert client.get("/readyz").status_code == 200
    assert server.noops == 2


@pytest.mark.parametrize(
    ("remote", "forwarded_for", "status"),
    [
        ("127.0.0.1", None, 200),  # an operator on the host
        ("10.40.1.25", None, 200),  # AWS/Azure load balancer probe from its subnet
        ("35.191.3.7", None, 200),  # Google's health checkers
        ("10.40.1.25", "198.51.100.7", 403),  # a visitor through the load balancer
        ("203.0.113.5", None, 403),  # anyone else
    ],
)
def test_readiness_is_for_the_private_network(
    tmp_path: Path,
    smtp: tuple[int, CountingSmtp],
    remote: str,
    forwarded_for: str | None,
    status: int,
) -> None:
    port, server = smtp
    app = create_app({"DATA_DIR": str(tmp_path), "MAIL_URL": f"smtp://127.0.0.1:{port}"})
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = app.test_client().get(
        "/readyz", headers=headers, environ_base={"REMOTE_ADDR": remote}
    )
    assert response.status_code == status
    if status == 403:
        assert response.json == {"error": "readiness is answered on the private network only"}
        assert server.noops == 0  # refused before any backend call
    else:
        assert response.json["status"] == "ready" and server.noops == 1


def test_a_bad_allow_list_stops_the_app(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"READYZ_ALLOW=10\.0\.0\.0/33"):
        create_app({"DATA_DIR": str(tmp_path), "READYZ_ALLOW": "10.0.0.0/33"})
