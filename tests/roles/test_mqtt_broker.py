"""mqtt_broker: mosquitto on TLS only, no anonymous clients, per-device credentials and ACLs."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.hosts

TLS = "-h services -p 8883 --cafile /etc/mosquitto/certs/ca.crt"


def test_mosquitto_runs_with_a_private_key_it_alone_reads(hosts: dict[str, Any]) -> None:
    services = hosts["services"]
    assert services.service("mosquitto").is_running
    assert services.service("mosquitto").is_enabled
    key = services.file("/etc/mosquitto/certs/server.key")
    assert (key.user, key.group, key.mode) == ("root", "mosquitto", 0o640)
    passwords = services.file("/etc/mosquitto/passwords").content_string
    assert "sensor-1:$7$" in passwords  # hashed, never plain


def test_anonymous_clients_are_refused(hosts: dict[str, Any]) -> None:
    result = hosts["services"].run(f"mosquitto_pub {TLS} -t devices/x/t -m 1")
    assert result.rc != 0
    assert "not authorised" in (result.stderr + result.stdout).lower()


def test_a_device_publishes_to_its_own_topics_only(hosts: dict[str, Any], target: Any) -> None:
    keys = target.secrets()
    services = hosts["services"]
    ingest = f"-u ingest -P {keys['mqtt_ingest']}"
    device = f"-u sensor-1 -P {keys['mqtt_sensor_1']}"
    # The consumer waits for one message; the device first writes where it may not, then where
    # it may: only the second arrives.
    services.check_output(
        f"systemd-run --unit mqtt-probe --collect -p RuntimeMaxSec=30 sh -c "
        f"'mosquitto_sub {TLS} {ingest} -t \"devices/#\" -C 1 -W 20 -v > /tmp/mqtt-probe.out'"
    )
    services.check_output("sleep 1")
    services.check_output(f"mosquitto_pub {TLS} {device} -q 1 -t devices/sensor-2/temp -m stolen")
    services.check_output(f"mosquitto_pub {TLS} {device} -q 1 -t devices/sensor-1/temp -m 21.5")
    services.check_output(
        "timeout 20 sh -c 'while systemctl is-active -q mqtt-probe; do sleep 0.2; done'"
    )
    assert services.file("/tmp/mqtt-probe.out").content_string.strip() == (
        "devices/sensor-1/temp 21.5"
    )


def test_a_wrong_password_is_refused(hosts: dict[str, Any]) -> None:
    result = hosts["services"].run(
        f"mosquitto_pub {TLS} -u sensor-1 -P wrong -t devices/sensor-1/t -m 1"
    )
    assert result.rc != 0
