"""IoTIngest: the IoT Hub and its route to the queue."""

from __future__ import annotations

from stacks.azure.common import ROLES


def test_iot_hub_routes_device_messages_to_the_queue_with_its_identity(analytics):
    hub = analytics.one("azure-native:iothub:IotHubResource").inputs
    assert hub["properties"]["minTlsVersion"] == "1.2"
    assert hub["properties"]["disableLocalAuth"] is True
    endpoint = hub["properties"]["routing"]["endpoints"]["serviceBusQueues"][0]
    namespace = analytics.one("azure-native:servicebus:Namespace").inputs["namespaceName"]
    assert endpoint["authenticationType"] == "identityBased"
    assert endpoint["identity"] == {"userAssignedIdentity": "ingest-mi-id"}
    assert endpoint["endpointUri"] == f"sb://{namespace}.servicebus.windows.net"
    assert endpoint["entityPath"] == "telemetry"
    route = hub["properties"]["routing"]["routes"][0]
    assert (route["source"], route["endpointNames"], route["isEnabled"]) == (
        "DeviceMessages",
        [endpoint["name"]],
        True,
    )
    sender = analytics.named("ingest-queue-sender").inputs
    assert sender["scope"] == "telemetry-queue-id"
    assert sender["roleDefinitionId"].endswith(ROLES["service-bus-data-sender"])
