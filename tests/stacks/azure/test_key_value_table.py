"""KeyValueTable: the table's resolved inputs and its grants."""

from __future__ import annotations

from stacks.azure import KeyValueTable
from stacks.blueprints.model import KeyValueTable as TableSpec
from stacks.common.args import KeyValueTableArgs
from tests.stacks.azure.conftest import make_context, with_network


def test_table_is_private_keyless_with_continuous_backup(run_azure):
    context = make_context()
    spec = TableSpec("job-status", "status")

    def build(net):
        return KeyValueTable(
            "job-status", KeyValueTableArgs(context, spec, network=net)
        ).backend_url

    run = run_azure(with_network(context, build))
    account = run.one("azure-native:cosmosdb:DatabaseAccount").inputs
    assert account["capabilities"] == [{"name": "EnableTable"}]
    assert account["publicNetworkAccess"] == "Disabled"
    assert account["disableLocalAuth"] is True
    assert account["minimalTlsVersion"] == "Tls12"
    assert account["backupPolicy"]["type"] == "Continuous"
    table = run.one("azure-native:cosmosdb:TableResourceTable").inputs
    assert table["resource"] == {"id": "JobStatus"}
    assert run.result == f"aztable://{account['accountName']}/JobStatus?service=cosmos"
    endpoint = run.one("azure-native:network:PrivateEndpoint").inputs
    assert endpoint["subnet"] == {"id": "network-endpoints-id"}
    connection = endpoint["privateLinkServiceConnections"][0]
    assert connection["groupIds"] == ["Table"]
    assert connection["privateLinkServiceId"] == "job-status-account-id"
    zone = run.one("azure-native:privatedns:PrivateZone")
    assert zone.inputs["privateZoneName"] == "privatelink.table.cosmos.azure.com"
    group = run.one("azure-native:network:PrivateDnsZoneGroup").inputs
    assert group["privateDnsZoneConfigs"][0]["privateDnsZoneId"] == f"{zone.name}-id"


def test_private_endpoint_keeps_the_urns_it_had_as_the_tables_own_children(run_azure):
    """The endpoint and its zone group moved under a PrivateEndpoint component; their aliases
    name the URNs they had directly under the table, so a deployed stack adopts them in place
    (a replaced endpoint would drop the table's only network path)."""
    context = make_context()
    spec = TableSpec("job-status", "status")
    run = run_azure(
        with_network(
            context,
            lambda net: KeyValueTable("job-status", KeyValueTableArgs(context, spec, network=net)),
        )
    )
    table = run.one("tierstack:azure:KeyValueTable")
    component = run.one("tierstack:azure:PrivateEndpoint", "job-status-endpoint")
    assert component.parent_urn == table.urn
    moved = {
        "azure-native:network:PrivateEndpoint": "job-status-endpoint",
        "azure-native:network:PrivateDnsZoneGroup": "job-status-endpoint-dns",
    }
    for type_, name in moved.items():
        resource = run.one(type_, name)
        assert resource.parent_urn == component.urn
        # The engine's URN for the table's own child (the root stack's type is not in it).
        before = f"urn:pulumi:test::tierstack::tierstack:azure:KeyValueTable${type_}::{name}"
        assert resource.aliases == [before]
