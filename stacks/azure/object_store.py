"""ObjectStore: a storage account that accepts only HTTPS/TLS 1.2 and Entra ID identities, with
one private container, blob versioning, soft delete and a lifecycle policy."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import monitor, storage

from stacks.azure.common import (
    child,
    compact_name,
    component_opts,
    grant_to,
    network_of,
)
from stacks.blueprints.model import Access
from stacks.blueprints.model import ObjectStore as ObjectStoreSpec
from stacks.common.args import ObjectStoreArgs
from stacks.common.contracts import Principal

SOFT_DELETE_DAYS = 14
BLOB_ROLES: dict[str, str] = {
    "read": "storage-blob-data-reader",
    "read-write": "storage-blob-data-contributor",
}


class ObjectStore(pulumi.ComponentResource):
    """One account per store, so a tier's role assignment reaches this store only.

    physical_name is `account/container`; backend_url is `azblob://account/container`."""

    def __init__(
        self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:ObjectStore", name, None, component_opts(opts))
        self.logical_name = name
        context, spec = args.context, args.spec
        net = network_of(args, name)
        self.network = net
        self.account_name = compact_name(context, spec.name)
        self.container_name = spec.name
        self.account = storage.StorageAccount(
            f"{name}-account",
            account_name=self.account_name,
            resource_group_name=net.resource_group_name,
            location=net.location,
            kind="StorageV2",
            sku={"name": "Standard_ZRS"},
            access_tier="Hot",
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,  # the apps use managed identities
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            encryption={
                "key_source": "Microsoft.Storage",
                "require_infrastructure_encryption": True,
                "services": {"blob": {"enabled": True, "key_type": "Account"}},
            },
            tags=context.tags,
            opts=child(self),
        )
        self.account_id: pulumi.Output[str] = self.account.id
        blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            account_name=self.account.name,
            resource_group_name=net.resource_group_name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy={"enabled": True, "days": SOFT_DELETE_DAYS},
            container_delete_retention_policy={"enabled": True, "days": SOFT_DELETE_DAYS},
            opts=child(self),
        )
        self.container = storage.BlobContainer(
            f"{name}-container",
            container_name=self.container_name,
            account_name=self.account.name,
            resource_group_name=net.resource_group_name,
            public_access="None",
            opts=child(self, depends_on=[blob_service]),
        )
        self.container_id: pulumi.Output[str] = self.container.id
        storage.ManagementPolicy(
            f"{name}-lifecycle",
            account_name=self.account.name,
            resource_group_name=net.resource_group_name,
            management_policy_name="default",
            policy={"rules": [self._lifecycle_rule(spec)]},
            opts=child(self),
        )
        monitor.DiagnosticSetting(
            f"{name}-diagnostics",
            name="to-log-analytics",
            resource_uri=self.account.id.apply(lambda i: f"{i}/blobServices/default"),
            workspace_id=net.workspace_id,
            logs=[
                {"category": c, "enabled": True}
                for c in ("StorageRead", "StorageWrite", "StorageDelete")
            ],
            metrics=[{"category": "Transaction", "enabled": True}],
            opts=child(self, depends_on=[blob_service]),
        )
        self.physical_name = pulumi.Output.concat(self.account.name, "/", self.container_name)
        self.backend_url = pulumi.Output.concat(
            "azblob://", self.account.name, "/", self.container_name
        )
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    @staticmethod
    def _lifecycle_rule(spec: ObjectStoreSpec) -> dict:
        """Old versions expire; current blobs cool down or expire as the spec says."""
        actions: dict[str, dict] = {
            "version": {
                "delete": {"days_after_creation_greater_than": spec.noncurrent_version_days}
            }
        }
        base: dict[str, dict] = {}
        if spec.archive_after_days is not None:
            base["tier_to_cool"] = {"days_after_modification_greater_than": spec.archive_after_days}
        if spec.expire_after_days is not None:
            base["delete"] = {"days_after_modification_greater_than": spec.expire_after_days}
        if base:
            actions["base_blob"] = base
        return {
            "name": "versions-and-age",
            "enabled": True,
            "type": "Lifecycle",
            "definition": {"filters": {"blob_types": ["blockBlob"]}, "actions": actions},
        }

    def grant(self, principal: Principal, access: Access) -> list[pulumi.Resource]:
        """Blob data role on this container only."""
        return grant_to(
            principal,
            access,
            label=self.container_name,
            role=BLOB_ROLES[access],
            scope=self.container_id,
            subscription_id=self.network.subscription_id,
            anchor=(self.account_name,),
        )
