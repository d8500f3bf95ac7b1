"""GCP queues: Pub/Sub subscriptions dead-letter."""

from __future__ import annotations

from ..registry import Config, Family, Resources, StackFindings
from ..shared import linked_urns, of_type
from ..values import value
from .types import SUBSCRIPTION

family = Family("gcp", "queues")


@family.stack(
    "gcp-pubsub-subscription-dead-letter",
    severity="medium",
    level="mandatory",
    description="Pub/Sub subscriptions dead-letter, except subscriptions on a dead-letter topic.",
    remediation="Set dead_letter_policy={'dead_letter_topic': dlq_topic.id, "
    "'max_delivery_attempts': 5}.",
)
def _check_dead_letter(resources: Resources, _config: Config) -> StackFindings:
    """Subscriptions dead-letter, except those on a topic that is itself a dead-letter topic."""
    subscriptions = of_type(resources, SUBSCRIPTION)
    dead_letter_topics: set[str] = set()
    for subscription in subscriptions:
        dead_letter_topics |= linked_urns(subscription, "deadLetterPolicy")
    for subscription in subscriptions:
        if linked_urns(subscription, "topic") & dead_letter_topics:
            continue
        if value(subscription.props, "deadLetterPolicy", "deadLetterTopic") is None:
            yield (
                f"subscription {subscription.name} has no deadLetterPolicy.deadLetterTopic",
                subscription.urn,
            )
