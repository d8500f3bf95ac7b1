"""Notifications: Azure Communication Services e-mail with an Azure-managed sender domain.

MAIL_URL is `smtp://smtp.azurecomm.net:587?starttls=true&from=DoNotReply@<domain>`: the apps send
through the Communication Services SMTP relay (STARTTLS); the publishing tier's identity gets
"Communication and Email Service Owner" on this resource only. Local (key) auth is off."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import communication

from stacks.azure.common import (
    child,
    component_opts,
    dashed_name,
    grant_role,
    network_of,
)
from stacks.blueprints.model import Access
from stacks.common.args import NotificationsArgs
from stacks.common.contracts import Principal

SMTP_RELAY = "smtp.azurecomm.net:587"


def data_location(region: str) -> str:
    """Where Communication Services keeps data at rest, from the stack's region."""
    for prefix, place in (("uk", "UK"), ("us", "United States"), ("europe", "Europe")):
        if region.startswith(prefix) or region.endswith(prefix):
            return place
    if region.endswith("europe") or region.startswith(("germany", "france", "sweden", "norway")):
        return "Europe"
    if region.startswith(("east", "west", "central", "north", "south")) and region.endswith("us"):
        return "United States"
    return "Europe"


class Notifications(pulumi.ComponentResource):
    """physical_name is the Communication Services resource; backend_url the SMTP relay URL."""

    def __init__(
        self, name: str, args: NotificationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:Notifications", name, None, component_opts(opts))
        self.logical_name = name
        context, spec = args.context, args.spec
        net = network_of(args, name)
        self.network = net
        where = data_location(context.settings.region)
        self.service_name = dashed_name(context, spec.name, max_length=63)
        email = communication.EmailService(
            f"{name}-email",
            email_service_name=f"{self.service_name}-email",
            resource_group_name=net.resource_group_name,
            location="global",
            data_location=where,
            tags=context.tags,
            opts=child(self),
        )
        domain = communication.Domain(
            f"{name}-domain",
            domain_name="AzureManagedDomain",
            email_service_name=email.name,
            resource_group_name=net.resource_group_name,
            location="global",
            domain_management="AzureManaged",
            user_engagement_tracking="Disabled",
            tags=context.tags,
            opts=child(self),
        )
        self.service = communication.CommunicationService(
            f"{name}-service",
            communication_service_name=self.service_name,
            resource_group_name=net.resource_group_name,
            location="global",
            data_location=where,
            linked_domains=[domain.id],
            disable_local_auth=True,
            tags=context.tags,
            opts=child(self),
        )
        self.physical_name: pulumi.Output[str] = self.service.name
        self.backend_url = pulumi.Output.concat(
            f"smtp://{SMTP_RELAY}?starttls=true&from=DoNotReply@", domain.from_sender_domain
        )
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def grant(self, principal: Principal, access: Access) -> list[pulumi.Resource]:
        """Permission to send through this Communication Services resource only."""
        role = "communication-and-email-service-owner"
        return [
            grant_role(
                f"{principal.name}-{self.service_name}-{access}",
                role=role,
                scope=self.service.id,
                principal_id=principal.id,
                subscription_id=self.network.subscription_id,
                guid_parts=(principal.name, self.service_name, role),
                parent=principal.parent,
            )
        ]
