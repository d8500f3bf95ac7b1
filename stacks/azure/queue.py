"""Queue: a Service Bus namespace (Entra ID only, TLS 1.2) and a queue whose messages move to
the built-in dead-letter sub-queue after `max_deliveries` or on expiry."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import monitor, servicebus

from stacks.azure.common import (
    child,
    component_opts,
    dashed_name,
    grant_to,
    iso_seconds,
    network_of,
)
from stacks.blueprints.model import Access
from stacks.common.args import QueueArgs
from stacks.common.contracts import Principal

MAX_LOCK_SECONDS = 300  # Service Bus's limit; consumers renew the lock for longer work.
QUEUE_ROLES: dict[str, str] = {
    "publish": "service-bus-data-sender",
    "consume": "service-bus-data-receiver",
}


class Queue(pulumi.ComponentResource):
    """physical_name is `namespace/queue`; backend_url is `servicebus://namespace/queue`.

    Local (SAS) auth is off, so there is no connection string to leak: tiers authenticate
    with their managed identity and get Sender or Receiver on this queue only."""

    def __init__(
        self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:Queue", name, None, component_opts(opts))
        self.logical_name = name
        context, spec = args.context, args.spec
        net = network_of(args, name)
        self.network = net
        self.namespace_name = dashed_name(context, f"{spec.name}-sb", max_length=50)
        self.queue_name = spec.name
        self.namespace = servicebus.Namespace(
            f"{name}-namespace",
            namespace_name=self.namespace_name,
            resource_group_name=net.resource_group_name,
            location=net.location,
            sku={"name": "Standard", "tier": "Standard"},
            disable_local_auth=True,
            minimum_tls_version="1.2",
            public_network_access="Enabled",
            tags=context.tags,
            opts=child(self),
        )
        self.namespace_id: pulumi.Output[str] = self.namespace.id
        self.queue = servicebus.Queue(
            f"{name}-queue",
            queue_name=self.queue_name,
            namespace_name=self.namespace.name,
            resource_group_name=net.resource_group_name,
            lock_duration=iso_seconds(min(spec.visibility_timeout_seconds, MAX_LOCK_SECONDS)),
            max_delivery_count=spec.max_deliveries,
            dead_lettering_on_message_expiration=True,
            default_message_time_to_live=iso_seconds(spec.retention_seconds),
            enable_batched_operations=True,
            opts=child(self),
        )
        self.queue_id: pulumi.Output[str] = self.queue.id
        monitor.DiagnosticSetting(
            f"{name}-diagnostics",
            name="to-log-analytics",
            resource_uri=self.namespace.id,
            workspace_id=net.workspace_id,
            logs=[{"category_group": "allLogs", "enabled": True}],
            metrics=[{"category": "AllMetrics", "enabled": True}],
            opts=child(self),
        )
        self.physical_name = pulumi.Output.concat(self.namespace.name, "/", self.queue_name)
        self.backend_url = pulumi.Output.concat(
            "servicebus://", self.namespace.name, "/", self.queue_name
        )
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def grant(self, principal: Principal, access: Access) -> list[pulumi.Resource]:
        """Data Sender or Receiver on this queue only."""
        return grant_to(
            principal,
            access,
            label=self.queue_name,
            role=QUEUE_ROLES[access],
            scope=self.queue_id,
            subscription_id=self.network.subscription_id,
            anchor=(self.namespace_name,),
        )
