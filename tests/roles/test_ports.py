"""Each host listens beyond localhost only on the ports its roles declare."""

from __future__ import annotations

from typing import Any

import pytest

from tierstack.local.target import APPS

pytestmark = pytest.mark.hosts


def listening(host: Any) -> tuple[set[int], set[int]]:
    """(ports reachable from other hosts, ports bound to loopback only)."""
    public: set[int] = set()
    loopback: set[int] = set()
    for line in host.check_output("ss -Htln").splitlines():
        address, _, port = line.split()[3].rpartition(":")
        # Java binds IPv4 addresses on dual-stack sockets: [::ffff:127.0.0.1] is loopback too.
        is_loopback = address.startswith(("127.", "[::ffff:127.")) or address in ("[::1]", "::1")
        (loopback if is_loopback else public).add(int(port))
    return public, loopback - public


def expected_public(name: str, apps: list[str]) -> set[int]:
    return {
        "lb": {22, 80, 443},
        "app1": {22, *(APPS[app].port for app in apps)},
        "app2": {22, *(APPS[app].port for app in apps)},
        "worker": {22, 7078},  # the Spark worker's RPC port (the master connects to it)
        # SeaweedFS binds its S3 gRPC port (S3 port + 10000) beside the S3 port; the firewall
        # drops it (test_seaweedfs_grpc_is_firewalled). 7077: the Spark master's cluster port.
        "services": {22, 5432, 8333, 18333, 1025, 8883, 7077},
        "gateway": {22, *([8883] if "iot-gateway" in apps else [])},
    }[name]


@pytest.mark.parametrize("name", ["lb", "app1", "app2", "worker", "services", "gateway"])
def test_only_intended_ports_listen_beyond_localhost(
    hosts: dict[str, Any], target: Any, name: str
) -> None:
    public, _ = listening(hosts[name])
    assert public == expected_public(name, target.apps)


def test_haproxy_stats_listen_on_localhost_only(hosts: dict[str, Any]) -> None:
    public, loopback = listening(hosts["lb"])
    assert 8404 in loopback
    assert 8404 not in public


def test_seaweedfs_internals_listen_on_localhost_only(hosts: dict[str, Any]) -> None:
    public, loopback = listening(hosts["services"])
    assert {9333, 8080, 8888} <= loopback  # master, volume, filer
    assert not {9333, 8080, 8888} & public


def test_seaweedfs_grpc_is_firewalled(hosts: dict[str, Any], target: Any) -> None:
    services_ip = target.ip("services")
    app1 = hosts["app1"]
    assert app1.run(f"timeout 5 bash -c 'echo > /dev/tcp/{services_ip}/8333'").rc == 0
    assert app1.run(f"timeout 5 bash -c 'echo > /dev/tcp/{services_ip}/18333'").rc == 124
