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
