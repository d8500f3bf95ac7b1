"""ObjectStore: a private S3 bucket (public access block, SSE-KMS, versioning, lifecycle,
TLS-only policy, ACLs off)."""

from __future__ import annotations

from typing import Any

import pulumi

from stacks.aws.buckets import secure_bucket, version_rules
from stacks.aws.common import StatementGrants, allow
from stacks.common.args import ObjectStoreArgs

READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"]
WRITE_ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]


class ObjectStore(StatementGrants, pulumi.ComponentResource):
    """One bucket; grants name exactly this bucket and its objects."""

    arn: pulumi.Output[str]
    physical_name: pulumi.Output[str]
    backend_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:ObjectStore", name, None, opts)
        self.logical_name = name
        spec = args.spec
        bucket = secure_bucket(
            self,
            name,
            args.context,
            lifecycle_rules=version_rules(
                spec.noncurrent_version_days, spec.archive_after_days, spec.expire_after_days
            ),
        )
        self.arn = bucket.arn
        self.physical_name = bucket.bucket
        self.backend_url = bucket.bucket.apply(lambda bucket_name: f"s3://{bucket_name}")
        self.register_outputs(
            {"arn": self.arn, "physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def policy_statements(self, access: str) -> pulumi.Output[list[dict[str, Any]]]:
        """IAM statements for a tier: list the bucket, read (and write) its objects."""
        actions = READ_ACTIONS + (WRITE_ACTIONS if access == "read-write" else [])
        return self.arn.apply(
            lambda arn: [
                allow(["s3:ListBucket"], [arn]),
                allow(actions, [f"{arn}/*"]),
            ]
        )
