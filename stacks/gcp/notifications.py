"""Notifications: a Pub/Sub topic for notification events, and SMTP relay settings for e-mail.

GCP has no e-mail sending service and blocks outbound port 25, so mail goes through an SMTP relay
on 587 with STARTTLS. The default is Google Workspace's SMTP relay, which authenticates senders by
IP address: allow the stack's Cloud NAT addresses (the Network's `egress_addresses`) in the
Workspace admin console. Any relay reachable on 587 (SendGrid, Mailgun, ...) works the same way."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.blueprints.model import Access
from stacks.common.args import NotificationsArgs
from stacks.gcp.common import BindingGrants, labels, physical

SMTP_RELAY_URL = "smtp://smtp-relay.gmail.com:587"


class Notifications(BindingGrants, pulumi.ComponentResource):
    """`backend_url` is the MAIL_URL the apps send mail through; `physical_name` is the topic
    that receives the same events for other subscribers (and, as Alarms' target, alerts)."""

    def __init__(
        self, name: str, args: NotificationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:Notifications", name, None, opts)
        context, spec = args.context, args.spec
        self.logical_name = name
        self.topic = gcp.pubsub.Topic(
            f"{name}-topic",
            name=physical(context, spec.name),
            message_storage_policy={"allowed_persistence_regions": [context.settings.region]},
            labels=labels(context),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.physical_name: pulumi.Output[str] = self.topic.name
        self.backend_url: pulumi.Output[str] = pulumi.Output.from_input(SMTP_RELAY_URL)
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def bind(
        self, name: str, member: pulumi.Input[str], access: Access, parent: pulumi.Resource
    ) -> list[pulumi.CustomResource]:
        """publish: publisher on this topic only."""
        self.require_access("notifications", access, ["publish"])
        return [
            gcp.pubsub.TopicIAMMember(
                name,
                topic=self.topic.id,
                role="roles/pubsub.publisher",
                member=member,
                opts=pulumi.ResourceOptions(parent=parent),
            )
        ]
