"""Each cloud uplink against the nearest real endpoint this machine has.

- GCP broker group: a second mosquitto with passwords and ACLs, as the broker group runs
  (its Pub/Sub bridge is the stack's part, not tested here).
- AWS IoT Core over MQTT: a mosquitto that requires a client certificate and takes the
  certificate's name as the identity, as IoT Core does (a double: IoT Core's policies and rules
  engine are not reproduced).
- AWS IoT Core over HTTPS: moto's iot-data (the real boto3 client, SigV4, moto's server).
- Azure IoT Hub: a mosquitto that accepts any login (a double: it cannot check the SAS token,
  whose algorithm a unit test checks); it shows the client id, username and topic IoT Hub expects.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from reference_apps.iot_gateway.uplink import UplinkDown, open_uplink

from .conftest import Broker, wait_until

BATCH = {"gateway": "gw1", "status": {}, "items": [{"id": "s:1", "kind": "reading"}]}


def test_broker_group_uplink_goes_down_and_comes_back(make_broker: Callable[..., Broker]) -> None:
    cloud = make_broker(
        devices=[],
        users={
            "gw1": {"write": ["devices/gw1/telemetry"]},
            "bridge": {"read": ["devices/+/telemetry"]},
        },
    )
    bridge = cloud.client("bridge", subscribe=("devices/+/telemetry",))
    uplink = open_uplink(
        cloud.url("gw1"), "gw1", {"UPLINK_CA_FILE": str(cloud.ca), "UPLINK_TIMEOUT_SECONDS": "3"}
    )
    try:
        wait_until(lambda: uplink.link.connected.is_set(), 10, "the uplink connected")
        uplink.send(BATCH)
        assert bridge.wait_for(lambda messages: len(messages) == 1)
        assert bridge.messages[0] == ("devices/gw1/telemetry", json.dumps(BATCH).encode())

        cloud.stop()
        wait_until(lambda: not uplink.link.connected.is_set(), 10, "the uplink to notice")
        with pytest.raises(UplinkDown):
            uplink.send(BATCH)
        cloud.start()
        wait_until(lambda: uplink.link.connected.is_set(), 20, "the uplink to reconnect")
        uplink.send({**BATCH, "items": []})
    finally:
        uplink.close()
        bridge.close()


def test_wrong_broker_group_password_is_reported(make_broker: Callable[..., Broker]) -> None:
    cloud = make_broker(devices=[], users={"gw1": {"write": ["devices/gw1/telemetry"]}})
    url = f"mqtts://gw1:wrong@localhost:{cloud.port}"
    uplink = open_uplink(url, "gw1", {"UPLINK_CA_FILE": str(cloud.ca)})
    try:
        wait_until(lambda: uplink.link.last_error, 10, "the refusal")
        assert (
            "not authorized" in uplink.link.last_error.lower()
            or "bad user" in uplink.link.last_error.lower()
        )
        with pytest.raises(UplinkDown, match="refused"):
            uplink.send(BATCH)
    finally:
        uplink.close()


def test_aws_iot_core_mqtt_with_the_device_certificate(make_broker: Callable[..., Broker]) -> None:
    core = make_broker(
        devices=[],
        users={"gateway": {"readwrite": ["devices/gateway/telemetry"]}},
        client_certificates=True,
    )
    certificate = (core.folder / "client.crt", core.folder / "client.key")
    rule = core.client(
        "gateway",
        client_id="topic-rule",
        subscribe=("devices/+/telemetry",),
        certificate=certificate,
    )
    env = {
        "UPLINK_CA_FILE": str(core.ca),
        "UPLINK_CERT_FILE": str(certificate[0]),
        "UPLINK_KEY_FILE": str(certificate[1]),
    }
    uplink = open_uplink(f"awsiot://localhost:{core.port}", "gateway", env)
    try:
        wait_until(lambda: uplink.link.connected.is_set(), 10, "the uplink connected")
        uplink.send(BATCH)
        assert rule.wait_for(lambda messages: len(messages) == 1)
        assert rule.messages[0][0] == "devices/gateway/telemetry"
    finally:
        uplink.close()
        rule.close()
    # without the certificate the broker refuses the connection
    no_cert = open_uplink(
        f"mqtts://localhost:{core.port}", "gateway", {"UPLINK_CA_FILE": str(core.ca)}
    )
    try:
        assert not no_cert.link.connected.wait(2)
        with pytest.raises(UplinkDown):
            no_cert.send(BATCH)
    finally:
        no_cert.close()


def test_aws_iot_core_https_publish_on_moto(aws_env: str) -> None:
    from moto.backends import get_backend

    uplink = open_uplink("awsiot-https://", "gw1", {})
    uplink.send(BATCH)
    published = get_backend("iot-data")["123456789012"]["us-east-1"].published_payloads
    assert ("devices/gw1/telemetry", json.dumps(BATCH).encode()) in published


def test_azure_iot_hub_client_identity_and_topic(make_broker: Callable[..., Broker]) -> None:
    hub = make_broker(devices=[], users={}, anonymous=True)
    seen = hub.client("anyone", subscribe=("devices/#",))
    key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    uplink = open_uplink(
        f"azureiot://localhost:{hub.port}/gw-7",
        "gw1",
        {"UPLINK_CA_FILE": str(hub.ca), "AZURE_IOT_DEVICE_KEY": key},
    )
    try:
        wait_until(lambda: uplink.link.connected.is_set(), 10, "the uplink connected")
        assert uplink.link.client._client_id == b"gw-7"
        assert uplink.link.client._username == b"localhost/gw-7/?api-version=2021-04-12"
        assert uplink.link.client._password.startswith(
            b"SharedAccessSignature sr=localhost%2Fdevices%2Fgw-7&sig="
        )
        uplink.send(BATCH)
        assert seen.wait_for(lambda messages: len(messages) == 1)
        assert seen.messages[0][0] == "devices/gw-7/messages/events/"
    finally:
        uplink.close()
        seen.close()
