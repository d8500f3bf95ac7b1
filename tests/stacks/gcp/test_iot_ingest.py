"""IoTIngest: MQTT brokers behind a TCP proxy, bridged to Pub/Sub."""

from __future__ import annotations

from typing import Any

from tests.playbook_check import boot_vars
from tests.stacks.gcp.support import stack
from tests.stacks.harness import Registered

LB_RANGES = ["130.211.0.0/22", "35.191.0.0/16"]
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
FIREWALL = "gcp:compute/firewall:Firewall"


def startup_vars(template: Registered) -> dict[str, Any]:
    """The vars.yml the bootstrap writes, parsed back out of the startup script."""
    script = template.inputs["metadata"]["startup-script"]
    return boot_vars(script)


def test_iot_brokers_sit_behind_a_tcp_proxy_on_8883_and_bridge_to_pubsub() -> None:
    result = stack("iot-gateway")
    rule = result.one(
        "gcp:compute/globalForwardingRule:GlobalForwardingRule", "device-ingest-mqtts"
    )
    assert (rule.inputs["portRange"], rule.inputs["target"]) == ("8883", "device-ingest-proxy-id")
    assert rule.inputs["ipAddress"] == "203.0.113.20"
    proxy = result.one("gcp:compute/targetTCPProxy:TargetTCPProxy").inputs
    assert proxy["backendService"] == "device-ingest-backend-id"
    backend = result.one("gcp:compute/backendService:BackendService", "device-ingest-backend")
    brokers = result.one(MIG, "gateway-group")
    assert backend.inputs["protocol"] == "TCP"
    assert backend.inputs["backends"][0]["group"] == brokers.outputs["instanceGroup"]
    assert brokers.inputs["targetSize"] == 1
    assert brokers.inputs["namedPorts"] == [{"name": "mqtts", "port": 8883}]
    firewall = result.one(FIREWALL, "device-ingest-allow-front-ends").inputs
    assert firewall["sourceRanges"] == LB_RANGES
    assert firewall["allows"] == [{"protocol": "tcp", "ports": ["8883"]}]
    variables = startup_vars(result.one(TEMPLATE, "gateway-template"))
    assert variables["tierstack_tier"] == "gateway"
    assert variables["python_app_env"] == {
        "MQTT_DEVICE_PASSWORD_REFS": "gateway-01=gcp-secretmanager://projects/tierstack-dev/"
        "secrets/iot-gateway-dev-device-ingest-gateway-01-password/versions/latest",
        "MQTT_TOPIC_FILTER": "devices/+/telemetry",
        "QUEUE_URL": "pubsub://tierstack-dev/iot-gateway-dev-telemetry/iot-gateway-dev-telemetry-sub",
    }
    bridge = result.one("gcp:pubsub/topicIAMMember:TopicIAMMember", "device-ingest-bridge")
    assert bridge.inputs["topic"] == "telemetry-topic-id"
    assert bridge.inputs["role"] == "roles/pubsub.publisher"
    assert bridge.inputs["member"].startswith("serviceAccount:iot-gateway-dev-device-ingest@")
    assert stack("iot-gateway", "prod").one(MIG, "gateway-group").inputs["targetSize"] == 2


def test_device_accounts_are_secrets_only_the_brokers_read() -> None:
    """Each configured device gets a generated password in Secret Manager; the boot vars carry
    references; the brokers' account holds exactly: publish on the telemetry topic (and viewer
    on its subscription, for the bridge's readiness check), read on each device secret, and the
    hosts' logging and monitoring roles."""
    from stacks.gcp.common import HOST_ROLES
    from stacks.program import deploy
    from tests.stacks.gcp.conftest import run, settings_for
    from tests.stacks.gcp.test_app_secret import secret_value

    settings = settings_for("iot-gateway", iotDevices=["gw-a", "gw-b"])
    result = run(lambda: deploy(settings, "gcp-iot-gateway"))
    generated = {r.name: r for r in result.of_type("random:index/randomPassword:RandomPassword")}
    secrets = {
        r.inputs["secretId"]: r
        for r in result.of_type("gcp:secretmanager/secret:Secret")
        if "device-ingest" in r.name
    }
    assert sorted(secrets) == [
        "iot-gateway-dev-device-ingest-gw-a-password",
        "iot-gateway-dev-device-ingest-gw-b-password",
    ]
    versions = {
        r.inputs["secret"]: r
        for r in result.of_type("gcp:secretmanager/secretVersion:SecretVersion")
    }
    passwords = []
    for device in ("gw-a", "gw-b"):
        password = generated[f"device-ingest-{device}-password-value"]
        assert password.inputs["length"] == 32
        version = versions[f"device-ingest-{device}-password-secret-id"]
        passwords.append(secret_value(version.inputs["secretData"]))
    assert len(set(passwords)) == 2 and all(len(p) == 32 for p in passwords)

    template = result.one(TEMPLATE, "gateway-template")
    env = startup_vars(template)["python_app_env"]
    assert env["MQTT_DEVICE_PASSWORD_REFS"] == ";".join(
        f"{d}=gcp-secretmanager://projects/tierstack-dev/secrets/{s}/versions/latest"
        for d, s in (("gw-a", sorted(secrets)[0]), ("gw-b", sorted(secrets)[1]))
    )
    script = str(template.inputs["metadata"]["startup-script"])
    assert not any(password in script for password in passwords)

    member = f"serviceAccount:{template.inputs['serviceAccount']['email']}"
    held = sorted(
        (
            r.type.rsplit(":", 1)[-1],
            r.inputs["role"],
            r.inputs.get("topic")
            or r.inputs.get("subscription")
            or r.inputs.get("secretId")
            or r.inputs.get("project"),
        )
        for r in result.resources
        if r.inputs.get("member") == member
    )
    assert held == sorted(
        [("IAMMember", role, "tierstack-dev") for role in HOST_ROLES]
        + [("TopicIAMMember", "roles/pubsub.publisher", "telemetry-topic-id")]
        + [("SubscriptionIAMMember", "roles/pubsub.viewer", "telemetry-subscription-id")]
        + [
            (
                "SecretIamMember",
                "roles/secretmanager.secretAccessor",
                f"device-ingest-{d}-password-secret-id",
            )
            for d in ("gw-a", "gw-b")
        ]
    )
