"""ObjectStore: resolved inputs of the bucket/account it declares and its grants."""

from __future__ import annotations

import pytest

from stacks.blueprints.model import ObjectStore as StoreSpec
from stacks.common.args import ObjectStoreArgs, StackContext
from stacks.gcp import ObjectStore
from tests.stacks.gcp.conftest import run

MEMBER = "serviceAccount:tier@tierstack-dev.iam.gserviceaccount.com"
GOVERNANCE = {
    "project": "tierstack",
    "app": "image-processing",
    "env": "dev",
    "owner": "platform-team",
    "cost-center": "unassigned",
}


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
