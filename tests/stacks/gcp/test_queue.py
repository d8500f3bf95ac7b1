"""Queue: the queue, its dead letters and its grants, as resolved inputs."""

from __future__ import annotations

from stacks.blueprints.model import Queue as QueueSpec
from stacks.common.args import QueueArgs, StackContext
from stacks.gcp import Queue
from tests.stacks.gcp.conftest import PROJECT, PROJECT_NUMBER, run

MEMBER = "serviceAccount:tier@tierstack-dev.iam.gserviceaccount.com"
PUBSUB_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"


def test_queue_dead_letters_with_retry_and_agent_grants(context: StackContext) -> None:
    spec = QueueSpec("filter-jobs", "t", visibility_timeout_seconds=900, max_deliveries=5)

    def program() -> dict:
        queue = Queue("filter-jobs", QueueArgs(context, spec))
        queue.bind("web-filter-jobs-publish", MEMBER, "publish", queue)
        queue.bind("worker-filter-jobs-consume", MEMBER, "consume", queue)
        return {"url": queue.backend_url}

    result = run(program)
    topic = result.one("gcp:pubsub/topic:Topic", "filter-jobs-topic")
    dead_topic = result.one("gcp:pubsub/topic:Topic", "filter-jobs-dead-letter-topic")
    assert topic.inputs["name"] == "image-processing-dev-filter-jobs"
    # The reference apps' Pub/Sub adapter finds dead letters by these exact names.
    assert dead_topic.inputs["name"] == "image-processing-dev-filter-jobs-dead-letter"
    assert topic.inputs["messageStoragePolicy"] == {"allowedPersistenceRegions": ["europe-west1"]}
    subscription = result.one(
        "gcp:pubsub/subscription:Subscription", "filter-jobs-subscription"
    ).inputs
    assert subscription["topic"] == "filter-jobs-topic-id"
    assert subscription["ackDeadlineSeconds"] == 600  # 900 s clamped to Pub/Sub's maximum
    assert subscription["deadLetterPolicy"] == {
        "deadLetterTopic": "filter-jobs-dead-letter-topic-id",
        "maxDeliveryAttempts": 5,
    }
    assert subscription["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    assert subscription["messageRetentionDuration"] == "345600s"
    dead_sub = result.one(
        "gcp:pubsub/subscription:Subscription", "filter-jobs-dead-letter-subscription"
    )
    assert dead_sub.inputs["topic"] == "filter-jobs-dead-letter-topic-id"
    assert dead_sub.inputs["name"] == subscription["name"] + "-dead-letter"
    topic_grants = {
        (m.inputs["topic"], m.inputs["role"], m.inputs["member"])
        for m in result.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
    }
    assert topic_grants == {
        ("filter-jobs-dead-letter-topic-id", "roles/pubsub.publisher", PUBSUB_AGENT),
        ("filter-jobs-topic-id", "roles/pubsub.publisher", MEMBER),
        ("filter-jobs-dead-letter-topic-id", "roles/pubsub.publisher", MEMBER),
    }
    subscription_grants = {
        (m.inputs["subscription"], m.inputs["role"], m.inputs["member"])
        for m in result.of_type("gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember")
    }
    assert subscription_grants == {
        ("filter-jobs-subscription-id", "roles/pubsub.subscriber", PUBSUB_AGENT),
        ("filter-jobs-subscription-id", "roles/pubsub.subscriber", MEMBER),
        ("filter-jobs-subscription-id", "roles/pubsub.viewer", MEMBER),  # readiness: get
    }
    assert result.result["url"] == (
        f"pubsub://{PROJECT}/image-processing-dev-filter-jobs/image-processing-dev-filter-jobs-sub"
    )
