"""The GCP broker group end to end, from the stack's own values: the gateway tier's boot vars
(device accounts, topic filter, Pub/Sub queue) give the accounts the blueprint_host role hands
to mqtt_broker; the ACL is the role's own template (roles/mqtt_broker/templates/acl.j2) loaded
into a real mosquitto; the bridge process forwards into Google's pstest Pub/Sub emulator. A
device's batch reaches the subscription; a device publishing on another device's topic is
refused (MQTT 5: PUBACK "not authorized") and nothing of it reaches Pub/Sub."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import jinja2
import paho.mqtt.client as mqtt
import pytest
from conftest import REPO, pubsub_queue, stop

from stacks.program import deploy
from tests.playbook_check import boot_vars
from tests.stacks.gcp.conftest import run, settings_for

from .conftest import Broker, start_bridge, wait_until

ROLE = REPO / "roles/mqtt_broker"


def gateway_env() -> dict[str, str]:
    """The gateway tier's python_app_env in the GCP stack with two device accounts."""
    settings = settings_for("iot-gateway", iotDevices=["gw-a", "gw-b"])
    result = run(lambda: deploy(settings, "gcp-iot-gateway"))
    template = result.one("gcp:compute/instanceTemplate:InstanceTemplate", "gateway-template")
    variables = boot_vars(str(template.inputs["metadata"]["startup-script"]))
    return {key: str(value) for key, value in variables["python_app_env"].items()}


def role_accounts(env: dict[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """mqtt_broker_devices and mqtt_broker_users as roles/blueprint_host gives them on the
    gateway tier (passwords are resolved on the host; the ACL does not depend on them)."""
    devices = [
        {"name": pair.split("=", 1)[0], "password_ref": pair.split("=", 1)[1]}
        for pair in env["MQTT_DEVICE_PASSWORD_REFS"].split(";")
    ]
    users = [{"name": "bridge", "read": [env["MQTT_TOPIC_FILTER"]]}]
    return devices, users


def render_acl(devices: list[dict[str, Any]], users: list[dict[str, Any]]) -> str:
    template = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"))
    return template.get_template("acl.j2").render(
        ansible_managed="managed by Ansible", mqtt_broker_devices=devices, mqtt_broker_users=users
    )


def v5_client(broker: Broker, name: str) -> tuple[mqtt.Client, list[Any]]:
    """An MQTT 5 device connection that records each PUBACK's reason code."""
    acks: list[Any] = []
    connected = threading.Event()
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-v5", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(name, broker.password(name))
    client.tls_set(ca_certs=str(broker.ca))
    client.on_connect = lambda *args: connected.set()
    client.on_publish = lambda _c, _u, mid, reason, _p: acks.append((mid, reason))
    client.connect("localhost", broker.port)
    client.loop_start()
    assert connected.wait(10)
    return client, acks


@pytest.mark.slow
def test_devices_reach_pubsub_only_on_their_own_topics(
    pubsub_emulator_host: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = gateway_env()
    devices, users = role_accounts(env)
    assert [d["name"] for d in devices] == ["gw-a", "gw-b"]
    assert all(d["password_ref"].startswith("gcp-secretmanager://") for d in devices)
    project, topic, subscription = env["QUEUE_URL"].removeprefix("pubsub://").split("/")
    # The stack's topic and subscription in a project of this test's own: other tests of the
    # session's emulator create the same stack's topic.
    project = f"{project}-{uuid.uuid4().hex[:8]}"
    env["QUEUE_URL"] = f"pubsub://{project}/{topic}/{subscription}"

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator_host)
    queue = pubsub_queue(project, topic, subscription)

    folder = Path(tempfile.mkdtemp(prefix="iot-mosquitto-"))
    broker = Broker(folder, [], {u["name"]: {"read": u["read"]} for u in users})
    broker.devices = [d["name"] for d in devices]  # passwords for them too
    broker.write_config()
    (folder / "acl").write_text(render_acl(devices, users))  # the role's ACL, not the fixture's
    broker.start()
    bridge = start_bridge(
        tmp_path,
        pubsub_emulator_host,
        broker,
        env["QUEUE_URL"],
        MQTT_TOPIC_FILTER=env["MQTT_TOPIC_FILTER"],
    )
    received: list[dict] = []

    def drain() -> list[dict]:
        while (message := queue.receive(wait=0.5)) is not None:
            received.append(message.body)
            queue.ack(message)
        return received

    a, _ = v5_client(broker, "gw-a")
    b, b_acks = v5_client(broker, "gw-b")
    try:
        probe = {"gateway": "gw-a", "items": [], "probe": True}
        wait_until(
            lambda: a.publish("devices/gw-a/telemetry", json.dumps(probe), qos=1) and drain(),
            30,
            "the bridge subscribed",
        )
        received.clear()
        forged = b.publish("devices/gw-a/telemetry", json.dumps({"gateway": "forged"}), qos=1)
        own = b.publish("devices/gw-b/telemetry", json.dumps({"gateway": "gw-b"}), qos=1)
        sent = a.publish("devices/gw-a/telemetry", json.dumps({"gateway": "gw-a"}), qos=1)
        for info in (forged, own, sent):
            info.wait_for_publish(10)
        wait_until(lambda: {"gw-a", "gw-b"} <= {m["gateway"] for m in drain()}, 30, "both")
        drain()  # the forged one, had the broker let it through, was forwarded before gw-b's
        assert sorted(m["gateway"] for m in received if not m.get("probe")) == ["gw-a", "gw-b"]
        reasons = {mid: reason for mid, reason in b_acks}
        assert reasons[forged.mid].is_failure and str(reasons[forged.mid]) == "Not authorized"
        assert not reasons[own.mid].is_failure
    finally:
        for client in (a, b):
            client.disconnect()
            client.loop_stop()
        stop(bridge)
        broker.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert bridge.returncode == 0
