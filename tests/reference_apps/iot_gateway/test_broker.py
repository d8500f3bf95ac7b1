"""The broker as the mqtt_broker role configures it: per-device passwords and ACLs, TLS only."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Broker


def test_device_with_wrong_password_is_refused(make_broker: Callable[..., Broker]) -> None:
    broker = make_broker()
    good = broker.client("sensor-01")
    bad = broker.client("sensor-02", password="wrong")
    try:
        assert not good.connect_result.is_failure
        assert bad.connect_result is not None and bad.connect_result.is_failure
        assert "not authorized" in str(bad.connect_result).lower() or bad.connect_result.value in (
            4,
            5,
            134,
            135,
        )
    finally:
        good.close()
        bad.close()


def test_device_cannot_publish_on_another_devices_topic(make_broker: Callable[..., Broker]) -> None:
    broker = make_broker()
    gateway = broker.client("gw1", subscribe=("devices/+/telemetry",))
    intruder = broker.client("sensor-01")
    try:
        intruder.publish("devices/sensor-02/telemetry", b'{"metrics": {"temperature": 20}}')
        intruder.publish("devices/sensor-01/telemetry", b'{"metrics": {"temperature": 21}}')
        assert gateway.wait_for(lambda messages: len(messages) >= 1)
        assert not gateway.wait_for(lambda messages: len(messages) >= 2, timeout=1)
        assert [topic for topic, _ in gateway.messages] == ["devices/sensor-01/telemetry"]
    finally:
        gateway.close()
        intruder.close()
