"""Queue: an SQS queue with a dead-letter queue behind it, both encrypted (SSE-SQS) and
TLS-only."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from stacks.aws.common import (
    StatementGrants,
    allow,
    child,
    deny_insecure_transport,
    policy_json,
    tags,
)
from stacks.common.args import QueueArgs

DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600
"""The SQS maximum: failed messages stay long enough to be inspected and redriven."""
PUBLISH_ACTIONS = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
CONSUME_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
]
DEAD_LETTER_ACTIONS = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]


class Queue(StatementGrants, pulumi.ComponentResource):
    """Messages that fail max_deliveries times move to the dead-letter queue, not lost."""

    arn: pulumi.Output[str]
    url: pulumi.Output[str]
    logical_name: str
    physical_name: pulumi.Output[str]
    backend_url: pulumi.Output[str]
    dead_letter_name: pulumi.Output[str]
    dead_letter_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: QueueArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:Queue", name, None, opts)
        self.logical_name = name
        context, spec = args.context, args.spec
        queue_name = f"{context.prefix}-{spec.name}"
        dead_letter = aws.sqs.Queue(
            f"{name}-dlq",
            name=f"{queue_name}-dlq",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DEAD_LETTER_RETENTION_SECONDS,
            tags=tags(context, f"{spec.name}-dlq"),
            opts=child(self),
        )
        queue = aws.sqs.Queue(
            name,
            name=queue_name,
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=spec.visibility_timeout_seconds,
            message_retention_seconds=spec.retention_seconds,
            receive_wait_time_seconds=20,
            redrive_policy=dead_letter.arn.apply(
                lambda arn: json.dumps(
                    {"deadLetterTargetArn": arn, "maxReceiveCount": spec.max_deliveries}
                )
            ),
            tags=tags(context, spec.name),
            opts=child(self),
        )
        # Only this queue may move messages into the dead-letter queue.
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq",
            queue_url=dead_letter.url,
            redrive_allow_policy=queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child(self),
        )
        for resource_name, target in ((name, queue), (f"{name}-dlq", dead_letter)):
            aws.sqs.QueuePolicy(
                resource_name,
                queue_url=target.url,
                policy=target.arn.apply(lambda arn: policy_json([deny_insecure_transport([arn])])),
                opts=child(self),
            )
        self.arn = queue.arn
        self.url = queue.url
        self.physical_name = queue.name
        self.dead_letter_name = dead_letter.name
        self.dead_letter_arn = dead_letter.arn
        self.backend_url = queue.name.apply(lambda queue_name: f"sqs://{queue_name}")
        self.register_outputs(
            {
                "arn": self.arn,
                "physical_name": self.physical_name,
                "backend_url": self.backend_url,
                "dead_letter_name": self.dead_letter_name,
            }
        )

    def policy_statements(self, access: str) -> pulumi.Output[list[dict[str, Any]]]:
        """publish: send only; consume: receive, delete, extend visibility on this queue, and
        move a poison message to its dead-letter queue (the backend does so itself past
        max_deliveries, so a consumer without this grant fails at the first poison message)."""
        if access == "publish":
            return self.arn.apply(lambda arn: [allow(PUBLISH_ACTIONS, [arn])])
        return pulumi.Output.all(self.arn, self.dead_letter_arn).apply(
            lambda arns: [
                allow(CONSUME_ACTIONS, [arns[0]]),
                allow(DEAD_LETTER_ACTIONS, [arns[1]]),
            ]
        )
