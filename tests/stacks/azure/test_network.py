"""Network, ObjectStore, Queue, KeyValueTable: resolved inputs of every resource they declare."""

from __future__ import annotations

import ipaddress

import pytest

from stacks.azure import KeyValueTable, Network, ObjectStore, Queue
from stacks.azure.common import stack_network
from stacks.blueprints.model import KeyValueTable as TableSpec
from stacks.blueprints.model import ObjectStore as StoreSpec
from stacks.blueprints.model import Queue as QueueSpec
from stacks.common.args import KeyValueTableArgs, NetworkArgs, ObjectStoreArgs, QueueArgs
from tests.stacks.azure.conftest import PROD, make_context

TAGS = {
    "project": "tierstack",
    "app": "image-processing",
    "env": "dev",
    "owner": "platform-team",
    "cost-center": "unassigned",
}


def network_only(context):
    return lambda: Network("network", NetworkArgs(context, "10.40.0.0/16")).resource_group_name


def test_network_resource_group_subnets_and_nat(run_azure):
    run = run_azure(network_only(make_context()))
    group = run.one("azure-native:resources:ResourceGroup")
    assert group.inputs["resourceGroupName"] == "image-processing-dev-rg"
    assert group.inputs["location"] == "westeurope"
    assert group.inputs["tags"] == TAGS
    assert run.result == "image-processing-dev-rg"
    subnets = {s.inputs["subnetName"]: s.inputs for s in run.of_type("azure-native:network:Subnet")}
    assert set(subnets) == {"gateway", "app", "worker", "data", "endpoints", "mapreduce"}
    blocks = [ipaddress.ip_network(s["addressPrefix"]) for s in subnets.values()]
    assert all(b.subnet_of(ipaddress.ip_network("10.40.0.0/16")) for b in blocks)
    assert len(set(blocks)) == 6
    nat = "network-nat-id"  # the harness's id for the resource named network-nat
    with_nat = {name for name, s in subnets.items() if s.get("natGateway", {}).get("id") == nat}
    assert with_nat == {"app", "worker", "mapreduce"}
    private = {name for name, s in subnets.items() if s["defaultOutboundAccess"] is False}
    assert private == {"app", "worker", "data", "endpoints", "mapreduce"}
    assert subnets["data"]["delegations"] == [
        {"name": "postgres", "serviceName": "Microsoft.DBforPostgreSQL/flexibleServers"}
    ]
    assert all("networkSecurityGroup" in s for s in subnets.values())


def _rules(run):
    return [r.inputs for r in run.of_type("azure-native:network:SecurityRule")]


def _ports(rule):
    return set(rule.get("destinationPortRanges") or [rule.get("destinationPortRange")])


def test_no_nsg_admits_ssh_or_rdp_from_the_internet(run_azure):
    run = run_azure(network_only(make_context()))
    rules = _rules(run)
    internet = {"Internet", "*", "0.0.0.0/0", "Any"}
    for rule in rules:
        if rule["access"] == "Allow" and rule["sourceAddressPrefix"] in internet:
            assert rule["destinationPortRanges"] == ["80", "443"], rule
    # Only the gateway subnet admits the internet at all.
    internet_allows = {
        r["networkSecurityGroupName"]
        for r in rules
        if r["access"] == "Allow" and r["sourceAddressPrefix"] == "Internet"
    }
    assert internet_allows == {"image-processing-dev-gateway-nsg"}
    denies = {
        r["networkSecurityGroupName"]
        for r in rules
        if r["access"] == "Deny"
        and r["sourceAddressPrefix"] == "Internet"
        and _ports(r) == {"22", "3389"}
    }
    assert {"image-processing-dev-app-nsg", "image-processing-dev-worker-nsg"} <= denies


def test_tier_subnets_deny_the_rest_of_the_vnet(run_azure):
    run = run_azure(network_only(make_context()))
    by_nsg: dict[str, list[dict]] = {}
    for rule in _rules(run):
        by_nsg.setdefault(rule["networkSecurityGroupName"].split("-dev-")[1], []).append(rule)
    for subnet in ("app", "worker", "data", "endpoints", "mapreduce"):
        deny = [r for r in by_nsg[f"{subnet}-nsg"] if r["sourceAddressPrefix"] == "VirtualNetwork"]
        assert deny and deny[0]["access"] == "Deny" and deny[0]["priority"] == 4090
    worker_allows = [
        r
        for r in by_nsg["worker-nsg"]
        if r["access"] == "Allow" and r["sourceAddressPrefix"] != "AzureLoadBalancer"
    ]
    assert worker_allows == []  # workers take no inbound connections
    postgres = [r for r in by_nsg["data-nsg"] if r["access"] == "Allow" and _ports(r) == {"5432"}]
    assert {r["sourceAddressPrefix"] for r in postgres} == {"10.40.1.0/24", "10.40.2.0/24"}


@pytest.mark.parametrize(("env", "purge", "soft_delete"), [("dev", None, 7), ("prod", True, 90)])
def test_key_vault_is_rbac_only_and_firewalled(run_azure, env, purge, soft_delete):
    extra = PROD if env == "prod" else {}
    run = run_azure(network_only(make_context(**extra)))
    vault = run.one("azure-native:keyvault:Vault").inputs["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault.get("enablePurgeProtection") == purge
    assert vault["softDeleteRetentionInDays"] == soft_delete
    assert vault["tenantId"] == "99999999-8888-7777-6666-555555555555"
    acls = vault["networkAcls"]
    assert acls["defaultAction"] == "Deny"
    assert {rule["id"] for rule in acls["virtualNetworkRules"]} == {
        "network-gateway-id",
        "network-app-id",
        "network-worker-id",
    }
    workspace = run.one("azure-native:operationalinsights:Workspace").inputs
    assert workspace["retentionInDays"] == (90 if env == "prod" else 30)


def test_components_without_a_network_say_what_to_do():
    with pytest.raises(LookupError, match=r"create stacks\.azure\.Network first"):
        stack_network(make_context())


def _with_network(context, build):
    def program():
        Network("network", NetworkArgs(context, "10.40.0.0/16"))
        return build()

    return program


def test_object_store_is_identity_only_tls12_versioned(run_azure):
    context = make_context()
    spec = StoreSpec("images", "originals", noncurrent_version_days=30, archive_after_days=60)

    def build():
        store = ObjectStore("images", ObjectStoreArgs(context, spec))
        return {"url": store.backend_url, "name": store.physical_name}

    run = run_azure(_with_network(context, build))
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


def test_queue_dead_letters_and_has_no_keys(run_azure):
    context = make_context()
    spec = QueueSpec("jobs", "work", visibility_timeout_seconds=900, max_deliveries=4)

    def build():
        return Queue("jobs", QueueArgs(context, spec)).backend_url

    run = run_azure(_with_network(context, build))
    namespace = run.one("azure-native:servicebus:Namespace").inputs
    assert namespace["disableLocalAuth"] is True
    assert namespace["minimumTlsVersion"] == "1.2"
    queue = run.one("azure-native:servicebus:Queue").inputs
    assert queue["maxDeliveryCount"] == 4
    assert queue["deadLetteringOnMessageExpiration"] is True
    assert queue["lockDuration"] == "PT300S"  # clamped to Service Bus's 5-minute maximum
    assert queue["defaultMessageTimeToLive"] == "PT345600S"
    assert run.result == f"servicebus://{namespace['namespaceName']}/jobs"
    for resource in run.resources:
        assert "connectionString" not in resource.outputs


def test_table_is_private_keyless_with_continuous_backup(run_azure):
    context = make_context()
    spec = TableSpec("job-status", "status")

    def build():
        return KeyValueTable("job-status", KeyValueTableArgs(context, spec)).backend_url

    run = run_azure(_with_network(context, build))
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


def test_components_drop_azure_natives_version_aliases_but_keep_others(run_azure):
    """The SDK resolves every alias to a URN; azure-native's ~30 per resource made previews ten
    times slower. A stack transformation runs after the components' own, so it sees the result."""
    import pulumi

    from stacks.azure.common import _without_version_aliases

    seen: dict[str, list] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        seen[args.name] = list(args.opts.aliases or [])

    def program():
        pulumi.runtime.register_stack_transformation(record)
        return network_only(make_context())()

    run_azure(program)
    azure = {name for name in seen if name.startswith("network-")}
    assert "network-vnet" in azure and all(seen[name] == [] for name in azure)

    user_alias = pulumi.Alias(name="old-name")
    version_alias = pulumi.Alias(type_="azure-native:network/v20230201:Subnet")
    args = pulumi.ResourceTransformationArgs(
        None,
        "azure-native:network:Subnet",
        "s",
        {},
        pulumi.ResourceOptions(aliases=[user_alias, version_alias]),
    )
    assert _without_version_aliases(args).opts.aliases == [user_alias]
