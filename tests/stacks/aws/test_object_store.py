"""ObjectStore: resolved inputs of the bucket/account it declares and its grants."""

from __future__ import annotations

from stacks.aws import ObjectStore
from stacks.blueprints import model
from stacks.common.args import ObjectStoreArgs
from tests.stacks.aws.conftest import computed
from tests.stacks.aws.support import document
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
