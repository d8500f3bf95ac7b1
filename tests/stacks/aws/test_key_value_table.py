"""KeyValueTable: the table's resolved inputs and its grants."""

from __future__ import annotations

from stacks.aws import KeyValueTable
from stacks.blueprints import model
from stacks.common.args import KeyValueTableArgs
from tests.stacks.aws.conftest import ACCOUNT, REGION, computed
from tests.stacks.harness import run_pulumi


def test_key_value_table_has_pitr_encryption_and_keys(prod_context):
    spec = model.KeyValueTable("readings", "t", "device_id", sort_key="ts", ttl_attribute="exp")

    def program():
        table = KeyValueTable("readings", KeyValueTableArgs(prod_context, spec))
        return {"url": table.backend_url, "read": table.policy_statements("read")}

    run = run_pulumi(program, computed=computed)
    # The backend reads the key schema from the table; the TTL attribute it must write and the
    # item lifetime travel in the URL (DynamoDB expires only items that carry the attribute).
    assert run.result["url"] == "dynamodb://image-processing-prod-readings?ttl=exp&ttl_days=30"
    table = run.one("aws:dynamodb/table:Table").inputs
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}
    assert table["deletionProtectionEnabled"] is True
    assert (table["hashKey"], table["rangeKey"]) == ("device_id", "ts")
    assert table["ttl"] == {"attributeName": "exp", "enabled": True}
    [read] = run.result["read"]
    assert read["Resource"] == [
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/image-processing-prod-readings"
    ]
    assert not any(
        action.startswith(("dynamodb:Put", "dynamodb:Delete")) for action in read["Action"]
    )
