"""KeyValueTable: a Cosmos DB account for Table, reachable only through a private endpoint in
the VNet, Entra ID only (no account keys), continuous backup, TLS 1.2."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import cosmosdb, monitor

from stacks.azure.common import (
    COSMOS_TABLE_ROLES,
    child,
    component_opts,
    dashed_name,
    network_of,
    stable_guid,
)
from stacks.azure.private_endpoint import PrivateEndpoint, PrivateEndpointArgs
from stacks.blueprints.model import Access
from stacks.common.args import KeyValueTableArgs
from stacks.common.contracts import Principal

PRIVATE_DNS_ZONE = "privatelink.table.cosmos.azure.com"


class KeyValueTable(pulumi.ComponentResource):
    """One account per table, so a tier's data-plane role on the account reaches this table only.

    physical_name is `account/table`; backend_url is `aztable://account/table?service=cosmos`
    (the Cosmos DB Table endpoint, not Azure Storage tables). Item expiry
    (the spec's ttl attribute) is enforced by the apps: Cosmos Table has no per-item TTL."""

    def __init__(
        self, name: str, args: KeyValueTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:KeyValueTable", name, None, component_opts(opts))
        self.logical_name = name
        context, spec = args.context, args.spec
        settings = context.settings
        net = network_of(args, name)
        self.network = net
        self.account_name = dashed_name(context, f"{spec.name}-cosmos", max_length=44)
        self.table_name = "".join(part.title() for part in spec.name.split("-"))  # alnum only
        self.account = cosmosdb.DatabaseAccount(
            f"{name}-account",
            account_name=self.account_name,
            resource_group_name=net.resource_group_name,
            location=net.location,
            kind="GlobalDocumentDB",
            database_account_offer_type="Standard",
            capabilities=[{"name": "EnableTable"}],
            locations=[
                {
                    "location_name": net.location,
                    "failover_priority": 0,
                    "is_zone_redundant": settings.is_prod,
                }
            ],
            consistency_policy={"default_consistency_level": "Session"},
            backup_policy={
                "type": "Continuous",
                "continuous_mode_properties": {"tier": "Continuous7Days"},
            },
            disable_local_auth=True,
            disable_key_based_metadata_write_access=True,
            public_network_access="Disabled",
            minimal_tls_version="Tls12",
            tags=context.tags,
            opts=child(self),
        )
        self.account_id: pulumi.Output[str] = self.account.id
        self.table = cosmosdb.TableResourceTable(
            f"{name}-table",
            table_name=self.table_name,
            account_name=self.account.name,
            resource_group_name=net.resource_group_name,
            resource={"id": self.table_name},
            opts=child(self),
        )
        self.endpoint = PrivateEndpoint(
            f"{name}-endpoint",
            PrivateEndpointArgs(
                network=net,
                endpoint_name=f"{context.prefix}-{spec.name}-table-pe",
                target_id=self.account.id,
                sub_resource="Table",
                connection_name="table",
                dns_zone=PRIVATE_DNS_ZONE,
                tags=context.tags,
            ),
            opts=child(self),
        )
        monitor.DiagnosticSetting(
            f"{name}-diagnostics",
            name="to-log-analytics",
            resource_uri=self.account.id,
            workspace_id=net.workspace_id,
            log_analytics_destination_type="Dedicated",
            logs=[{"category_group": "allLogs", "enabled": True}],
            metrics=[{"category": "Requests", "enabled": True}],
            opts=child(self),
        )
        self.physical_name = pulumi.Output.concat(self.account.name, "/", self.table_name)
        self.backend_url = pulumi.Output.concat(
            "aztable://", self.account.name, "/", self.table_name, "?service=cosmos"
        )
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def grant(self, principal: Principal, access: Access) -> list[pulumi.Resource]:
        """Cosmos DB built-in data Reader or Contributor (data plane RBAC) on this account."""
        role = COSMOS_TABLE_ROLES[access]
        return [
            cosmosdb.TableResourceTableRoleAssignment(
                f"{principal.name}-{self.table_name.lower()}-{access}",
                role_assignment_id=stable_guid(principal.name, self.account_name, role),
                account_name=self.account.name,
                resource_group_name=self.network.resource_group_name,
                principal_id=principal.id,
                role_definition_id=self.account_id.apply(
                    lambda account: f"{account}/tableRoleDefinitions/{role}"
                ),
                scope=self.account_id,
                opts=child(principal.parent),
            )
        ]
