"""Network and data components on GCP: resolved inputs of every resource they declare."""

from __future__ import annotations

import pytest
from pulumi.runtime import rpc

from stacks.blueprints.model import KeyValueTable as TableSpec
from stacks.blueprints.model import Notifications as NotificationsSpec
from stacks.blueprints.model import ObjectStore as StoreSpec
from stacks.blueprints.model import Queue as QueueSpec
from stacks.blueprints.model import RelationalDb as DbSpec
from stacks.common.args import (
    AppSecretArgs,
    KeyValueTableArgs,
    NetworkArgs,
    NotificationsArgs,
    ObjectStoreArgs,
    QueueArgs,
    RelationalDbArgs,
    StackContext,
)
from stacks.gcp import (
    AppSecret,
    KeyValueTable,
    Network,
    Notifications,
    ObjectStore,
    Queue,
    RelationalDb,
)
from tests.stacks.gcp.conftest import DB_PRIVATE_IP, PROJECT, PROJECT_NUMBER, context_for, run

MEMBER = "serviceAccount:tier@tierstack-dev.iam.gserviceaccount.com"
PUBSUB_AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
GOVERNANCE = {
    "project": "tierstack",
    "app": "image-processing",
    "env": "dev",
    "owner": "platform-team",
    "cost-center": "unassigned",
}


def test_network_is_private_with_nat_and_iap_only_ssh(context: StackContext) -> None:
    def program() -> None:
        network = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        network.private_services_access()
        network.private_services_access()  # a second caller reuses the one connection

    result = run(program)
    vpc = result.one("gcp:compute/network:Network")
    assert vpc.inputs["autoCreateSubnetworks"] is False
    subnet = result.one("gcp:compute/subnetwork:Subnetwork").inputs
    assert subnet["ipCidrRange"] == "10.40.0.0/17"
    assert subnet["network"] == "vpc-id"
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["logConfig"]["flowSampling"] == 0.5
    nat = result.one("gcp:compute/routerNat:RouterNat").inputs
    address = result.one("gcp:compute/address:Address")
    assert nat["natIpAllocateOption"] == "MANUAL_ONLY"
    assert nat["natIps"] == [address.outputs["selfLink"]]
    assert nat["subnetworks"] == [{"name": "hosts-id", "sourceIpRangesToNats": ["ALL_IP_RANGES"]}]
    (firewall,) = result.of_type("gcp:compute/firewall:Firewall")
    assert firewall.inputs["sourceRanges"] == ["35.235.240.0/20"]
    assert firewall.inputs["allows"] == [{"protocol": "tcp", "ports": ["22"]}]
    assert firewall.inputs["targetTags"] == ["image-processing-dev-vm"]
    reserved = result.one("gcp:compute/globalAddress:GlobalAddress").inputs
    assert (reserved["address"], reserved["prefixLength"]) == ("10.40.128.0", 18)
    assert reserved["purpose"] == "VPC_PEERING"
    connection = result.one("gcp:servicenetworking/connection:Connection").inputs
    assert connection["reservedPeeringRanges"] == ["image-processing-dev-private-services"]


def test_bucket_is_private_versioned_and_lifecycled(context: StackContext) -> None:
    spec = StoreSpec("images", "test", noncurrent_version_days=30, archive_after_days=60)

    def program() -> dict:
        store = ObjectStore("images", ObjectStoreArgs(context, spec))
        store.bind("web-images", MEMBER, "read-write", store)
        store.bind("viewer-images", MEMBER, "read", store)
        return {"url": store.backend_url, "name": store.physical_name}

    result = run(program)
    bucket = result.one("gcp:storage/bucket:Bucket").inputs
    assert bucket["name"] == "tierstack-dev-image-processing-dev-images"
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    assert bucket["labels"] == {**GOVERNANCE, "purpose": "images"}
    rules = {
        (r["action"]["type"], r["action"].get("storageClass")): r for r in bucket["lifecycleRules"]
    }
    assert rules[("Delete", None)]["condition"] == {
        "daysSinceNoncurrentTime": 30,
        "withState": "ARCHIVED",
    }
    assert rules[("SetStorageClass", "NEARLINE")]["condition"]["age"] == 60
    assert rules[("AbortIncompleteMultipartUpload", None)]["condition"] == {"age": 7}
    assert result.result == {
        "url": "gs://tierstack-dev-image-processing-dev-images",
        "name": "tierstack-dev-image-processing-dev-images",
    }
    roles = {
        m.name: (m.inputs["bucket"], m.inputs["role"], m.inputs["member"])
        for m in result.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    }
    assert roles == {
        "web-images": (bucket["name"], "roles/storage.objectUser", MEMBER),
        "viewer-images": (bucket["name"], "roles/storage.objectViewer", MEMBER),
        # the readiness check reads the bucket's metadata (buckets.get)
        "web-images-metadata": (bucket["name"], "roles/storage.legacyBucketReader", MEMBER),
        "viewer-images-metadata": (bucket["name"], "roles/storage.legacyBucketReader", MEMBER),
    }


def test_scratch_bucket_expires_current_objects(context: StackContext) -> None:
    spec = StoreSpec("logs", "test", expire_after_days=30)
    result = run(lambda: ObjectStore("logs", ObjectStoreArgs(context, spec)) and None)
    rules = result.one("gcp:storage/bucket:Bucket").inputs["lifecycleRules"]
    assert {"action": {"type": "Delete"}, "condition": {"age": 30, "withState": "LIVE"}} in rules
    assert not [r for r in rules if r["action"]["type"] == "SetStorageClass"]


def test_bucket_refuses_queue_access(context: StackContext) -> None:
    def program() -> None:
        store = ObjectStore("images", ObjectStoreArgs(context, StoreSpec("images", "t")))
        store.bind("bad", MEMBER, "publish", store)

    with pytest.raises(Exception, match="access 'publish' does not apply"):
        run(program)


def test_queue_dead_letters_with_retry_and_agent_grants(context: StackContext) -> None:
    spec = QueueSpec("filter-jobs", "t", visibility_timeout_seconds=900, max_deliveries=5)

    def program() -> dict:
        queue = Queue("filter-jobs", QueueArgs(context, spec))
        queue.bind("web-filter-jobs-publish", MEMBER, "publish", queue)
        queue.bind("worker-filter-jobs-consume", MEMBER, "consume", queue)
        return {"url": queue.backend_url}

    result = run(program)
    topic = result.one("gcp:pubsub/topic:Topic", "filter-jobs-topic")
    dead_topic = result.one("gcp:pubsub/topic:Topic", "filter-jobs-dead-letter-topic")
    assert topic.inputs["name"] == "image-processing-dev-filter-jobs"
    # The reference apps' Pub/Sub adapter finds dead letters by these exact names.
    assert dead_topic.inputs["name"] == "image-processing-dev-filter-jobs-dead-letter"
    assert topic.inputs["messageStoragePolicy"] == {"allowedPersistenceRegions": ["europe-west1"]}
    subscription = result.one(
        "gcp:pubsub/subscription:Subscription", "filter-jobs-subscription"
    ).inputs
    assert subscription["topic"] == "filter-jobs-topic-id"
    assert subscription["ackDeadlineSeconds"] == 600  # 900 s clamped to Pub/Sub's maximum
    assert subscription["deadLetterPolicy"] == {
        "deadLetterTopic": "filter-jobs-dead-letter-topic-id",
        "maxDeliveryAttempts": 5,
    }
    assert subscription["retryPolicy"] == {"minimumBackoff": "10s", "maximumBackoff": "600s"}
    assert subscription["messageRetentionDuration"] == "345600s"
    dead_sub = result.one(
        "gcp:pubsub/subscription:Subscription", "filter-jobs-dead-letter-subscription"
    )
    assert dead_sub.inputs["topic"] == "filter-jobs-dead-letter-topic-id"
    assert dead_sub.inputs["name"] == subscription["name"] + "-dead-letter"
    topic_grants = {
        (m.inputs["topic"], m.inputs["role"], m.inputs["member"])
        for m in result.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
    }
    assert topic_grants == {
        ("filter-jobs-dead-letter-topic-id", "roles/pubsub.publisher", PUBSUB_AGENT),
        ("filter-jobs-topic-id", "roles/pubsub.publisher", MEMBER),
        ("filter-jobs-dead-letter-topic-id", "roles/pubsub.publisher", MEMBER),
    }
    subscription_grants = {
        (m.inputs["subscription"], m.inputs["role"], m.inputs["member"])
        for m in result.of_type("gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember")
    }
    assert subscription_grants == {
        ("filter-jobs-subscription-id", "roles/pubsub.subscriber", PUBSUB_AGENT),
        ("filter-jobs-subscription-id", "roles/pubsub.subscriber", MEMBER),
        ("filter-jobs-subscription-id", "roles/pubsub.viewer", MEMBER),  # readiness: get
    }
    assert result.result["url"] == (
        f"pubsub://{PROJECT}/image-processing-dev-filter-jobs/image-processing-dev-filter-jobs-sub"
    )


def test_table_is_a_native_firestore_database_scoped_by_condition(
    context: StackContext,
) -> None:
    spec = TableSpec("job-status", "t", ttl_attribute="expires_at")

    def program() -> dict:
        table = KeyValueTable("job-status", KeyValueTableArgs(context, spec))
        table.bind("web-job-status-read-write", MEMBER, "read-write", table)
        table.bind("dash-job-status-read", MEMBER, "read", table)
        return {"url": table.backend_url}

    result = run(program)
    database = result.one("gcp:firestore/database:Database").inputs
    assert database["name"] == "image-processing-dev-job-status"
    assert database["type"] == "FIRESTORE_NATIVE"
    assert database["pointInTimeRecoveryEnablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    assert database["deleteProtectionState"] == "DELETE_PROTECTION_DISABLED"
    ttl = result.one("gcp:firestore/field:Field").inputs
    assert (ttl["collection"], ttl["field"], ttl["ttlConfig"]) == ("job-status", "expires_at", {})
    assert not result.of_type("gcp:firestore/index:Index")
    expected = 'resource.name == "projects/tierstack-dev/databases/image-processing-dev-job-status"'
    grants = {m.name: m.inputs for m in result.of_type("gcp:projects/iAMMember:IAMMember")}
    assert grants["web-job-status-read-write"]["role"] == "roles/datastore.user"
    assert grants["dash-job-status-read"]["role"] == "roles/datastore.viewer"
    for grant in grants.values():
        assert grant["condition"]["expression"] == expected
        assert grant["member"] == MEMBER
    assert result.result["url"] == "firestore://job-status?database=image-processing-dev-job-status"


def test_prod_table_is_delete_protected_and_indexed_by_sort_key() -> None:
    context = context_for(
        "iot-gateway", env="prod", certificate="iot.example.com", repoRef="a" * 40
    )
    spec = TableSpec("readings", "t", partition_key="device_id", sort_key="ts")
    result = run(lambda: KeyValueTable("readings", KeyValueTableArgs(context, spec)) and None)
    database = result.one("gcp:firestore/database:Database").inputs
    assert database["deleteProtectionState"] == "DELETE_PROTECTION_ENABLED"
    assert database["deletionPolicy"] == "ABANDON"
    index = result.one("gcp:firestore/index:Index").inputs
    assert index["fields"] == [
        {"fieldPath": "device_id", "order": "ASCENDING"},
        {"fieldPath": "ts", "order": "DESCENDING"},
    ]


def secret_value(wire: object) -> object:
    """The value of an input that was sent to the engine marked secret; fails if it was not."""
    assert isinstance(wire, dict), f"sent in plain text: {wire!r}"
    assert wire.get(rpc._special_sig_key) == rpc._special_secret_sig, f"not a secret: {wire!r}"
    return wire["value"]


def _database(context: StackContext) -> tuple:
    def program() -> dict:
        network = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        db = RelationalDb(
            "drive-db", RelationalDbArgs(context, DbSpec("drive-db", "t", "drive"), network)
        )
        db.bind("web-drive-db-read-write", MEMBER, "read-write", db)
        return {
            "url": db.backend_url,
            "endpoint": db.endpoint,
            "password": db.password,
            "secret": db.password.is_secret(),
            "password_ref": db.password_ref,
            "ref_secret": db.password_ref.is_secret(),
        }

    result = run(program)
    return result, result.one("gcp:sql/databaseInstance:DatabaseInstance").inputs


def test_database_is_private_tls_only_backed_up_and_its_password_secret() -> None:
    result, instance = _database(context_for("cloud-drive"))
    settings = instance["settings"]
    assert settings["ipConfiguration"]["ipv4Enabled"] is False
    assert settings["ipConfiguration"]["privateNetwork"] == "vpc-id"
    assert settings["ipConfiguration"]["sslMode"] == "ENCRYPTED_ONLY"
    backups = settings["backupConfiguration"]
    assert backups["enabled"] is True
    assert backups["pointInTimeRecoveryEnabled"] is True
    assert backups["backupRetentionSettings"]["retainedBackups"] == 7
    assert (settings["availabilityType"], instance["deletionProtection"]) == ("ZONAL", False)
    assert instance["databaseVersion"] == "POSTGRES_16"
    assert settings["userLabels"]["app"] == "cloud-drive"
    password = "generated-drive-db-password-Zq8v"
    assert result.result["secret"] is True
    assert result.result["password"] == password
    assert (
        result.result["url"] == f"postgresql://drive_app@{DB_PRIVATE_IP}:5432/drive?sslmode=require"
    )
    assert password not in result.result["url"]
    assert secret_value(result.one("gcp:sql/user:User").inputs["password"]) == password
    version = result.one("gcp:secretmanager/secretVersion:SecretVersion").inputs
    assert version["secret"] == "drive-db-password-secret-id"
    assert secret_value(version["secretData"]) == password
    secret = result.one("gcp:secretmanager/secret:Secret").inputs
    assert secret["secretId"] == "cloud-drive-dev-drive-db-password"
    assert result.result["password_ref"] == (
        f"gcp-secretmanager://projects/{PROJECT}/secrets/cloud-drive-dev-drive-db-password"
        "/versions/latest"
    )
    assert result.result["ref_secret"] is False
    grant = result.one("gcp:secretmanager/secretIamMember:SecretIamMember").inputs
    assert (grant["secretId"], grant["role"], grant["member"]) == (
        "drive-db-password-secret-id",
        "roles/secretmanager.secretAccessor",
        MEMBER,
    )


def test_prod_database_is_regional_and_deletion_protected() -> None:
    _, instance = _database(
        context_for("cloud-drive", env="prod", certificate="d.example.com", repoRef="a" * 40)
    )
    settings = instance["settings"]
    assert settings["availabilityType"] == "REGIONAL"
    assert instance["deletionProtection"] is True
    assert settings["deletionProtectionEnabled"] is True
    assert settings["tier"] == "db-custom-2-7680"
    assert settings["backupConfiguration"]["backupRetentionSettings"]["retainedBackups"] == 14


def test_app_secret_is_a_generated_secret_kept_in_secret_manager(context: StackContext) -> None:
    def program() -> dict:
        key = AppSecret("web-session-key", AppSecretArgs(context, "session signing key"))
        key.bind("web-web-session-key-read", MEMBER, "read", key)
        return {
            "value": key.value,
            "secret": key.value.is_secret(),
            "ref": key.ref,
            "ref_secret": key.ref.is_secret(),
            "physical_name": key.physical_name,
        }

    result = run(program)
    generated = result.one("random:index/randomPassword:RandomPassword", "web-session-key-value")
    assert (generated.inputs["length"], generated.inputs["special"]) == (48, False)
    value = result.result["value"]
    assert len(value) == 48 and value.isascii() and value.isalnum()
    assert result.result["secret"] is True
    secret = result.one("gcp:secretmanager/secret:Secret").inputs
    assert secret["secretId"] == "image-processing-dev-web-session-key"
    assert secret["replication"] == {"userManaged": {"replicas": [{"location": "europe-west1"}]}}
    assert secret["labels"] == GOVERNANCE
    assert secret["annotations"] == {"description": "session signing key"}
    version = result.one("gcp:secretmanager/secretVersion:SecretVersion").inputs
    assert version["secret"] == "web-session-key-secret-id"
    assert secret_value(version["secretData"]) == value
    assert result.result["physical_name"] == "image-processing-dev-web-session-key"
    assert result.result["ref"] == (
        f"gcp-secretmanager://projects/{PROJECT}/secrets/image-processing-dev-web-session-key"
        "/versions/latest"
    )
    assert result.result["ref_secret"] is False
    assert value not in result.result["ref"]
    grant = result.one("gcp:secretmanager/secretIamMember:SecretIamMember").inputs
    assert (grant["secretId"], grant["role"], grant["member"]) == (
        "web-session-key-secret-id",
        "roles/secretmanager.secretAccessor",
        MEMBER,
    )


def test_app_secret_refuses_any_access_but_read(context: StackContext) -> None:
    def program() -> None:
        key = AppSecret("web-session-key", AppSecretArgs(context, "session signing key"))
        key.bind("bad", MEMBER, "read-write", key)

    with pytest.raises(Exception, match="app secret web-session-key: access 'read-write'"):
        run(program)


def test_notifications_topic_and_smtp_relay(context: StackContext) -> None:
    def program() -> dict:
        channel = Notifications(
            "job-done", NotificationsArgs(context, NotificationsSpec("job-done", "t"))
        )
        channel.bind("runner-job-done-publish", MEMBER, "publish", channel)
        return {"url": channel.backend_url, "name": channel.physical_name}

    result = run(program)
    assert result.result == {
        "url": "smtp://smtp-relay.gmail.com:587",
        "name": "image-processing-dev-job-done",
    }
    grant = result.one("gcp:pubsub/topicIAMMember:TopicIAMMember").inputs
    assert (grant["topic"], grant["role"]) == ("job-done-topic-id", "roles/pubsub.publisher")
