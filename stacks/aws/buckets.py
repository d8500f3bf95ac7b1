"""The secure S3 bucket every component builds on: private, encrypted, versioned, lifecycled,
TLS-only. ObjectStore and the load balancer's access-log bucket share it."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws

from stacks.aws.common import child, deny_insecure_transport, policy_json, tags
from stacks.common.args import StackContext

MAX_BUCKET_PREFIX = 37
"""S3 appends a 26-character unique suffix to a bucket_prefix; names stop at 63."""
ABORT_UPLOADS_DAYS = 7

ExtraStatements = Callable[[str], list[dict[str, Any]]]
"""Given the bucket ARN, further policy statements (e.g. log delivery)."""


bucket_policies: weakref.WeakKeyDictionary[aws.s3.Bucket, aws.s3.BucketPolicy] = (
    weakref.WeakKeyDictionary()
)
"""Each bucket's policy, for resources that can be created only once the policy is in place."""


def secure_bucket(
    parent: pulumi.Resource,
    name: str,
    context: StackContext,
    *,
    lifecycle_rules: list[dict[str, Any]],
    sse_algorithm: str = "aws:kms",
    extra_statements: ExtraStatements | None = None,
) -> aws.s3.Bucket:
    """Declares the bucket and its guard rails under `parent`; returns the bucket."""
    prefix = f"{context.prefix}-{name}"[: MAX_BUCKET_PREFIX - 1].rstrip("-") + "-"
    bucket = aws.s3.Bucket(
        name,
        bucket_prefix=prefix,
        force_destroy=not context.settings.is_prod,
        tags=tags(context, name),
        opts=child(parent),
    )
    block = aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child(parent),
    )
    # BucketOwnerEnforced switches ACLs off: access is decided by policies alone.
    aws.s3.BucketOwnershipControls(
        name,
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=child(parent),
    )
    default_encryption: dict[str, Any] = {"sse_algorithm": sse_algorithm}
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": default_encryption,
                "bucket_key_enabled": sse_algorithm == "aws:kms",
            }
        ],
        opts=child(parent),
    )
    versioning = aws.s3.BucketVersioning(
        name,
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=child(parent),
    )
    aws.s3.BucketLifecycleConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            {
                "id": "abort-incomplete-uploads",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_UPLOADS_DAYS},
            },
            *lifecycle_rules,
        ],
        opts=child(parent, depends_on=[versioning]),
    )

    def document(arn: str) -> str:
        statements = [deny_insecure_transport([arn, f"{arn}/*"])]
        statements += extra_statements(arn) if extra_statements else []
        return policy_json(statements)

    # After the public access block, or S3 may judge the policy before the block exists.
    policy = aws.s3.BucketPolicy(
        name,
        bucket=bucket.id,
        policy=bucket.arn.apply(document),
        opts=child(parent, depends_on=[block]),
    )
    # Who writes into the bucket under this policy (ALB log delivery) must wait for it.
    bucket_policies[bucket] = policy
    return bucket


def version_rules(
    noncurrent_days: int, archive_days: int | None, expire_days: int | None
) -> list[dict[str, Any]]:
    """Lifecycle rules for the ObjectStore's retention settings."""
    rules: list[dict[str, Any]] = [
        {
            "id": "expire-noncurrent-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days},
        }
    ]
    if archive_days is not None:
        rules.append(
            {
                "id": "archive-current-objects",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "transitions": [{"days": archive_days, "storage_class": "GLACIER_IR"}],
            }
        )
    if expire_days is not None:
        rules.append(
            {
                "id": "expire-current-objects",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "expiration": {"days": expire_days},
            }
        )
    return rules
