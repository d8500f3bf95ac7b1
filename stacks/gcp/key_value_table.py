"""KeyValueTable: a Firestore database in native mode, one per table.

Firestore has no per-collection IAM. A database of its own per table is what lets each tier's
grant name exactly this table: `roles/datastore.user` (or `.viewer`) with an IAM condition on the
database's resource name."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.blueprints.model import Access
from stacks.common.args import KeyValueTableArgs
from stacks.gcp.common import BindingGrants, physical

ROLES: dict[str, str] = {"read": "roles/datastore.viewer", "read-write": "roles/datastore.user"}


class KeyValueTable(BindingGrants, pulumi.ComponentResource):
    """Point-in-time recovery on; delete protection (and keeping the database when the stack is
    destroyed) in prod. Items live in the collection named after the table; its TTL attribute
    becomes a Firestore TTL policy, its sort key a composite index (newest first)."""

    def __init__(
        self, name: str, args: KeyValueTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:KeyValueTable", name, None, opts)
        context, spec = args.context, args.spec
        child = pulumi.ResourceOptions(parent=self)
        prod = context.settings.is_prod
        self.logical_name = name
        self.collection = spec.name
        self.database_id = physical(context, spec.name)
        self.database = gcp.firestore.Database(
            f"{name}-database",
            name=self.database_id,
            location_id=context.settings.region,
            type="FIRESTORE_NATIVE",
            concurrency_mode="OPTIMISTIC",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
            delete_protection_state=(
                "DELETE_PROTECTION_ENABLED" if prod else "DELETE_PROTECTION_DISABLED"
            ),
            deletion_policy="ABANDON" if prod else "DELETE",
            opts=child,
        )
        field_changes: list[pulumi.Resource] = []
        if spec.ttl_attribute:
            ttl_field = gcp.firestore.Field(
                f"{name}-ttl",
                database=self.database.name,
                collection=self.collection,
                field=spec.ttl_attribute,
                ttl_config={},
                opts=child,
            )
            field_changes.append(ttl_field)
        if spec.sort_key:
            gcp.firestore.Index(
                f"{name}-by-key-and-sort",
                database=self.database.name,
                collection=self.collection,
                query_scope="COLLECTION",
                fields=[
                    {"field_path": spec.partition_key, "order": "ASCENDING"},
                    {"field_path": spec.sort_key, "order": "DESCENDING"},
                ],
                # Index and field changes created together contend on the database's index
                # metadata and answer 409 ("cross-transaction contention"); the provider only
                # retries some of them (terraform-provider-google #16599, #16329): one at a time.
                opts=pulumi.ResourceOptions(parent=self, depends_on=field_changes),
            )
        self.project = context.settings.gcp_project
        self.resource_name = f"projects/{self.project}/databases/{self.database_id}"
        """What IAM conditions compare `resource.name` with."""
        self.physical_name: pulumi.Output[str] = self.database.name
        collection = self.collection
        self.backend_url: pulumi.Output[str] = self.database.name.apply(
            lambda database: f"firestore://{collection}?database={database}"
        )
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def bind(
        self, name: str, member: pulumi.Input[str], access: Access, parent: pulumi.Resource
    ) -> list[pulumi.CustomResource]:
        """A project-level Firestore role, valid only on this table's database."""
        self.require_access("table", access, ROLES)
        return [
            gcp.projects.IAMMember(
                name,
                project=self.project,
                role=ROLES[access],
                member=member,
                condition={
                    "title": f"only {self.database_id}"[:100],
                    "description": "Firestore has no per-collection IAM: scoped to the database",
                    "expression": f'resource.name == "{self.resource_name}"',
                },
                opts=pulumi.ResourceOptions(parent=parent),
            )
        ]
