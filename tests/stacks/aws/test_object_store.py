"""ObjectStore, Queue, KeyValueTable, RelationalDb and Notifications, each in a small program."""

from __future__ import annotations

import json

import pulumi

from stacks.aws import KeyValueTable, Notifications, ObjectStore, Queue, RelationalDb
from stacks.blueprints import model
from stacks.common.args import (
    KeyValueTableArgs,
    NotificationsArgs,
    ObjectStoreArgs,
    QueueArgs,
    RelationalDbArgs,
)
from tests.stacks.aws.conftest import ACCOUNT, MOCK_DB_PASSWORD, REGION, computed
from tests.stacks.aws.support import document, is_secret, network
from tests.stacks.harness import run_pulumi

GOVERNANCE = {"project", "app", "env", "owner", "cost-center"}


def test_object_store_is_private_encrypted_versioned_and_tls_only(context):
    spec = model.ObjectStore("images", "test", noncurrent_version_days=30, archive_after_days=90)

    def program():
        store = ObjectStore("images", ObjectStoreArgs(context, spec))
        return {"name": store.physical_name, "url": store.backend_url}

    run = run_pulumi(program, computed=computed)
    bucket_name = "image-processing-dev-images-20260101abcdef"
    assert run.result == {"name": bucket_name, "url": f"s3://{bucket_name}"}
    bucket = run.one("aws:s3/bucket:Bucket")
    assert bucket.inputs["bucketPrefix"] == "image-processing-dev-images-"
    assert set(bucket.inputs["tags"]) >= GOVERNANCE
    block = run.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True, flag
    sse = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    rule = sse.inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["bucketKeyEnabled"] is True
    versioning = run.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    ownership = run.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    rules = {
        r["id"]: r
        for r in run.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs[
            "rules"
        ]
    }
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {
        "noncurrentDays": 30
    }
    assert rules["archive-current-objects"]["transitions"] == [
        {"days": 90, "storageClass": "GLACIER_IR"}
    ]
    assert "expire-current-objects" not in rules
    policy = document(run.one("aws:s3/bucketPolicy:BucketPolicy"))
    [deny] = policy["Statement"]
    arn = f"arn:aws:s3:::{bucket_name}"
    assert deny["Effect"] == "Deny"
    assert deny["Resource"] == [arn, f"{arn}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_object_store_grants_only_its_bucket(context):
    def program():
        store = ObjectStore("docs", ObjectStoreArgs(context, model.ObjectStore("docs", "t")))
        return {
            "read": store.policy_statements("read"),
            "rw": store.policy_statements("read-write"),
        }

    run = run_pulumi(program, computed=computed)
    arn = "arn:aws:s3:::image-processing-dev-docs-20260101abcdef"
    read, read_write = run.result["read"], run.result["rw"]
    assert read[0] == {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [arn]}
    assert read[1]["Resource"] == [f"{arn}/*"]
    assert "s3:PutObject" not in read[1]["Action"]
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= set(read_write[1]["Action"])


def test_queue_has_encrypted_dead_letter_queue_with_redrive(context):
    spec = model.Queue("jobs", "t", visibility_timeout_seconds=300, max_deliveries=4)

    def program():
        queue = Queue("jobs", QueueArgs(context, spec))
        return {"url": queue.backend_url, "publish": queue.policy_statements("publish")}

    run = run_pulumi(program, computed=computed)
    assert run.result["url"] == "sqs://image-processing-dev-jobs"
    main, dead = run.one("aws:sqs/queue:Queue", "jobs"), run.one("aws:sqs/queue:Queue", "jobs-dlq")
    dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:image-processing-dev-jobs-dlq"
    assert json.loads(main.inputs["redrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 4,
    }
    assert main.inputs["visibilityTimeoutSeconds"] == 300
    assert main.inputs["sqsManagedSseEnabled"] is True
    assert dead.inputs["sqsManagedSseEnabled"] is True
    allow = json.loads(
        run.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy").inputs["redriveAllowPolicy"]
    )
    assert allow == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [f"arn:aws:sqs:{REGION}:{ACCOUNT}:image-processing-dev-jobs"],
    }
    for queue_policy in run.of_type("aws:sqs/queuePolicy:QueuePolicy"):
        [deny] = document(queue_policy)["Statement"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [publish] = run.result["publish"]
    assert publish["Resource"] == [f"arn:aws:sqs:{REGION}:{ACCOUNT}:image-processing-dev-jobs"]
    assert "sqs:ReceiveMessage" not in publish["Action"]


def test_key_value_table_has_pitr_encryption_and_keys(prod_context):
    spec = model.KeyValueTable("readings", "t", "device_id", sort_key="ts", ttl_attribute="exp")

    def program():
        table = KeyValueTable("readings", KeyValueTableArgs(prod_context, spec))
        return {"url": table.backend_url, "read": table.policy_statements("read")}

    run = run_pulumi(program, computed=computed)
    # The backend reads the key schema from the table; the TTL attribute it must write and the
    # item lifetime travel in the URL (DynamoDB expires only items that carry the attribute).
    assert run.result["url"] == "dynamodb://image-processing-prod-readings?ttl=exp&ttl_days=30"
    table = run.one("aws:dynamodb/table:Table").inputs
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}
    assert table["deletionProtectionEnabled"] is True
    assert (table["hashKey"], table["rangeKey"]) == ("device_id", "ts")
    assert table["ttl"] == {"attributeName": "exp", "enabled": True}
    [read] = run.result["read"]
    assert read["Resource"] == [
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/image-processing-prod-readings"
    ]
    assert not any(
        action.startswith(("dynamodb:Put", "dynamodb:Delete")) for action in read["Action"]
    )


def _database(context):
    def program():
        db = RelationalDb(
            "drive-db",
            RelationalDbArgs(
                context, model.RelationalDb("drive-db", "t", "drive"), network(context)
            ),
        )
        return {
            "endpoint": db.endpoint,
            "url": db.backend_url,
            "password_is_secret": pulumi.Output.from_input(db.password.is_secret()),
            "grant": db.policy_statements("read-write"),
        }

    return run_pulumi(program, computed=computed)


def test_relational_db_private_encrypted_with_secret_password(context):
    run = _database(context)
    host = f"image-processing-dev-drive-db.c0ffee.{REGION}.rds.amazonaws.com"
    assert run.result["endpoint"] == host
    assert run.result["url"] == f"postgresql://tierstack@{host}:5432/drive?sslmode=require"
    assert MOCK_DB_PASSWORD not in run.result["url"]
    assert run.result["password_is_secret"] is True
    db = run.one("aws:rds/instance:Instance").inputs
    assert db["publiclyAccessible"] is False
    assert db["storageEncrypted"] is True
    assert db["engine"] == "postgres" and db["engineVersion"] == "16"
    assert db["backupRetentionPeriod"] == 7
    assert (db["multiAz"], db["deletionProtection"], db["skipFinalSnapshot"]) == (
        False,
        False,
        True,
    )
    assert is_secret(db["password"])
    subnets = run.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]
    assert subnets == ["network-private-0-id", "network-private-1-id"]
    params = run.one("aws:rds/parameterGroup:ParameterGroup").inputs
    assert params["family"] == "postgres16"
    assert {"name": "rds.force_ssl", "value": "1"} in params["parameters"]
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion").inputs["secretString"]
    assert is_secret(version)
    assert json.loads(version["value"])["password"] == MOCK_DB_PASSWORD
    group = run.one("aws:ec2/securityGroup:SecurityGroup", "drive-db").inputs
    assert "ingress" not in group or not group["ingress"]
    [grant] = run.result["grant"]
    assert grant["Resource"] == [
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
        "tierstack/image-processing-dev-drive-db/master-AbCdEf"
    ]


def test_relational_db_prod_is_multi_az_and_protected(prod_context):
    db = _database(prod_context).one("aws:rds/instance:Instance").inputs
    assert db["multiAz"] is True
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"] == "image-processing-prod-drive-db-final"
    assert db["instanceClass"] == "db.m6g.large"
    assert db["backupRetentionPeriod"] == 14


def test_notifications_topic_is_encrypted_and_grant_is_scoped(context):
    def program():
        channel = Notifications(
            "job-done", NotificationsArgs(context, model.Notifications("job-done", "t"))
        )
        return {"url": channel.backend_url, "grant": channel.policy_statements("publish")}

    run = run_pulumi(program, computed=computed)
    assert run.result["url"] == f"ses://{REGION}"
    assert run.one("aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == "alias/aws/sns"
    config_set = run.one("aws:sesv2/configurationSet:ConfigurationSet").inputs
    assert config_set["deliveryOptions"] == {"tlsPolicy": "REQUIRE"}
    publish, mail = run.result["grant"]
    assert publish["Resource"] == [f"arn:aws:sns:{REGION}:{ACCOUNT}:image-processing-dev-job-done"]
    assert mail["Resource"] == [
        f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/image-processing-dev-job-done",
        f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/*",
    ]
