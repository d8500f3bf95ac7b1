"""Azure backends: Blob, Queue and Table over HTTP against Azurite 3.35.0. Service Bus has no
emulator here, so its adapter is tested against an autospec double of the SDK's own classes
(every call is checked against the real SDK signatures)."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from azure.data.tables import TableServiceClient
from azure.servicebus import ServiceBusClient, ServiceBusReceiver, ServiceBusSender
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient
from backend_contracts import (
    dead_letter_contract,
    kv_contract,
    object_store_contract,
    queue_contract,
)

from reference_apps.backends import Settings, open_backends
from reference_apps.backends.kv import AzureTableKeyValue
from reference_apps.backends.object_store import AzureBlobObjectStore
from reference_apps.backends.queue import AzureStorageQueue, ServiceBusQueue


@pytest.fixture
def azurite(azurite_connection_string: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string)
    return azurite_connection_string


def test_blob_object_store(azurite: str) -> None:
    container = f"c{uuid.uuid4().hex[:12]}"
    BlobServiceClient.from_connection_string(azurite).create_container(container)
    settings = Settings.from_env(
        "t", {"OBJECT_STORE_URL": f"azblob://devstoreaccount1/{container}"}
    )
    store = open_backends(settings, queue=False, kv=False, db=False, mail=False).objects
    assert isinstance(store, AzureBlobObjectStore)
    object_store_contract(store)


def make_storage_queue(azurite: str) -> str:
    name = f"q{uuid.uuid4().hex[:12]}"
    service = QueueServiceClient.from_connection_string(azurite)
    service.create_queue(name)
    service.create_queue(f"{name}-poison")
    return name


def test_storage_queue(azurite: str) -> None:
    queue_contract(AzureStorageQueue("devstoreaccount1", make_storage_queue(azurite), 5, 30))


def test_storage_queue_dead_letters(azurite: str) -> None:
    dead_letter_contract(AzureStorageQueue("devstoreaccount1", make_storage_queue(azurite), 2, 30))


def test_table_kv(azurite: str) -> None:
    table = f"t{uuid.uuid4().hex[:12]}"
    TableServiceClient.from_connection_string(azurite).create_table(table)
    kv_contract(AzureTableKeyValue("devstoreaccount1", table))


def sdk_message(body: str, delivery_count: int) -> mock.Mock:
    message = mock.Mock(message_id=uuid.uuid4().hex, delivery_count=delivery_count)
    message.__str__ = mock.Mock(return_value=body)
    return message


def test_service_bus_settles_through_the_sdk() -> None:
    """SDK double: no Service Bus emulator exists on this machine."""
    client = mock.create_autospec(ServiceBusClient, instance=True)
    receiver = mock.create_autospec(ServiceBusReceiver, instance=True)
    sender = mock.create_autospec(ServiceBusSender, instance=True)
    client.get_queue_receiver.return_value = receiver
    client.get_queue_sender.return_value = sender
    queue = ServiceBusQueue("ns", "jobs", 2, 30, client=client)

    message_id = queue.send({"job_id": "a"})
    (sent,), _ = sender.send_messages.call_args
    assert str(sent) == '{"job_id": "a"}' and sent.message_id == message_id

    good = sdk_message('{"job_id": "a"}', delivery_count=1)
    poison = sdk_message("poison", delivery_count=3)
    receiver.receive_messages.side_effect = [[poison], [good], []]
    received = queue.receive()
    assert received is not None and received.body == {"job_id": "a"}
    assert received.deliveries == 1
    receiver.dead_letter_message.assert_called_once_with(
        poison, reason="MaxDeliveryCountExceeded", error_description="received 3 times"
    )
    queue.ack(received)
    receiver.complete_message.assert_called_once_with(good)
    queue.release(received)
    receiver.abandon_message.assert_called_once_with(good)
    assert queue.receive() is None


def test_table_url_picks_the_cosmos_endpoint(monkeypatch) -> None:
    """SDK double: no Cosmos DB emulator here; checks the endpoint the client is built for."""
    from unittest import mock

    from azure.data import tables

    from reference_apps.backends.kv import open_kv
    from reference_apps.backends.settings import parse_url

    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with mock.patch.object(tables, "TableServiceClient", autospec=True) as client_class:
        open_kv(parse_url("KV_URL", "aztable://acct/Jobs?service=cosmos", ("aztable",)))
        open_kv(parse_url("KV_URL", "aztable://acct/Jobs", ("aztable",)))
    endpoints = [call.args[0] for call in client_class.call_args_list]
    assert endpoints == [
        "https://acct.table.cosmos.azure.com",
        "https://acct.table.core.windows.net",
    ]
