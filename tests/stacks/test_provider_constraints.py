"""Provider constraints that Pulumi's mocks never check: allowed sizes, name rules, and the
companion settings without which a later `pulumi up` or a destroy fails. Each test cites the
provider documentation it encodes."""

from __future__ import annotations

import json
import re
from functools import cache

import pytest

from tests.stacks.harness import Run, run_stack, stack_names


@cache
def stack_run(stack: str, env: str = "dev") -> Run:
    cloud = stack.split("-", 1)[0]
    conftest = __import__(f"tests.stacks.{cloud}.conftest", fromlist=["computed"])
    overrides = {"tierstack:env": env}
    if env == "prod":
        overrides.update(PROD_CERTIFICATE[cloud])
        overrides["tierstack:repoRef"] = "0123456789abcdef0123456789abcdef01234567"
    return run_stack(
        stack,
        computed=conftest.computed,
        invokes=getattr(conftest, "INVOKES", None),
        overrides=overrides,
    )


PROD_CERTIFICATE = {
    "aws": {"tierstack:certificate": "arn:aws:acm:eu-west-1:123456789012:certificate/p"},
    "gcp": {"tierstack:certificate": "app.example.com"},
    "azure": {"tierstack:certificate": "https://kv-prod.vault.azure.net/secrets/app-cert/0123"},
}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_azure_postgres_storage_is_an_allowed_flexible_server_size(env: str) -> None:
    """Flexible Server storage is one of 32, 64, 128 … 32768 GiB ("Storage options",
    learn.microsoft.com/azure/postgresql/flexible-server/concepts-storage): dev's 20 GB and
    prod's 100 GB were refused by ARM."""
    run = stack_run("azure-cloud-drive", env)
    server = run.one("azure-native:dbforpostgresql:Server")
    size = server.inputs["storage"]["storageSizeGB"]
    assert size in (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
    assert size == {"dev": 32, "prod": 128}[env]  # the smallest that holds what sizing asks
    # Storage only grows (auto-grow, and no shrinking): a later run must not ask for less.
    assert server.inputs["storage"]["autoGrow"] == "Enabled"
    assert "storage.storageSizeGB" in server.ignore_changes


def test_gcp_cloud_sql_disk_growth_is_not_drift_and_peering_does_not_block_destroy() -> None:
    """With disk_autoresize a grown disk differs from disk_size and a shrink forces replacement
    (google_sql_database_instance docs: "use lifecycle ignore_changes on disk_size"); deleting
    the Service Networking peering fails while Cloud SQL holds it (google_service_networking_
    connection docs: deletion_policy = "ABANDON")."""
    run = stack_run("gcp-cloud-drive")
    instance = run.one("gcp:sql/databaseInstance:DatabaseInstance")
    assert instance.inputs["settings"]["diskAutoresize"] is True
    assert "settings.diskSize" in instance.ignore_changes
    connection = run.one("gcp:servicenetworking/connection:Connection")
    assert connection.inputs["deletionPolicy"] == "ABANDON"


def test_aws_emr_steps_added_later_are_not_drift() -> None:
    """aws_emr_cluster docs: steps managed outside the program need ignore_changes on steps,
    or every run after the job runner adds one shows a diff that would replace the cluster."""
    cluster = stack_run("aws-mapreduce").one("aws:emr/cluster:Cluster")
    assert "steps" in cluster.ignore_changes


AWS_NAME_LIMITS = {
    # Elastic Load Balancing API reference, CreateLoadBalancer / CreateTargetGroup: 32 chars,
    # alphanumerics and hyphens, not starting or ending with a hyphen.
    "aws:lb/loadBalancer:LoadBalancer": ("name", 32, r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"),
    # IAM User Guide, "IAM object quotas": role names up to 64 characters.
    "aws:iam/role:Role": ("name", 64, r"[\w+=,.@-]+"),
    # SQS Developer Guide, "Amazon SQS queue quotas": 80 characters, alphanumerics, - and _.
    "aws:sqs/queue:Queue": ("name", 80, r"[A-Za-z0-9_-]+"),
    # DynamoDB Developer Guide, "Naming rules": 3 to 255 characters, [a-zA-Z0-9_.-].
    "aws:dynamodb/table:Table": ("name", 255, r"[A-Za-z0-9_.-]{3,}"),
}


@pytest.mark.parametrize("stack", stack_names("aws"))
def test_aws_names_fit_the_services_rules(stack: str) -> None:
    run = stack_run(stack)
    for type_, (key, limit, pattern) in AWS_NAME_LIMITS.items():
        for resource in run.of_type(type_):
            name = resource.inputs.get(key)
            if name is None:
                continue
            assert len(name) <= limit and re.fullmatch(pattern, name), f"{type_}: {name!r}"


# GCP resource names: RFC 1035, 1-63 characters, [a-z]([-a-z0-9]*[a-z0-9])?
# (Compute Engine docs, "Resource naming convention").
GCP_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")


@pytest.mark.parametrize("stack", stack_names("gcp"))
def test_gcp_compute_names_follow_rfc_1035(stack: str) -> None:
    run = stack_run(stack)
    names = [
        r.inputs["name"]
        for r in run.resources
        if r.type.startswith("gcp:compute/") and isinstance(r.inputs.get("name"), str)
    ]
    assert names
    assert [n for n in names if not GCP_NAME.fullmatch(n)] == []


@pytest.mark.parametrize("stack", stack_names("azure"))
def test_azure_globally_named_resources_fit_their_rules(stack: str) -> None:
    """Naming rules for Azure resources (learn.microsoft.com/azure/azure-resource-manager/
    management/resource-name-rules): storage accounts 3-24 lowercase letters and digits; key
    vaults 3-24 alphanumerics and hyphens, starting with a letter, no consecutive hyphens."""
    run = stack_run(stack)
    for account in run.of_type("azure-native:storage:StorageAccount"):
        assert re.fullmatch(r"[a-z0-9]{3,24}", account.inputs["accountName"])
    for vault in run.of_type("azure-native:keyvault:Vault"):
        name = vault.inputs["vaultName"]
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]", name) and "--" not in name


def test_aws_log_writing_roles_carry_what_the_services_check() -> None:
    """VPC flow logs' role needs logs:DescribeLogGroups and DescribeLogStreams (VPC user guide,
    "IAM role for publishing flow logs to CloudWatch Logs"); an IoT rule's CloudWatch Logs
    action needs CreateLogStream, DescribeLogStreams and PutLogEvents (AWS IoT developer guide,
    "CloudWatch Logs" action)."""
    run = stack_run("aws-iot-gateway")
    actions: dict[str, set[str]] = {}
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        statements = json.loads(policy.inputs["policy"])["Statement"]
        for statement in statements:
            listed = statement["Action"]
            actions.setdefault(policy.name, set()).update(
                [listed] if isinstance(listed, str) else listed
            )
    assert {"logs:DescribeLogGroups", "logs:DescribeLogStreams"} <= actions["network-flow-logs"]
    rule_roles = [name for name, granted in actions.items() if "sqs:SendMessage" in granted]
    rule_roles = [name for name in rule_roles if "logs:PutLogEvents" in actions[name]]
    assert rule_roles
    for name in rule_roles:
        assert {"logs:CreateLogStream", "logs:DescribeLogStreams"} <= actions[name]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_azure_gateway_public_ip_is_zone_redundant(env: str) -> None:
    """A Standard public IP is either zonal or zone-redundant across all three zones; an
    Application Gateway spread over zones needs the zone-redundant kind ("Public IP addresses"
    and "Autoscaling and zone-redundant Application Gateway v2", learn.microsoft.com)."""
    run = stack_run("azure-cloud-drive", env)
    address = run.one("azure-native:network:PublicIPAddress", "web-lb-ip")
    gateway = run.one("azure-native:network:ApplicationGateway").inputs
    assert len(gateway["zones"]) >= 2
    assert sorted(address.inputs["zones"]) == ["1", "2", "3"]


def test_azure_postgres_subnet_admits_its_own_ha_replication() -> None:
    """With an NSG on the delegated subnet, high availability needs 5432 and 6432 open within
    that subnet ("Networking overview ... with private access (virtual network integration)",
    learn.microsoft.com/azure/postgresql/flexible-server/concepts-networking-private); the data
    NSG's deny-vnet-inbound rule (4090) must not be the first rule to match that traffic."""
    run = stack_run("azure-cloud-drive", "prod")
    server = run.one("azure-native:dbforpostgresql:Server").inputs
    assert server["highAvailability"]["mode"] == "ZoneRedundant"
    data = run.one("azure-native:network:Subnet", "network-data").inputs["addressPrefix"]
    inbound = sorted(
        (
            r.inputs
            for r in run.of_type("azure-native:network:SecurityRule")
            if r.inputs["networkSecurityGroupName"].endswith("-data-nsg")
            and r.inputs["direction"] == "Inbound"
        ),
        key=lambda rule: rule["priority"],
    )
    for port in ("5432", "6432"):
        matching = [
            rule
            for rule in inbound
            if {port, "*"}
            & {*rule.get("destinationPortRanges", []), rule.get("destinationPortRange")}
            and rule.get("sourceAddressPrefix") in (data, "VirtualNetwork", "*")
        ]
        assert matching, f"no rule decides {port} within the data subnet"
        assert (matching[0]["access"], matching[0]["sourceAddressPrefix"]) == ("Allow", data), port


@pytest.mark.parametrize("stack", stack_names("azure"))
def test_azure_no_blob_is_uploaded_with_a_key_the_account_refuses(stack: str) -> None:
    """azure-native's storage.Blob signs its upload with the account key (pulumi-azure-native
    issues #2015 and #2948); an account with allowSharedKeyAccess=false answers
    KeyBasedAuthenticationNotPermitted ("Prevent Shared Key authorization", learn.microsoft.com/
    azure/storage/common/shared-key-authorization-prevent)."""
    run = stack_run(stack)
    keyless = {
        account.inputs["accountName"]
        for account in run.of_type("azure-native:storage:StorageAccount")
        if account.inputs.get("allowSharedKeyAccess") is False
    }
    assert keyless, f"{stack}: every storage account takes shared keys"
    uploads = [
        blob.name
        for blob in run.of_type("azure-native:storage:Blob")
        if blob.inputs["accountName"] in keyless
    ]
    assert uploads == []


def test_azure_hdinsight_private_link_subnet_admits_private_link_services() -> None:
    """An HDInsight cluster with private link enabled creates private link services in its
    subnet, which needs privateLinkServiceNetworkPolicies disabled ("Enable Private Link on an
    HDInsight cluster", learn.microsoft.com/azure/hdinsight/hdinsight-private-link); every other
    subnet keeps the policies."""
    run = stack_run("azure-mapreduce")
    cluster = run.one("azure-native:hdinsight:Cluster").inputs["properties"]
    assert cluster["networkProperties"]["privateLink"] == "Enabled"
    subnets = {s.inputs["subnetName"]: s.inputs for s in run.of_type("azure-native:network:Subnet")}
    [role] = [r for r in cluster["computeProfile"]["roles"] if r["name"] == "headnode"]
    in_subnet = role["virtualNetworkProfile"]["subnet"]
    cluster_subnet = next(n for n, s in subnets.items() if in_subnet == f"network-{n}-id")
    policies = {name: s["privateLinkServiceNetworkPolicies"] for name, s in subnets.items()}
    assert policies.pop(cluster_subnet) == "Disabled"
    assert set(policies.values()) == {"Enabled"}
