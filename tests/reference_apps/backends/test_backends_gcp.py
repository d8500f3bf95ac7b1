"""GCP backends: Cloud Storage over HTTP against the GCS emulator, Pub/Sub over gRPC against
Google's pstest emulator. Firestore has no emulator here, so its adapter is tested against an
autospec double of the SDK's client (every call is checked against the real SDK signatures)."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from backend_contracts import dead_letter_contract, object_store_contract, queue_contract
from conftest import pubsub_queue
from google.cloud import firestore, storage

from reference_apps.backends.kv import FirestoreKeyValue
from reference_apps.backends.object_store import GcsObjectStore
from reference_apps.backends.queue import PubSubQueue

PROJECT = "tierstack-test"


def test_gcs_object_store(gcs_emulator_host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator_host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    storage.Client().create_bucket(bucket)
    object_store_contract(GcsObjectStore(bucket, "prefix"))
    names = [blob.name for blob in storage.Client().list_blobs(bucket)]
    assert names == ["prefix/results/a1"]


@pytest.fixture
def pubsub_queue_names(pubsub_emulator_host: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator_host)
    topic, subscription = f"t-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    pubsub_queue(PROJECT, topic, subscription)
    return topic, subscription


def test_pubsub_queue(pubsub_queue_names: tuple) -> None:
    queue_contract(PubSubQueue(PROJECT, *pubsub_queue_names, 5, 30), wait=2)


def test_pubsub_dead_letters(pubsub_queue_names: tuple) -> None:
    dead_letter_contract(PubSubQueue(PROJECT, *pubsub_queue_names, 2, 30), wait=2)


def test_firestore_kv_through_the_sdk() -> None:
    """SDK double: no Firestore emulator exists on this machine."""
    client = mock.create_autospec(firestore.Client, instance=True)
    collection = client.collection.return_value
    document = collection.document.return_value
    kv = FirestoreKeyValue("jobs", client=client)
    client.collection.assert_called_once_with("jobs")

    kv.put("job:1", {"status": "queued"})
    collection.document.assert_called_with("job:1")
    document.set.assert_called_once_with({"status": "queued"})

    document.get.return_value = mock.Mock(exists=True, to_dict=lambda: {"status": "done"})
    assert kv.update("job:1", {"status": "done"}) == {"status": "done"}
    document.set.assert_called_with({"status": "done"}, merge=True)

    document.get.return_value = mock.Mock(exists=False)
    assert kv.get("job:2") is None
    kv.delete("job:2")
    document.delete.assert_called_once_with()


def test_firestore_url_names_the_database() -> None:
    """SDK double: the stacks give each table its own Firestore database (?database=)."""
    from reference_apps.backends.kv import open_kv
    from reference_apps.backends.settings import parse_url

    with mock.patch.object(firestore, "Client", autospec=True) as client_class:
        open_kv(parse_url("KV_URL", "firestore://jobs?database=ip-dev-status", ("firestore",)))
        open_kv(parse_url("KV_URL", "firestore://jobs", ("firestore",)))
    assert client_class.call_args_list == [
        mock.call(database="ip-dev-status"),
        mock.call(database="(default)"),
    ]
