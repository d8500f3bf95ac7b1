"""AWS queues: SQS dead-letter queues and encryption."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props, Resources, StackFindings
from ..shared import linked_urns, of_type
from ..values import UNKNOWN, falsy, json_document, value
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
        if _names_a_target(redrive.props):
            redriven |= linked_urns(redrive, "queueUrl")
    for queue in of_type(resources, SQS_QUEUE):
        if queue.urn in dead_letter_queues | redriven:
            continue
        if value(queue.props, "redrivePolicy") is None:
            yield f"queue {queue.name} has no redrivePolicy to a dead-letter queue", queue.urn
        elif not _names_a_target(queue.props):
            yield f"queue {queue.name}: redrivePolicy names no deadLetterTargetArn", queue.urn


def _names_a_target(props: Props) -> bool:
    """A redrive policy with maxReceiveCount but no deadLetterTargetArn moves nothing anywhere."""
    document = json_document(value(props, "redrivePolicy"))
    if document is UNKNOWN:
        return True
    target = document.get("deadLetterTargetArn") if isinstance(document, dict) else None
    return target is UNKNOWN or (isinstance(target, str) and target.strip() != "")


@family.resource(
    "aws-sqs-encrypted",
    severity="high",
    level="mandatory",
    types=[SQS_QUEUE],
    description="SQS queues keep server-side encryption on.",
    remediation="Leave sqs_managed_sse_enabled True or set kms_master_key_id.",
)
def _check_sqs_encrypted(props: Props, _config: Config, _type: str) -> Findings:
    key = value(props, "kmsMasterKeyId")
    if falsy(value(props, "sqsManagedSseEnabled")) and key in (None, ""):
        yield "server-side encryption is switched off (sqsManagedSseEnabled false, no KMS key)"
