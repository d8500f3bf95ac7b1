"""KeyValueTable: an on-demand DynamoDB table with point-in-time recovery and KMS encryption."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from stacks.aws.common import StatementGrants, allow, child, tags
from stacks.common.args import KeyValueTableArgs

READ_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:DescribeTable",
]
WRITE_ACTIONS = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
]

ITEM_TTL_DAYS = 30
"""On a table with a TTL attribute, an item not written for this long expires."""


class KeyValueTable(StatementGrants, pulumi.ComponentResource):
    """Pay per request: idle dev stacks cost nothing, bursts need no capacity planning."""

    arn: pulumi.Output[str]
    physical_name: pulumi.Output[str]
    backend_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: KeyValueTableArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:KeyValueTable", name, None, opts)
        self.logical_name = name
        context, spec = args.context, args.spec
        attributes = [{"name": spec.partition_key, "type": "S"}]
        if spec.sort_key:
            attributes.append({"name": spec.sort_key, "type": "S"})
        table = aws.dynamodb.Table(
            name,
            name=f"{context.prefix}-{spec.name}",
            billing_mode="PAY_PER_REQUEST",
            hash_key=spec.partition_key,
            range_key=spec.sort_key,
            attributes=attributes,
            ttl=(
                {"attribute_name": spec.ttl_attribute, "enabled": True}
                if spec.ttl_attribute
                else None
            ),
            point_in_time_recovery={"enabled": True},
            # Enabled without a key ARN: the AWS-managed aws/dynamodb KMS key.
            server_side_encryption={"enabled": True},
            deletion_protection_enabled=context.settings.sizing.deletion_protection,
            tags=tags(context, spec.name),
            opts=child(self),
        )
        self.arn = table.arn
        self.physical_name = table.name
        # The backend reads the key schema from the table itself; the TTL it must write is
        # named here (DynamoDB's TTL deletes only items that carry the attribute).
        expiry = f"?ttl={spec.ttl_attribute}&ttl_days={ITEM_TTL_DAYS}" if spec.ttl_attribute else ""
        self.backend_url = table.name.apply(lambda table_name: f"dynamodb://{table_name}{expiry}")
        self.register_outputs(
            {"arn": self.arn, "physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def policy_statements(self, access: str) -> pulumi.Output[list[dict[str, Any]]]:
        """Item-level actions on this table only (no table management)."""
        actions = READ_ACTIONS + (WRITE_ACTIONS if access == "read-write" else [])
        return self.arn.apply(lambda arn: [allow(actions, [arn])])
