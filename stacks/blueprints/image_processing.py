"""Image processing: upload, filter (synchronously or through a queue and workers), download."""

from stacks.blueprints.model import (
    AppTier,
    Blueprint,
    KeyValueTable,
    ObjectStore,
    Queue,
    Uses,
    WorkerTier,
)

_USES = (
    Uses("images", "read-write", "OBJECT_STORE_URL"),
    Uses("filter-jobs", "publish", "QUEUE_URL"),
    Uses("job-status", "read-write", "KV_URL"),
)


def blueprint() -> Blueprint:
    return Blueprint(
        name="image-processing",
        description="LB -> app tier (upload, filters, download) -> object store; "
        "queue + worker tier for async filter jobs; key-value job status",
        object_stores=(
            ObjectStore("images", "originals and filtered results", noncurrent_version_days=30),
        ),
        queues=(
            Queue("filter-jobs", "large or batched filter jobs", visibility_timeout_seconds=300),
        ),
        tables=(
            KeyValueTable("job-status", "filter job status by job id", ttl_attribute="expires_at"),
        ),
        app=AppTier(
            "web",
            "upload, filter and download pages and JSON API",
            wsgi="reference_apps.image_processing.wsgi:app",
            port=8001,
            uses=_USES,
        ),
        workers=(
            WorkerTier(
                "filter-worker",
                "applies filters to large images off the request path",
                command="python -m reference_apps.image_processing.worker",
                scale_on="filter-jobs",
                uses=(
                    Uses("images", "read-write", "OBJECT_STORE_URL"),
                    Uses("filter-jobs", "consume", "QUEUE_URL"),
                    Uses("job-status", "read-write", "KV_URL"),
                ),
                backlog_per_instance=10,
            ),
        ),
    )
