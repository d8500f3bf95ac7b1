"""The client address behind each cloud's load balancer, in the header format each documents.

- AWS ALB appends the client address to X-Forwarded-For: ``PROXY_HOPS=1``.
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html
- GCP's external Application LB appends ``<client>, <load balancer>``: ``PROXY_HOPS=2``.
  https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header
- Azure Application Gateway appends ``<client>:<port>``: ``PROXY_HOPS=1``,
  ``PROXY_ADDRESS_FORMAT=ip:port``.
  https://learn.microsoft.com/azure/application-gateway/how-application-gateway-works#modifications-to-the-request
- HAProxy (the local target, ``option forwardfor``) appends the client address: ``PROXY_HOPS=1``.

Requests go through the real cloud-drive app (WSGI stack with its middleware and rate limiter);
REMOTE_ADDR is the load balancer's own address, as gunicorn would see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from reference_apps.backends import ConfigError
from reference_apps.cloud_drive import create_app

BASE = "https://drive.example"


@dataclass(frozen=True)
class Cloud:
    name: str
    env: dict[str, str]
    peer: str  # the load balancer's address as the app server sees it

    def forwarded_for(self, client: str, port: int = 50123, spoofed: str = "") -> str:
        """The X-Forwarded-For header this load balancer sends for ``client``."""
        prefix = f"{spoofed}, " if spoofed else ""
        if self.name == "gcp":
            return f"{prefix}{client}, 34.120.0.10"
        if self.name == "azure":
            return f"{prefix}{client}:{port}"
        return f"{prefix}{client}"


CLOUDS = [
    Cloud("aws", {"PROXY_HOPS": "1"}, "10.40.1.25"),
    Cloud("gcp", {"PROXY_HOPS": "2"}, "35.191.10.4"),
    Cloud("azure", {"PROXY_HOPS": "1", "PROXY_ADDRESS_FORMAT": "ip:port"}, "10.40.2.4"),
    Cloud("haproxy", {"PROXY_HOPS": "1"}, "10.89.0.10"),
]


def cloud_app(tmp_path: Path, cloud: Cloud) -> Flask:
    app = create_app({"DATA_DIR": str(tmp_path), "LOGIN_RATE_LIMIT": "2 per minute", **cloud.env})

    @app.get("/_seen")  # test-only view: what the app takes as the client
    def seen() -> dict[str, str | None]:
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    return app


def client(app: Flask, cloud: Cloud) -> FlaskClient:
    test_client = app.test_client()
    test_client.environ_base["REMOTE_ADDR"] = cloud.peer
    return test_client


def failed_login(browser: FlaskClient, forwarded_for: str) -> int:
    headers = {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"}
    csrf = browser.get(f"{BASE}/api/v1/csrf", headers=headers).json["csrf_token"]
    return browser.post(
        f"{BASE}/api/v1/session",
        headers={**headers, "X-CSRFToken": csrf},
        json={"username": "nobody", "password": "guess guess guess"},
    ).status_code


@pytest.mark.parametrize("cloud", CLOUDS, ids=lambda cloud: cloud.name)
def test_the_app_sees_the_client_address(tmp_path: Path, cloud: Cloud) -> None:
    browser = client(cloud_app(tmp_path, cloud), cloud)
    seen = browser.get(
        "http://drive.example/_seen",
        headers={
            "X-Forwarded-For": cloud.forwarded_for("198.51.100.7", spoofed="192.0.2.66"),
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",  # set by no load balancer: a client's
        },
    ).json
    assert seen == {"addr": "198.51.100.7", "scheme": "https", "host": "drive.example"}


@pytest.mark.parametrize("cloud", CLOUDS, ids=lambda cloud: cloud.name)
def test_the_login_limit_is_per_client_behind_each_load_balancer(
    tmp_path: Path, cloud: Cloud
) -> None:
    app = cloud_app(tmp_path, cloud)
    attacker, victim = client(app, cloud), client(app, cloud)
    # New source ports (Azure) and forged leading entries do not make a new client.
    statuses = [
        failed_login(attacker, cloud.forwarded_for("198.51.100.7", 40000 + n, f"192.0.2.{n}"))
        for n in range(3)
    ]
    assert statuses == [401, 401, 429]
    # Another client behind the same load balancer keeps its own budget.
    assert failed_login(victim, cloud.forwarded_for("203.0.113.20")) == 401


def test_ipv6_clients_and_malformed_entries(tmp_path: Path) -> None:
    azure = CLOUDS[2]
    browser = client(cloud_app(tmp_path, azure), azure)

    def seen(forwarded_for: str) -> str:
        return browser.get(f"{BASE}/_seen", headers={"X-Forwarded-For": forwarded_for}).json["addr"]

    assert seen("[2001:db8::7]:50123") == "2001:db8::7"
    assert seen("not-an-address:1") == azure.peer  # counted as the gateway, never a new bucket


def test_an_unknown_address_format_stops_the_app(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="PROXY_ADDRESS_FORMAT=port: use ip or ip:port"):
        create_app({"DATA_DIR": str(tmp_path), "PROXY_ADDRESS_FORMAT": "port"})
