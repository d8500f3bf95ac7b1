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
