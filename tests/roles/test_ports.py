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
        # The Spark worker's RPC port (the master connects to it).
        "worker": {22, 7078},
        # SeaweedFS binds its S3 gRPC port (S3 port + 10000) beside the S3 port; the firewall
        # drops it (test_seaweedfs_grpc_is_firewalled). 7077: the Spark master's cluster port.
        "services": {22, 5432, 8333, 18333, 1025, 7077},
        "gateway": {22, *([8883] if "iot-gateway" in apps else [])},
    }[name]


def while_a_spark_app_runs(name: str, apps: list[str]) -> set[int]:
    """Ports that listen only while mapreduce's job runner holds a Spark context (from its first
    job on): its driver's RPC port (the master connects to it) and block manager, and its
    executor's block manager."""
    return {7079, 7080, 7081} if name == "worker" and "mapreduce" in apps else set()


@pytest.mark.parametrize("name", ["lb", "app1", "app2", "worker", "services", "gateway"])
def test_only_intended_ports_listen_beyond_localhost(
    hosts: dict[str, Any], target: Any, name: str
) -> None:
    public, _ = listening(hosts[name])
    expected = expected_public(name, target.apps)
    assert expected <= public <= expected | while_a_spark_app_runs(name, target.apps)


def test_the_job_runners_spark_ports_are_admitted_from_the_master_only(
    hosts: dict[str, Any], target: Any
) -> None:
    """The driver's port admits the master; the block managers are reached on the worker host
    itself (driver and executors share it), so no rule opens them."""
    if "mapreduce" not in target.apps:
        pytest.skip("mapreduce is not deployed")
    rules = hosts["worker"].check_output("nft list chain inet filter input")
    assert f"ip saddr {target.ip('services')} tcp dport 7079 accept" in rules
    assert "dport 7080" not in rules and "dport 7081" not in rules
    probe = f"timeout 5 bash -c 'echo > /dev/tcp/{target.ip('worker')}/7079'"
    assert hosts["app1"].run(probe).rc == 124  # dropped, not merely closed
    assert hosts["services"].run(probe).rc != 124  # admitted (answered or refused)


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
