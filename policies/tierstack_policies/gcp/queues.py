"""GCP queues: Pub/Sub subscriptions dead-letter."""

from __future__ import annotations

from ..registry import Config, Family, Resources, StackFindings
from ..shared import linked_urns, of_type
from ..values import value
from .types import SUBSCRIPTION, TOPIC

family = Family("gcp", "queues")


@family.stack(
    "gcp-pubsub-subscription-dead-letter",
    severity="medium",
    level="mandatory",
    description="Pub/Sub subscriptions dead-letter to another topic that has a subscription, "
    "except subscriptions on a dead-letter topic.",
    remediation="Set dead_letter_policy={'dead_letter_topic': dlq_topic.id, "
    "'max_delivery_attempts': 5} and subscribe to dlq_topic so dead letters are kept.",
)
def _check_dead_letter(resources: Resources, _config: Config) -> StackFindings:
    """Subscriptions dead-letter, except those on a topic that is itself a dead-letter topic."""
    subscriptions = of_type(resources, SUBSCRIPTION)
    dead_letter_topics: set[str] = set()
    for subscription in subscriptions:
        dead_letter_topics |= linked_urns(subscription, "deadLetterPolicy")
    subscribed: set[str] = set()
    for subscription in subscriptions:
        subscribed |= linked_urns(subscription, "topic")
    for subscription in subscriptions:
        topics = linked_urns(subscription, "topic")
        targets = linked_urns(subscription, "deadLetterPolicy")
        if topics and topics & targets:
            yield (
                f"subscription {subscription.name} dead-letters to its own topic (redelivered "
                "forever instead of set aside)",
                subscription.urn,
            )
        elif topics & dead_letter_topics:
            continue
        elif value(subscription.props, "deadLetterPolicy", "deadLetterTopic") is None:
            yield (
                f"subscription {subscription.name} has no deadLetterPolicy.deadLetterTopic",
                subscription.urn,
            )
    # Pub/Sub drops what is published to a topic nobody subscribes to.
    for topic in of_type(resources, TOPIC):
        if topic.urn in dead_letter_topics and topic.urn not in subscribed:
            yield (
                f"dead-letter topic {topic.name} has no subscription: dead letters are dropped",
                topic.urn,
            )
