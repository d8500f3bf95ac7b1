"""MapReduceCluster: the HDInsight cluster, its jobs and the submit grant."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stacks.azure import MapReduceCluster, Network, ObjectStore, TierIdentity
from stacks.azure.common import ROLES, stable_guid
from stacks.azure.mapreduce_cluster import CLUSTER_OPERATOR_ROLE as CLUSTER_OPERATOR
from stacks.blueprints import mapreduce
from stacks.blueprints.model import ObjectStore as StoreSpec
from stacks.common.args import (
    Grant,
    MapReduceClusterArgs,
    NetworkArgs,
    ObjectStoreArgs,
    TierIdentityArgs,
)
from tests.stacks.azure.conftest import SUBSCRIPTION, make_context

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_hadoop_cluster_is_in_the_vnet_on_identity_based_adls(analytics):
    properties = analytics.one("azure-native:hdinsight:Cluster").inputs["properties"]
    # Spark clusters keep YARN and Hadoop streaming and add Livy, the job runner's gateway.
    assert properties["clusterDefinition"]["kind"] == "spark"
    assert properties["clusterDefinition"]["componentVersion"] == {"Spark": "3.3"}
    assert properties["minSupportedTlsVersion"] == "1.2"
    assert properties["networkProperties"] == {
        "resourceProviderConnection": "Outbound",
        "privateLink": "Enabled",
    }
    for role in properties["computeProfile"]["roles"]:
        assert role["virtualNetworkProfile"] == {
            "id": "network-vnet-id",
            "subnet": "network-mapreduce-id",
        }
        assert "password" not in role["osProfile"]["linuxOperatingSystemProfile"]
    workers = [r for r in properties["computeProfile"]["roles"] if r["name"] == "workernode"]
    assert workers[0]["targetInstanceCount"] == 2
    store = properties["storageProfile"]["storageaccounts"][0]
    assert store["isDefault"] is True and store["msiResourceId"] == "hadoop-mi-id"
    assert "key" not in store
    account = analytics.named("hadoop-fs-account").inputs
    assert account["isHnsEnabled"] is True and account["allowSharedKeyAccess"] is False
    assert account["enableHttpsTrafficOnly"] is True and account["minimumTlsVersion"] == "TLS1_2"
    service = analytics.named("hadoop-fs-blob-service").inputs
    assert service["deleteRetentionPolicy"] == {"enabled": True, "days": 14}
    assert "isVersioningEnabled" not in service  # unsupported with a hierarchical namespace
    owner = analytics.named("hadoop-fs-owner").inputs
    assert (owner["scope"], owner["principalId"]) == (
        "hadoop-fs-account-id",
        "principal-mapreduce-dev-hadoop-id",
    )


def test_streaming_job_is_uploaded_scripts_plus_a_submit_command(analytics):
    account = analytics.named("hadoop-fs-account").inputs["accountName"]
    upload = analytics.result["upload_commands"]["inverted-index"].split(" && ")
    assert len(upload) == 2
    for command, script in zip(upload, ("mapper.py", "reducer.py"), strict=True):
        source = "stacks/blueprints/jobs/inverted_index/" + script
        assert (REPO_ROOT / source).is_file()
        assert command == (
            "az storage fs file upload --auth-mode login --overwrite"
            f" --account-name {account} --file-system cluster"
            f" --path jobs/inverted-index/{script} --source {source}"
        )
    fs = f"abfs://cluster@{account}.dfs.core.windows.net"
    command = analytics.result["submit_commands"]["inverted-index"]
    assert command.startswith("hadoop jar /usr/hdp/current/hadoop-mapreduce-client/")
    scripts = f"{fs}/jobs/inverted-index/mapper.py,{fs}/jobs/inverted-index/reducer.py"
    assert f"-files {scripts}" in command
    assert f"-input {fs}/input/ -output {fs}/output/" in command
    assert "-mapper 'python3 mapper.py' -reducer 'python3 reducer.py'" in command


def test_cluster_is_named_like_a_data_component(analytics):
    name = analytics.one("azure-native:hdinsight:Cluster").inputs["clusterName"]
    assert re.fullmatch(r"mapreduce-dev-hadoop-[0-9a-f]{5}", name)
    assert analytics.result["physical_name"] == name
    account = analytics.named("hadoop-fs-account").inputs["accountName"]
    vault = analytics.one("azure-native:keyvault:Vault").inputs["vaultName"]
    assert analytics.result["backend_url"] == (
        f"hdinsight://admin@{name}?storage=azblob://{account}/cluster"
        f"&gateway_password_ref=azure-keyvault://{vault}.vault.azure.net/hadoop-gateway-password"
    )


def test_submit_grant_is_cluster_operator_on_this_cluster_only(analytics):
    identity = analytics.named("job-runner-identity")
    assignments = [
        r
        for r in analytics.children_of(identity.urn)
        if r.type == "azure-native:authorization:RoleAssignment"
    ]
    by_name = {a.name: a.inputs for a in assignments}
    assert sorted(by_name) == [
        "job-runner-hadoop-fs-write",
        "job-runner-hadoop-gateway-read",
        "job-runner-hadoop-submit",
    ]
    fs_write = by_name["job-runner-hadoop-fs-write"]
    gateway_read = by_name["job-runner-hadoop-gateway-read"]
    role = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
    # The cluster's file system container only (the job runner uploads and collects there)...
    assert fs_write["scope"] == "hadoop-fs-id"
    assert fs_write["roleDefinitionId"] == role + ROLES["storage-blob-data-contributor"]
    # ...and the gateway password's secret only, never the vault.
    assert gateway_read["scope"] == "network-vault-id/secrets/hadoop-gateway-password"
    assert gateway_read["roleDefinitionId"] == role + ROLES["key-vault-secrets-user"]
    for assignment in (fs_write, gateway_read):
        assert assignment["principalId"] == "principal-mapreduce-dev-job-runner-id"
    grant = by_name["job-runner-hadoop-submit"]
    cluster_name = analytics.one("azure-native:hdinsight:Cluster").inputs["clusterName"]
    assert grant["roleAssignmentName"] == stable_guid("job-runner", cluster_name, CLUSTER_OPERATOR)
    assert grant == {
        "roleAssignmentName": grant["roleAssignmentName"],
        "scope": "hadoop-cluster-id",
        "principalId": "principal-mapreduce-dev-job-runner-id",
        "principalType": "ServicePrincipal",
        "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/"
        f"Microsoft.Authorization/roleDefinitions/{CLUSTER_OPERATOR}",
    }


@pytest.mark.parametrize("access", ["read", "read-write", "publish"])
def test_cluster_grants_nothing_but_submit(access):
    from tests.stacks.azure.conftest import INVOKES, computed
    from tests.stacks.harness import run_pulumi

    context = make_context(app="mapreduce")
    spec = mapreduce.blueprint().mapreduce

    def program():
        net = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        code = ObjectStore(
            "job-data", ObjectStoreArgs(context, StoreSpec("job-data", "code"), network=net)
        )
        cluster = MapReduceCluster("hadoop", MapReduceClusterArgs(context, spec, net, code, code))
        TierIdentity(
            "web-identity", TierIdentityArgs(context, "web", [Grant(cluster, access)], network=net)
        )

    with pytest.raises(Exception, match=f"grants only 'submit' access, not '{access}'"):
        run_pulumi(program, computed=computed, invokes=INVOKES)


def test_the_job_runner_reaches_the_gateway_through_a_private_endpoint_and_private_dns(analytics):
    """With private link on, `<cluster>.azurehdinsight.net` is a CNAME to
    `<cluster>.privatelink.azurehdinsight.net`, answered only by a private DNS zone of that name
    holding the private endpoint's address ("Enable Private Link on an HDInsight cluster", steps
    5 and 6, learn.microsoft.com/azure/hdinsight/hdinsight-private-link; the zone name is the one
    "Azure Private Endpoint private DNS zone values" lists for Microsoft.HDInsight/clusters)."""
    zone = analytics.one("azure-native:privatedns:PrivateZone").inputs
    assert zone["privateZoneName"] == "privatelink.azurehdinsight.net"
    link = analytics.one("azure-native:privatedns:VirtualNetworkLink").inputs
    assert link["privateZoneName"] == "privatelink.azurehdinsight.net"
    assert link["virtualNetwork"] == {"id": "network-vnet-id"}
    assert link["registrationEnabled"] is False
    endpoint = analytics.one(
        "azure-native:network:PrivateEndpoint", "hadoop-gateway-endpoint"
    ).inputs
    # In the endpoints subnet (the job runner's NSG path to it: 443 from the worker subnet).
    assert endpoint["subnet"] == {"id": "network-endpoints-id"}
    assert endpoint["privateLinkServiceConnections"] == [
        {"name": "gateway", "privateLinkServiceId": "hadoop-cluster-id", "groupIds": ["gateway"]}
    ]
    dns = analytics.named("hadoop-gateway-endpoint-dns").inputs
    assert dns["privateEndpointName"] == endpoint["privateEndpointName"]
    [config] = dns["privateDnsZoneConfigs"]
    zone_resource = analytics.one("azure-native:privatedns:PrivateZone").name
    assert config["privateDnsZoneId"] == f"{zone_resource}-id"  # the mocks' id of the zone


def test_cluster_subnet_disables_private_link_service_policies_only_there(analytics):
    """The private link services HDInsight creates need the cluster subnet's
    privateLinkServiceNetworkPolicies disabled (same page, step 2); no other subnet does."""
    subnets = {
        s.inputs["subnetName"]: s.inputs["privateLinkServiceNetworkPolicies"]
        for s in analytics.of_type("azure-native:network:Subnet")
    }
    assert subnets.pop("mapreduce") == "Disabled"
    assert set(subnets.values()) == {"Enabled"}
