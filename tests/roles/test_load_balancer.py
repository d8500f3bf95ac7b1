"""load_balancer: HAProxy terminating TLS, redirecting HTTP, routing per app, checking /healthz."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.hosts


def test_haproxy_runs_and_its_certificate_is_private(hosts: dict[str, Any]) -> None:
    lb = hosts["lb"]
    assert lb.service("haproxy").is_running
    assert lb.service("haproxy").is_enabled
    pem = lb.file("/etc/haproxy/certs/site.pem")
    assert (pem.user, pem.group, pem.mode) == ("root", "haproxy", 0o640)
    assert lb.process.filter(comm="haproxy")[-1].user == "haproxy"


def test_tls_certificate_names_every_app(target: Any) -> None:
    context = ssl.create_default_context(cafile=str(target.state_dir / "lb.crt"))
    for app in target.apps:
        with (
            socket.create_connection(("127.0.0.1", target.https_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=f"{app}.localhost") as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_plain_http_redirects_to_https(target: Any) -> None:
    response = requests.get(
        f"http://127.0.0.1:{target.http_port}/healthz?x=1",
        headers={"Host": f"cloud-drive.localhost:{target.http_port}"},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 301
    assert response.headers["Location"] == (
        f"https://cloud-drive.localhost:{target.https_port}/healthz?x=1"
    )


def test_requests_are_routed_by_app_name(target: Any) -> None:
    """Each app's own API answers under its host name (the other app has no such route)."""
    probes = {"image-processing": "/api/v1/filters", "cloud-drive": "/api/v1/csrf"}
    for app in target.apps:
        for other, path in probes.items():
            response = requests.get(
                f"https://127.0.0.1:{target.https_port}{path}",
                headers={"Host": f"{app}.localhost:{target.https_port}"},
                verify=str(target.state_dir / "lb.crt"),
                timeout=10,
            )
            assert response.status_code == (200 if other == app else 404), (app, path)
            assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_every_backend_server_passes_its_health_check(hosts: dict[str, Any], target: Any) -> None:
    csv = hosts["lb"].check_output("curl -s 'http://127.0.0.1:8404/stats;csv'")
    rows = [line.split(",") for line in csv.splitlines() if not line.startswith("#")]
    servers = {(row[0], row[1]): row[17] for row in rows if row[1] not in ("FRONTEND", "BACKEND")}
    expected = {
        (app, f"app{n}_{port}")
        for app in target.apps
        for n in (1, 2)
        for port in [
            {
                "image-processing": 8001,
                "cloud-drive": 8002,
                "mapreduce": 8003,
                "social-analytics": 8004,
                "iot-gateway": 8005,
            }[app]
        ]
    }
    assert {key for key in servers if key[0] in target.apps} == expected
    assert all(servers[key].startswith("UP") for key in expected), servers


def test_oversized_uploads_are_refused_at_the_edge(target: Any) -> None:
    response = requests.post(
        f"https://127.0.0.1:{target.https_port}/api/v1/images",
        headers={
            "Host": f"image-processing.localhost:{target.https_port}",
            "Content-Length": str(30 * 1024 * 1024),
        },
        data=b"",
        verify=str(target.state_dir / "lb.crt"),
        timeout=10,
    )
    assert response.status_code == 413
