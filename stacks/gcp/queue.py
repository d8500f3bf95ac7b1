"""Queue: a Pub/Sub topic and pull subscription, with a dead-letter topic (and a subscription
that keeps the dead letters), retry back-off and a delivery limit."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.blueprints.model import Access
from stacks.common.args import QueueArgs
from stacks.gcp.common import BindingGrants, labels, physical, service_agent

MAX_ACK_DEADLINE_SECONDS = 600
"""Pub/Sub's limit; longer jobs extend their lease (the client libraries do so automatically)."""
MAX_RETENTION_SECONDS = 7 * 24 * 3600
PUBLISHER = "roles/pubsub.publisher"
SUBSCRIBER = "roles/pubsub.subscriber"
DEAD_LETTER_SUFFIX = "-dead-letter"
"""The reference apps' Pub/Sub adapter finds the dead letters by this suffix."""


class Queue(BindingGrants, pulumi.ComponentResource):
    """Pub/Sub's own service agent moves a message to the dead-letter topic after
    `max_deliveries`; it needs publish on that topic and subscribe on the source subscription,
    granted here."""

    def __init__(
        self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:Queue", name, None, opts)
        context, spec = args.context, args.spec
        child = pulumi.ResourceOptions(parent=self)
        region_only = {"allowed_persistence_regions": [context.settings.region]}
        queue_labels = labels(context)
        self.logical_name = name
        self.topic_name = physical(context, spec.name)
        self.subscription_name = f"{self.topic_name}-sub"
        self.dead_letter_subscription_name = self.subscription_name + DEAD_LETTER_SUFFIX
        self.ack_deadline_seconds = min(
            max(spec.visibility_timeout_seconds, 10), MAX_ACK_DEADLINE_SECONDS
        )
        self.max_delivery_attempts = min(max(spec.max_deliveries, 5), 100)

        self.topic = gcp.pubsub.Topic(
            f"{name}-topic",
            name=self.topic_name,
            message_storage_policy=region_only,
            labels=queue_labels,
            opts=child,
        )
        self.dead_letter_topic = gcp.pubsub.Topic(
            f"{name}-dead-letter-topic",
            name=self.topic_name + DEAD_LETTER_SUFFIX,
            message_storage_policy=region_only,
            labels=queue_labels,
            opts=child,
        )
        self.dead_letter_subscription = gcp.pubsub.Subscription(
            f"{name}-dead-letter-subscription",
            name=self.dead_letter_subscription_name,
            topic=self.dead_letter_topic.id,
            ack_deadline_seconds=60,
            message_retention_duration=f"{MAX_RETENTION_SECONDS}s",
            expiration_policy={"ttl": ""},
            labels=queue_labels,
            opts=child,
        )
        self.subscription = gcp.pubsub.Subscription(
            f"{name}-subscription",
            name=self.subscription_name,
            topic=self.topic.id,
            ack_deadline_seconds=self.ack_deadline_seconds,
            message_retention_duration=f"{min(spec.retention_seconds, MAX_RETENTION_SECONDS)}s",
            retry_policy={"minimum_backoff": "10s", "maximum_backoff": "600s"},
            dead_letter_policy={
                "dead_letter_topic": self.dead_letter_topic.id,
                "max_delivery_attempts": self.max_delivery_attempts,
            },
            expiration_policy={"ttl": ""},
            labels=queue_labels,
            opts=child,
        )
        pubsub_agent = service_agent(context, "gcp-sa-pubsub", self)
        _binding(
            f"{name}-dead-letter-forwarding", self.dead_letter_topic, PUBLISHER, pubsub_agent, self
        )
        _binding(
            f"{name}-dead-letter-acknowledging", self.subscription, SUBSCRIBER, pubsub_agent, self
        )
        project = context.settings.gcp_project
        self.physical_name: pulumi.Output[str] = self.topic.name
        self.backend_url: pulumi.Output[str] = pulumi.Output.all(
            self.topic.name, self.subscription.name
        ).apply(lambda names: f"pubsub://{project}/{names[0]}/{names[1]}")
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def bind(
        self, name: str, member: pulumi.Input[str], access: Access, parent: pulumi.Resource
    ) -> list[pulumi.CustomResource]:
        """publish: publisher on the topic. consume: subscriber on the subscription, plus
        publisher on the dead-letter topic, where the apps move a message themselves when their
        delivery count runs out before Pub/Sub's does. Both: viewer on the subscription, whose
        metadata the apps' readiness check reads (subscriptions.get is in neither role)."""
        self.require_access("queue", access, ["publish", "consume"])
        bindings = [(f"{name}-readiness", self.subscription, "roles/pubsub.viewer")]
        if access == "publish":
            bindings.append((name, self.topic, PUBLISHER))
        else:
            bindings.append((name, self.subscription, SUBSCRIBER))
            bindings.append((f"{name}-dead-letter", self.dead_letter_topic, PUBLISHER))
        return [_binding(*binding, member, parent) for binding in bindings]


def _binding(
    name: str,
    target: gcp.pubsub.Topic | gcp.pubsub.Subscription,
    role: str,
    member: pulumi.Input[str],
    parent: pulumi.Resource,
) -> pulumi.CustomResource:
    """One role for one member on one topic or subscription (never on the project)."""
    opts = pulumi.ResourceOptions(parent=parent)
    if isinstance(target, gcp.pubsub.Topic):
        return gcp.pubsub.TopicIAMMember(name, topic=target.id, role=role, member=member, opts=opts)
    return gcp.pubsub.SubscriptionIAMMember(
        name, subscription=target.id, role=role, member=member, opts=opts
    )
