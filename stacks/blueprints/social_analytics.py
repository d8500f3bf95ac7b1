"""Social analytics: a listener collects posts on a keyword, a consumer scores their sentiment, a
dashboard shows the aggregates."""

from stacks.blueprints.model import (
    AppTier,
    Blueprint,
    KeyValueTable,
    ObjectStore,
    Queue,
    Uses,
    WorkerTier,
)


def blueprint() -> Blueprint:
    return Blueprint(
        name="social-analytics",
        description="listener worker -> queue -> consumer worker (sentiment) -> NoSQL aggregates; "
        "raw posts -> object store; LB -> app tier (dashboard)",
        object_stores=(
            ObjectStore("raw-posts", "collected posts as received", archive_after_days=30),
        ),
        queues=(
            Queue("posts", "posts waiting for sentiment scoring", visibility_timeout_seconds=60),
        ),
        tables=(
            KeyValueTable(
                "sentiment", "sentiment aggregates per keyword and hour", sort_key="hour"
            ),
        ),
        app=AppTier(
            "dashboard",
            "sentiment dashboard",
            wsgi="reference_apps.social_analytics.wsgi:app",
            port=8004,
            uses=(Uses("sentiment", "read", "KV_URL"),),
        ),
        workers=(
            # The listener fills the queue: scaling it on that queue's backlog would add
            # listeners exactly when the consumers fall behind. A fixed group instead, in which
            # one instance collects while it holds a lease in the table and the others wait to
            # take over (two collectors would enqueue every post twice).
            WorkerTier(
                "listener",
                "collects posts on the configured keywords (one active, the others standby)",
                command="python -m reference_apps.social_analytics.listener",
                scale_on=None,
                uses=(
                    Uses("raw-posts", "read-write", "OBJECT_STORE_URL"),
                    Uses("posts", "publish", "QUEUE_URL"),
                    Uses("sentiment", "read-write", "KV_URL"),
                ),
            ),
            WorkerTier(
                "sentiment-consumer",
                "scores posts and updates the aggregates",
                command="python -m reference_apps.social_analytics.consumer",
                scale_on="posts",
                uses=(
                    Uses("posts", "consume", "QUEUE_URL"),
                    Uses("sentiment", "read-write", "KV_URL"),
                ),
                backlog_per_instance=200,
            ),
        ),
    )
