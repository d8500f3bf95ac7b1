"""AWS backends over HTTP against a real moto server, reached through AWS_ENDPOINT_URL exactly
as an S3-compatible endpoint (SeaweedFS) is in the local target."""

from __future__ import annotations

import email
import time
import uuid

import boto3
import pytest
from backend_contracts import (
    dead_letter_contract,
    kv_contract,
    object_store_contract,
    queue_contract,
)

from reference_apps.backends import Settings, open_backends
from reference_apps.backends.kv import DynamoKeyValue
from reference_apps.backends.mail import SesMailer
from reference_apps.backends.object_store import S3ObjectStore
from reference_apps.backends.queue import SqsQueue
from reference_apps.backends.settings import ConfigError


def make_bucket() -> str:
    name = f"b-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def make_queue() -> str:
    name = f"q-{uuid.uuid4().hex[:12]}"
    client = boto3.client("sqs")
    client.create_queue(QueueName=name)
    client.create_queue(QueueName=f"{name}-dlq")
    return name


def test_s3_object_store(aws_env: str) -> None:
    object_store_contract(S3ObjectStore(make_bucket()))


def test_s3_prefix_keeps_objects_inside_it(aws_env: str) -> None:
    bucket = make_bucket()
    store = S3ObjectStore(bucket, "/tenant-a/")
    store.put("x/y", b"data")
    raw = boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in raw] == ["tenant-a/x/y"]
    assert store.list() == ["x/y"]


def test_object_store_url_honours_the_endpoint(aws_env: str) -> None:
    bucket = make_bucket()
    settings = Settings.from_env("t", {"OBJECT_STORE_URL": f"s3://{bucket}/p"})
    store = open_backends(settings, queue=False, kv=False, db=False, mail=False).objects
    assert isinstance(store, S3ObjectStore)
    assert store.client.meta.endpoint_url == aws_env
    store.put("k", b"v")
    assert boto3.client("s3").get_object(Bucket=bucket, Key="p/k")["Body"].read() == b"v"


def test_sqs_queue(aws_env: str) -> None:
    queue_contract(SqsQueue(make_queue(), 5, 30))


def test_sqs_dead_letters(aws_env: str) -> None:
    dead_letter_contract(SqsQueue(make_queue(), 2, 30))


def test_dynamodb_kv(aws_env: str) -> None:
    name = f"kv-{uuid.uuid4().hex[:12]}"
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    kv_contract(DynamoKeyValue(name))


def test_dynamodb_kv_follows_the_tables_own_keys_and_writes_its_ttl(aws_env: str) -> None:
    name = f"kv-{uuid.uuid4().hex[:12]}"
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "device_id", "KeyType": "HASH"},
            {"AttributeName": "ts", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "device_id", "AttributeType": "S"},
            {"AttributeName": "ts", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    settings = Settings.from_env("t", {"KV_URL": f"dynamodb://{name}?ttl=expires_at&ttl_days=2"})
    kv = open_backends(settings, queue=False, kv=True, db=False, mail=False).kv
    assert isinstance(kv, DynamoKeyValue)
    before = int(time.time())
    kv.put("sensor-1#2026-11-30T12:00:00Z", {"celsius": 21.5})
    kv.put("sensor-1#2026-11-30T12:01:00Z", {"celsius": 21.7, "expires_at": 1_900_000_000})
    assert kv.get("sensor-1#2026-11-30T12:00:00Z") == {"celsius": 21.5}
    items = {
        item["ts"]["S"]: item
        for item in client.scan(TableName=name)["Items"]
        if item["device_id"]["S"] == "sensor-1"
    }
    written = int(items["2026-11-30T12:00:00Z"]["expires_at"]["N"])
    assert before + 2 * 86400 <= written <= int(time.time()) + 2 * 86400
    assert items["2026-11-30T12:01:00Z"]["expires_at"]["N"] == "1900000000"
    with pytest.raises(ValueError, match="keyed by device_id and ts; use '<device_id>#<ts>'"):
        kv.get("sensor-1")


def test_dynamodb_url_rejects_a_bad_lifetime(aws_env: str) -> None:
    settings = Settings.from_env("t", {"KV_URL": "dynamodb://t?ttl=x&ttl_days=soon"})
    with pytest.raises(ConfigError, match="ttl_days='soon' must be a whole number of days"):
        open_backends(settings, queue=False, kv=True, db=False, mail=False)


def test_ses_mailer(aws_env: str) -> None:
    ses = boto3.client("ses", region_name="us-east-1")
    ses.verify_email_identity(EmailAddress="drive@example.com")
    mailer = SesMailer("us-east-1", "drive@example.com")
    mailer.check()
    mailer.send("user@example.com", "Welcome", "Hello from SES")
    quota = ses.get_send_statistics()["SendDataPoints"]
    assert sum(point["DeliveryAttempts"] for point in quota) >= 1
    message = email.message_from_bytes(bytes(mailer.compose("a@b.example", "s", "b")))
    assert message["From"] == "drive@example.com"


def test_the_social_listener_lease_fits_the_stacks_composite_key(aws_env: str) -> None:
    """The sentiment table is keyed by id and hour (stacks/blueprints/social_analytics.py): the
    listener's lease must be a valid key there, or every AWS listener stops at its first tick."""
    from types import SimpleNamespace

    from reference_apps.social_analytics.listener import Lease
    from stacks.blueprints import BLUEPRINTS

    table = next(t for t in BLUEPRINTS["social-analytics"]().tables if t.name == "sentiment")
    name = f"kv-{uuid.uuid4().hex[:12]}"
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": table.partition_key, "KeyType": "HASH"},
            {"AttributeName": table.sort_key, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": table.partition_key, "AttributeType": "S"},
            {"AttributeName": table.sort_key, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    service = SimpleNamespace(kv=DynamoKeyValue(name))
    first, second = Lease(service, 30, "first"), Lease(service, 30, "second")  # type: ignore[arg-type]
    assert first.hold() and not second.hold()
    first.release()
    assert second.hold()
