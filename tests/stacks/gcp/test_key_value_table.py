"""KeyValueTable: the table's resolved inputs and its grants."""

from __future__ import annotations

from stacks.blueprints.model import KeyValueTable as TableSpec
from stacks.common.args import KeyValueTableArgs, StackContext
from stacks.gcp import KeyValueTable
from tests.stacks.gcp.conftest import context_for, run

MEMBER = "serviceAccount:tier@tierstack-dev.iam.gserviceaccount.com"


def test_table_is_a_native_firestore_database_scoped_by_condition(
    context: StackContext,
) -> None:
    spec = TableSpec("job-status", "t", ttl_attribute="expires_at")

    def program() -> dict:
        table = KeyValueTable("job-status", KeyValueTableArgs(context, spec))
        table.bind("web-job-status-read-write", MEMBER, "read-write", table)
        table.bind("dash-job-status-read", MEMBER, "read", table)
        return {"url": table.backend_url}

    result = run(program)
    database = result.one("gcp:firestore/database:Database").inputs
    assert database["name"] == "image-processing-dev-job-status"
    assert database["type"] == "FIRESTORE_NATIVE"
    assert database["pointInTimeRecoveryEnablement"] == "POINT_IN_TIME_RECOVERY_ENABLED"
    assert database["deleteProtectionState"] == "DELETE_PROTECTION_DISABLED"
    ttl = result.one("gcp:firestore/field:Field").inputs
    assert (ttl["collection"], ttl["field"], ttl["ttlConfig"]) == ("job-status", "expires_at", {})
    assert not result.of_type("gcp:firestore/index:Index")
    expected = 'resource.name == "projects/tierstack-dev/databases/image-processing-dev-job-status"'
    grants = {m.name: m.inputs for m in result.of_type("gcp:projects/iAMMember:IAMMember")}
    assert grants["web-job-status-read-write"]["role"] == "roles/datastore.user"
    assert grants["dash-job-status-read"]["role"] == "roles/datastore.viewer"
    for grant in grants.values():
        assert grant["condition"]["expression"] == expected
        assert grant["member"] == MEMBER
    assert result.result["url"] == "firestore://job-status?database=image-processing-dev-job-status"


def test_prod_table_is_delete_protected_and_indexed_by_sort_key() -> None:
    context = context_for(
        "iot-gateway", env="prod", certificate="iot.example.com", repoRef="a" * 40
    )
    spec = TableSpec("readings", "t", partition_key="device_id", sort_key="ts")
    result = run(lambda: KeyValueTable("readings", KeyValueTableArgs(context, spec)) and None)
    database = result.one("gcp:firestore/database:Database").inputs
    assert database["deleteProtectionState"] == "DELETE_PROTECTION_ENABLED"
    assert database["deletionPolicy"] == "ABANDON"
    index = result.one("gcp:firestore/index:Index").inputs
    assert index["fields"] == [
        {"fieldPath": "device_id", "order": "ASCENDING"},
        {"fieldPath": "ts", "order": "DESCENDING"},
    ]
