"""ObjectStore: resolved inputs of the bucket/account it declares and its grants."""

from __future__ import annotations

from stacks.azure import ObjectStore
from stacks.blueprints.model import ObjectStore as StoreSpec
from stacks.common.args import ObjectStoreArgs
from tests.stacks.azure.conftest import make_context, with_network

TAGS = {
    "project": "tierstack",
    "app": "image-processing",
    "env": "dev",
    "owner": "platform-team",
    "cost-center": "unassigned",
}


def test_object_store_is_identity_only_tls12_versioned(run_azure):
    context = make_context()
    spec = StoreSpec("images", "originals", noncurrent_version_days=30, archive_after_days=60)

    def build(net):
        store = ObjectStore("images", ObjectStoreArgs(context, spec, network=net))
        return {"url": store.backend_url, "name": store.physical_name}

    run = run_azure(with_network(context, build))
    account = run.one("azure-native:storage:StorageAccount").inputs
    assert account["enableHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["tags"] == TAGS
    name = account["accountName"]
    assert name.isalnum() and name.islower() and 3 <= len(name) <= 24
    service = run.one("azure-native:storage:BlobServiceProperties").inputs
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"] == {"enabled": True, "days": 14}
    assert service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 14}
    assert run.one("azure-native:storage:BlobContainer").inputs["publicAccess"] == "None"
    rule = run.one("azure-native:storage:ManagementPolicy").inputs["policy"]["rules"][0]
    actions = rule["definition"]["actions"]
    assert actions["version"] == {"delete": {"daysAfterCreationGreaterThan": 30}}
    assert actions["baseBlob"] == {"tierToCool": {"daysAfterModificationGreaterThan": 60}}
    assert run.result == {"url": f"azblob://{name}/images", "name": f"{name}/images"}
    diagnostics = run.one("azure-native:monitor:DiagnosticSetting").inputs
    assert diagnostics["resourceUri"] == "images-account-id/blobServices/default"
    assert diagnostics["workspaceId"] == "network-logs-id"
