"""Azure Service Bus and Azure Queue Storage."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from ..resilience import azure_storage_options
from .base import Message, Queue, decode


class ServiceBusQueue(Queue):
    """Azure Service Bus queue in peek-lock mode; the entity's lock duration is the visibility
    timeout and its own dead-letter sub-queue receives poison messages."""

    def __init__(
        self,
        namespace: str,
        queue: str,
        max_deliveries: int,
        visibility_timeout: float,
        client: Any = None,
    ) -> None:
        from azure.servicebus import ServiceBusClient

        super().__init__(max_deliveries, visibility_timeout)
        if client is None:
            connection = os.environ.get("AZURE_SERVICEBUS_CONNECTION_STRING")
            if connection:
                client = ServiceBusClient.from_connection_string(connection)
            else:
                from azure.identity import DefaultAzureCredential

                client = ServiceBusClient(
                    f"{namespace}.servicebus.windows.net", credential=DefaultAzureCredential()
                )
        self.client = client
        self.queue = queue
        self.sender = client.get_queue_sender(queue)
        self.receiver = client.get_queue_receiver(queue)

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        from azure.servicebus import ServiceBusMessage

        message = ServiceBusMessage(payload, message_id=uuid.uuid4().hex)
        self.sender.send_messages(message)
        return message.message_id

    def _receive_once(self, wait: float) -> Message | None:
        while True:
            received = self.receiver.receive_messages(
                max_message_count=1, max_wait_time=max(wait, 1.0)
            )
            if not received:
                return None
            raw = received[0]
            if raw.delivery_count <= self.max_deliveries:
                return Message(raw.message_id, decode(str(raw)), raw.delivery_count, raw)
            self.receiver.dead_letter_message(
                raw,
                reason="MaxDeliveryCountExceeded",
                error_description=f"received {raw.delivery_count} times",
            )

    def ack(self, message: Message) -> None:
        self.receiver.complete_message(message.receipt)

    def release(self, message: Message) -> None:
        self.receiver.abandon_message(message.receipt)

    def dead_letters(self) -> list[Any]:
        from azure.servicebus import ServiceBusSubQueue

        with self.client.get_queue_receiver(
            self.queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER
        ) as receiver:
            return [decode(str(raw)) for raw in receiver.peek_messages(max_message_count=10)]

    def check(self) -> None:
        self.receiver.peek_messages(max_message_count=1)


class AzureStorageQueue(Queue):
    """Azure Queue Storage; poison messages go to ``<queue>-poison`` (the Azure Functions
    convention). A connection string (Azurite) or managed identity."""

    def __init__(
        self, account: str, queue: str, max_deliveries: int, visibility_timeout: float
    ) -> None:
        from azure.storage.queue import LinearRetry, QueueClient

        super().__init__(max_deliveries, visibility_timeout)
        connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")

        def client(name: str) -> QueueClient:
            if connection:
                return QueueClient.from_connection_string(
                    connection, name, **azure_storage_options(LinearRetry)
                )
            from azure.identity import DefaultAzureCredential

            return QueueClient(
                f"https://{account}.queue.core.windows.net",
                name,
                credential=DefaultAzureCredential(),
                **azure_storage_options(LinearRetry),
            )

        self.client = client(queue)
        self.dead = client(f"{queue}-poison")

    def send(self, body: Any) -> str:
        return self.send_raw(json.dumps(body))

    def send_raw(self, payload: str) -> str:
        return self.client.send_message(payload).id

    def _receive_once(self, wait: float) -> Message | None:
        while True:
            raw = self.client.receive_message(
                visibility_timeout=max(1, round(self.visibility_timeout))
            )
            if raw is None:
                return None
            if raw.dequeue_count <= self.max_deliveries:
                return Message(raw.id, decode(raw.content), raw.dequeue_count, raw.pop_receipt)
            self.dead.send_message(raw.content)
            self.client.delete_message(raw.id, raw.pop_receipt)

    def ack(self, message: Message) -> None:
        self.client.delete_message(message.id, message.receipt)

    def release(self, message: Message) -> None:
        self.client.update_message(message.id, message.receipt, visibility_timeout=0)

    def dead_letters(self) -> list[Any]:
        return [decode(raw.content) for raw in self.dead.peek_messages(max_messages=32)]

    def check(self) -> None:
        self.client.get_queue_properties()
