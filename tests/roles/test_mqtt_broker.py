"""mqtt_broker on the local target's gateway host: mosquitto on TLS only, no anonymous clients,
hashed credentials, and accounts that read only their own topics. The services host runs no
broker: nothing has used one there since the gateway host took the devices over.

A device's own and foreign topics and a wrong password are checked end to end in
tests/e2e/test_iot_gateway.py."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from tierstack.local.inventory import BROKER_CA, GATEWAY_HOST

pytestmark = pytest.mark.hosts

TLS = f"-h localhost -p 8883 --cafile {BROKER_CA}"


def test_mosquitto_runs_with_a_private_key_it_alone_reads(
    hosts: dict[str, Any], target: Any
) -> None:
    gateway = hosts[GATEWAY_HOST]
    assert gateway.service("mosquitto").is_running
    assert gateway.service("mosquitto").is_enabled
    key = gateway.file("/etc/mosquitto/certs/server.key")
    assert (key.user, key.group, key.mode) == ("root", "mosquitto", 0o640)
    passwords = gateway.file("/etc/mosquitto/passwords").content_string
    assert "sensor-00:$7$" in passwords  # hashed, never plain
    assert target.secrets()["mqtt_sensor_00"] not in passwords


def test_anonymous_clients_are_refused(hosts: dict[str, Any]) -> None:
    result = hosts[GATEWAY_HOST].run(f"mosquitto_pub {TLS} -t devices/x/telemetry -m 1")
    assert result.rc != 0
    assert "not authorised" in (result.stderr + result.stdout).lower()


def subscribe(host: Any, user: str, password: str, topic: str, seconds: int) -> str:
    """What `user` receives on `topic` within `seconds` (at most one message)."""
    return host.run(
        f"timeout {seconds + 5} mosquitto_sub {TLS} -u {user} -P {shlex.quote(password)}"
        f" -t {shlex.quote(topic)} -C 1 -W {seconds} -v"
    ).stdout.strip()


def test_the_fog_api_account_reads_gateway_status_but_no_telemetry(
    hosts: dict[str, Any], target: Any
) -> None:
    """The app servers hold the fog API's password: it reads the gateways' status and sends
    commands, and sees no device's readings, which the gateway's account does receive in the
    same window (the simulated devices publish twice a second)."""
    keys = target.secrets()
    gateway = hosts[GATEWAY_HOST]
    assert subscribe(gateway, "fogapi", keys["mqtt_fogapi"], "gateways/+/status", 10).startswith(
        "gateways/gateway-1/status "
    )
    telemetry = "devices/+/telemetry"
    assert subscribe(gateway, "gateway", keys["mqtt_gateway"], telemetry, 15).startswith(
        "devices/sensor-"
    )
    assert subscribe(gateway, "fogapi", keys["mqtt_fogapi"], telemetry, 5) == ""


def test_the_services_host_runs_no_broker(hosts: dict[str, Any]) -> None:
    services = hosts["services"]
    assert not services.package("mosquitto").is_installed
    assert not services.file("/etc/mosquitto").exists
    assert not services.socket("tcp://0.0.0.0:8883").is_listening
