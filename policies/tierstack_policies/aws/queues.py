"""AWS queues: SQS dead-letter queues and encryption."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props, Resources, StackFindings
from ..shared import linked_urns, of_type
from ..values import falsy, value
from .types import SQS_QUEUE, SQS_REDRIVE

family = Family("aws", "queues")


@family.stack(
    "aws-sqs-dead-letter-configured",
    severity="medium",
    level="mandatory",
    description="Every SQS queue that is not itself a dead-letter queue has a redrive policy.",
    remediation="Create a dead-letter queue and set redrive_policy with its ARN and "
    "maxReceiveCount (derived from dlq.arn so the link is visible).",
)
def _check_dead_letter(resources: Resources, _config: Config) -> StackFindings:
    """Every queue has a redrive policy, except queues that are some queue's dead-letter queue."""
    dead_letter_queues: set[str] = set()
    redriven: set[str] = set()
    for queue in of_type(resources, SQS_QUEUE):
        dead_letter_queues |= linked_urns(queue, "redrivePolicy")
    for redrive in of_type(resources, SQS_REDRIVE):
        dead_letter_queues |= linked_urns(redrive, "redrivePolicy")
        redriven |= linked_urns(redrive, "queueUrl")
    for queue in of_type(resources, SQS_QUEUE):
        policy = value(queue.props, "redrivePolicy")
        if policy is None and queue.urn not in dead_letter_queues | redriven:
            yield f"queue {queue.name} has no redrivePolicy to a dead-letter queue", queue.urn


@family.resource(
    "aws-sqs-encrypted",
    severity="high",
    level="mandatory",
    types=[SQS_QUEUE],
    description="SQS queues keep server-side encryption on.",
    remediation="Leave sqs_managed_sse_enabled True or set kms_master_key_id.",
)
def _check_sqs_encrypted(props: Props, _config: Config, _type: str) -> Findings:
    if falsy(value(props, "sqsManagedSseEnabled")) and value(props, "kmsMasterKeyId") is None:
        yield "server-side encryption is switched off (sqsManagedSseEnabled false, no KMS key)"
