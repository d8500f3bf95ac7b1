"""Whether a converged target serves: the load balancer's view of every app server, the URLs
and the certificate to trust."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from tierstack.local import podman
from tierstack.local.errors import TargetError

if TYPE_CHECKING:
    from tierstack.local.target import LocalTarget


def backend_states(target: LocalTarget) -> dict[str, dict[str, str]]:
    """Each app's servers and their health as the load balancer sees them, e.g.
    {'cloud-drive': {'app1_8002': 'UP', 'app2_8002': 'DOWN'}} (HAProxy's statistics, which
    are bound to the lb's own localhost)."""
    csv = podman.exec_(
        target.container("lb"), ["curl", "-fsS", "http://127.0.0.1:8404/stats;csv"], check=False
    ).stdout
    states: dict[str, dict[str, str]] = {}
    for row in (line.split(",") for line in csv.splitlines() if not line.startswith("#")):
        if len(row) > 17 and row[0] in target.apps and row[1] not in ("FRONTEND", "BACKEND"):
            states.setdefault(row[0], {})[row[1]] = row[17]
    return states


def wait_until_serving(target: LocalTarget, timeout: float = 90.0) -> None:
    """Returns when the load balancer has every app server of every app UP.

    Right after a converge the health checks may not have passed yet; URLs printed (or tests
    started) before then would meet 503s or a single server.
    """
    deadline = time.monotonic() + timeout
    states: dict[str, dict[str, str]] = {}
    while time.monotonic() < deadline:
        states = backend_states(target)
        if set(states) == set(target.apps) and all(
            state == "UP" for servers in states.values() for state in servers.values()
        ):
            return
        time.sleep(0.5)
    waiting = sorted(
        f"{app}/{server} ({state})"
        for app, servers in states.items()
        for server, state in servers.items()
        if state != "UP"
    ) or [app for app in target.apps if app not in states]
    raise TargetError(
        f"the load balancer did not see every app server up within {timeout:.0f}s: "
        f"{', '.join(waiting)} (see `journalctl -u <app>` on the app hosts)"
    )


def ca_certificate(target: LocalTarget) -> Path:
    """Copies the load balancer's target-signed certificate out, for clients to trust."""
    path = target.state_dir / "lb.crt"
    podman.run(["cp", f"{target.container('lb')}:/etc/haproxy/certs/site.crt", str(path)])
    return path


def urls(target: LocalTarget) -> dict[str, str]:
    """Each app's HTTPS URL through the load balancer (*.localhost resolves to 127.0.0.1)."""
    return {name: f"https://{name}.localhost:{target.https_port}/" for name in target.apps}
