"""IoTIngest: an IoT Hub (TLS 1.2, no hub-wide SAS keys) whose device-to-cloud messages are routed
to the stack's Service Bus queue, authenticated with the hub's own managed identity (Data Sender
on that queue only).

Devices and fog gateways publish on IoT Hub's fixed MQTT topic `devices/{deviceId}/messages/
events/`, which is the blueprint's `devices/+/telemetry`; every device message is routed."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import authorization, iothub, managedidentity, monitor

from stacks.azure.common import child, component_opts, dashed_name, role_definition_id, stable_guid
from stacks.common.args import IoTIngestArgs

ENDPOINT = "telemetry-queue"


class IoTIngest(pulumi.ComponentResource):
    """Exposes hub_name and hostname (what the fog gateways connect to on 8883)."""

    def __init__(
        self, name: str, args: IoTIngestArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:IoTIngest", name, None, component_opts(opts))
        self.logical_name = name
        context, spec, net, queue = args.context, args.spec, args.network, args.queue
        settings = context.settings
        self.hub_name = dashed_name(context, spec.name, max_length=50)
        self.hostname = f"{self.hub_name}.azure-devices.net"
        self.endpoint: pulumi.Output[str] = pulumi.Output.from_input(
            f"mqtts://{self.hostname}:8883"
        )
        identity = managedidentity.UserAssignedIdentity(
            f"{name}-mi",
            resource_name_=f"{context.prefix}-{spec.name}-id",
            resource_group_name=net.resource_group_name,
            location=net.location,
            tags=context.tags,
            opts=child(self),
        )
        role = "service-bus-data-sender"
        sender = authorization.RoleAssignment(
            f"{name}-queue-sender",
            role_assignment_name=stable_guid(self.hub_name, queue.namespace_name, role),
            scope=queue.queue_id,
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition_id(net.subscription_id, role),
            opts=child(self),
        )
        self.hub = iothub.IotHubResource(
            f"{name}-hub",
            resource_name_=self.hub_name,
            resource_group_name=net.resource_group_name,
            location=net.location,
            sku={"name": "S1", "capacity": 2 if settings.is_prod else 1},
            identity={"type": "UserAssigned", "user_assigned_identities": [identity.id]},
            properties={
                "min_tls_version": "1.2",
                "disable_local_auth": True,
                "public_network_access": "Enabled",
                "routing": {
                    "endpoints": {
                        "service_bus_queues": [
                            {
                                "name": ENDPOINT,
                                "authentication_type": "identityBased",
                                "identity": {"user_assigned_identity": identity.id},
                                "endpoint_uri": f"sb://{queue.namespace_name}.servicebus.windows.net",
                                "entity_path": queue.queue_name,
                                "resource_group": net.resource_group_name,
                                "subscription_id": net.subscription_id,
                            }
                        ]
                    },
                    "routes": [
                        {
                            "name": "telemetry-to-queue",
                            "source": "DeviceMessages",
                            "condition": "true",
                            "endpoint_names": [ENDPOINT],
                            "is_enabled": True,
                        }
                    ],
                },
            },
            tags=context.tags,
            opts=child(self, depends_on=[sender]),
        )
        monitor.DiagnosticSetting(
            f"{name}-diagnostics",
            name="to-log-analytics",
            resource_uri=self.hub.id,
            workspace_id=net.workspace_id,
            logs=[{"category_group": "allLogs", "enabled": True}],
            metrics=[{"category": "AllMetrics", "enabled": True}],
            opts=child(self),
        )
        self.register_outputs(
            {"endpoint": self.endpoint, "hub_name": self.hub_name, "hostname": self.hostname}
        )
