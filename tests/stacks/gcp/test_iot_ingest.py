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
        "MQTT_TOPIC_FILTER": "devices/+/telemetry",
        "QUEUE_URL": "pubsub://tierstack-dev/iot-gateway-dev-telemetry/iot-gateway-dev-telemetry-sub",
    }
    bridge = result.one("gcp:pubsub/topicIAMMember:TopicIAMMember", "device-ingest-bridge")
    assert bridge.inputs["topic"] == "telemetry-topic-id"
    assert bridge.inputs["role"] == "roles/pubsub.publisher"
    assert bridge.inputs["member"].startswith("serviceAccount:iot-gateway-dev-device-ingest@")
    assert stack("iot-gateway", "prod").one(MIG, "gateway-group").inputs["targetSize"] == 2
