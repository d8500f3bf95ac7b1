"""ObjectStore: a private Cloud Storage bucket (IAM only, public access prevented, versioned,
lifecycle-managed)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from stacks.blueprints.model import Access
from stacks.common.args import ObjectStoreArgs
from stacks.gcp.common import BindingGrants, fit, labels

ROLES: dict[str, str] = {
    "read": "roles/storage.objectViewer",
    "read-write": "roles/storage.objectUser",
}
"""objectUser reads, writes and deletes objects but, unlike objectAdmin, cannot change IAM."""
BUCKET_METADATA_ROLE = "roles/storage.legacyBucketReader"
"""storage.buckets.get (and objects.list): the apps' readiness check reads the bucket's metadata
(buckets.get), which neither object role grants."""
INCOMPLETE_UPLOAD_DAYS = 7


def lifecycle_rules(
    noncurrent_days: int, archive_days: int | None, expire_days: int | None
) -> list[dict[str, Any]]:
    """Old versions expire, abandoned multipart uploads are aborted, and optionally current
    objects move to Nearline or are deleted."""
    rules: list[dict[str, Any]] = [
        {
            "action": {"type": "Delete"},
            "condition": {"days_since_noncurrent_time": noncurrent_days, "with_state": "ARCHIVED"},
        },
        {
            "action": {"type": "AbortIncompleteMultipartUpload"},
            "condition": {"age": INCOMPLETE_UPLOAD_DAYS},
        },
    ]
    if archive_days is not None:
        rules.append(
            {
                "action": {"type": "SetStorageClass", "storage_class": "NEARLINE"},
                "condition": {
                    "age": archive_days,
                    "with_state": "LIVE",
                    "matches_storage_classes": ["STANDARD"],
                },
            }
        )
    if expire_days is not None:
        rules.append(
            {"action": {"type": "Delete"}, "condition": {"age": expire_days, "with_state": "LIVE"}}
        )
    return rules


class ObjectStore(BindingGrants, pulumi.ComponentResource):
    """Bucket names are global, so the name carries the project id as well as the stack prefix."""

    def __init__(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:ObjectStore", name, None, opts)
        context, spec = args.context, args.spec
        self.logical_name = name
        self.bucket_name = fit(f"{context.settings.gcp_project}-{context.prefix}-{spec.name}")
        self.bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=self.bucket_name,
            location=context.settings.region.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            soft_delete_policy={"retention_duration_seconds": 7 * 24 * 3600},
            lifecycle_rules=lifecycle_rules(
                spec.noncurrent_version_days, spec.archive_after_days, spec.expire_after_days
            ),
            force_destroy=False,
            labels=labels(context, purpose=fit(spec.name)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.physical_name: pulumi.Output[str] = self.bucket.name
        self.backend_url: pulumi.Output[str] = self.bucket.name.apply(lambda b: f"gs://{b}")
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def bind(
        self, name: str, member: pulumi.Input[str], access: Access, parent: pulumi.Resource
    ) -> list[pulumi.CustomResource]:
        """Binds `member` on this bucket only, with the narrowest role for `access`, plus
        reading the bucket's own metadata for the readiness check."""
        self.require_access("object store", access, ROLES)
        return [
            gcp.storage.BucketIAMMember(
                binding,
                bucket=self.bucket.name,
                role=role,
                member=member,
                opts=pulumi.ResourceOptions(parent=parent),
            )
            for binding, role in ((name, ROLES[access]), (f"{name}-metadata", BUCKET_METADATA_ROLE))
        ]
