"""Google Cloud Pub/Sub (pull subscription)."""

from __future__ import annotations

import json
from typing import Any

from ..resilience import READ_TIMEOUT
from .base import Message, Queue, decode


class PubSubQueue(Queue):
    """Google Pub/Sub pull subscription; dead letters go to ``<topic>-dead-letter`` (read through
    ``<subscription>-dead-letter``). Delivery counts come from the subscription's dead-letter
    policy when set, otherwise from a per-process tally."""

    def __init__(
        self,
        project: str,
        topic: str,
        subscription: str,
        max_deliveries: int,
        visibility_timeout: float,
    ) -> None:
        from google.cloud import pubsub_v1

        super().__init__(max_deliveries, visibility_timeout)
        self.publisher = pubsub_v1.PublisherClient()
        self.subscriber = pubsub_v1.SubscriberClient()
        self.topic = self.publisher.topic_path(project, topic)
        self.dead_topic = self.publisher.topic_path(project, f"{topic}-dead-letter")
        self.subscription = self.subscriber.subscription_path(project, subscription)
        self.dead_subscription = self.subscriber.subscription_path(
            project, f"{subscription}-dead-letter"
        )
        self._tally: dict[str, int] = {}

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        return self.publisher.publish(self.topic, payload.encode()).result(timeout=READ_TIMEOUT)

    def _receive_once(self, wait: float) -> Message | None:
        while True:
            response = self.subscriber.pull(
                request={"subscription": self.subscription, "max_messages": 1},
                timeout=max(wait, 5.0),
            )
            if not response.received_messages:
                return None
            received = response.received_messages[0]
            message_id = received.message.message_id
            deliveries = received.delivery_attempt or self._tally.get(message_id, 0) + 1
            self._tally[message_id] = deliveries
            if deliveries <= self.max_deliveries:
                self.subscriber.modify_ack_deadline(
                    request={
                        "subscription": self.subscription,
                        "ack_ids": [received.ack_id],
                        "ack_deadline_seconds": max(10, round(self.visibility_timeout)),
                    }
                )
                return Message(
                    message_id, decode(received.message.data), deliveries, received.ack_id
                )
            self.publisher.publish(self.dead_topic, received.message.data).result(
                timeout=READ_TIMEOUT
            )
            self.subscriber.acknowledge(
                request={"subscription": self.subscription, "ack_ids": [received.ack_id]}
            )
            self._tally.pop(message_id, None)

    def ack(self, message: Message) -> None:
        self.subscriber.acknowledge(
            request={"subscription": self.subscription, "ack_ids": [message.receipt]}
        )
        self._tally.pop(message.id, None)

    def release(self, message: Message) -> None:
        self.subscriber.modify_ack_deadline(
            request={
                "subscription": self.subscription,
                "ack_ids": [message.receipt],
                "ack_deadline_seconds": 0,
            }
        )

    def dead_letters(self) -> list[Any]:
        response = self.subscriber.pull(
            request={"subscription": self.dead_subscription, "max_messages": 10}, timeout=5
        )
        return [decode(item.message.data) for item in response.received_messages]

    def check(self) -> None:
        self.subscriber.get_subscription(
            request={"subscription": self.subscription}, timeout=READ_TIMEOUT
        )
