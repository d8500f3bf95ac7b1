"""Amazon SQS."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from ..resilience import boto_config
from .base import Message, Queue, decode


class SqsQueue(Queue):
    """Amazon SQS; the dead-letter queue is ``<name>-dlq`` (the stacks also set a redrive policy,
    which moves messages server-side with the same limit). The dead-letter queue is looked up
    only when a consumer first needs it, so a producer needs no grant on it."""

    def __init__(
        self, name: str, max_deliveries: int, visibility_timeout: float, client: Any = None
    ) -> None:
        import boto3

        super().__init__(max_deliveries, visibility_timeout)
        self.name = name
        self.client = client or boto3.client("sqs", config=boto_config(read_timeout=30))
        self.url = self.client.get_queue_url(QueueName=name)["QueueUrl"]

    @cached_property
    def dead_url(self) -> str:
        return self.client.get_queue_url(QueueName=f"{self.name}-dlq")["QueueUrl"]

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        return self.client.send_message(QueueUrl=self.url, MessageBody=payload)["MessageId"]

    def _receive_once(self, wait: float) -> Message | None:
        while True:
            response = self.client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=1,
                VisibilityTimeout=max(1, round(self.visibility_timeout)),
                WaitTimeSeconds=min(20, int(wait)),
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
            messages = response.get("Messages", [])
            if not messages:
                return None
            raw = messages[0]
            deliveries = int(raw["Attributes"]["ApproximateReceiveCount"])
            if deliveries <= self.max_deliveries:
                return Message(
                    raw["MessageId"], decode(raw["Body"]), deliveries, raw["ReceiptHandle"]
                )
            self.client.send_message(QueueUrl=self.dead_url, MessageBody=raw["Body"])
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=raw["ReceiptHandle"])

    def ack(self, message: Message) -> None:
        self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt)

    def release(self, message: Message) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=message.receipt, VisibilityTimeout=0
        )

    def dead_letters(self) -> list[Any]:
        response = self.client.receive_message(
            QueueUrl=self.dead_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return [decode(raw["Body"]) for raw in response.get("Messages", [])]

    def check(self) -> None:
        self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
