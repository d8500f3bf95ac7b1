"""Ordering: from the offline preview's dependency lists, every resource that its provider
documents as needing another to exist first depends on it, in every stack. Pulumi creates
independent resources in parallel, so a missing edge passes every mock and fails (or races) on
the first real `pulumi up`. Dependencies are followed transitively: waiting for B, which waits
for C, is waiting for C.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import tierstack
from stacks.azure.common import dashed_name
from stacks.blueprints import BLUEPRINTS
from stacks.blueprints.settings import parse_settings
from stacks.common.args import StackContext
from tierstack.preview.engine import preview_many
from tierstack.preview.project import list_stacks, load_project

Record = dict[str, Any]


class Graph:
    """One stack's resources and their transitive dependencies."""

    def __init__(self, result: dict[str, Any]) -> None:
        assert "error" not in result, result.get("error")
        self.stack = result["stack"]
        self.records: list[Record] = result["resources"]
        self.by_urn = {record["urn"]: record for record in self.records}
        self._closure: dict[str, set[str]] = {}

    def of_type(self, type_: str, where: Callable[[Record], bool] = lambda r: True) -> list[Record]:
        return [r for r in self.records if r["type"] == type_ and where(r)]

    def waits_for(self, record: Record) -> set[str]:
        """Every URN the resource waits for, directly or through its dependencies."""
        urn = record["urn"]
        if urn not in self._closure:
            seen: set[str] = set()
            stack = list(record["dependencies"])
            while stack:
                dependency = stack.pop()
                if dependency in seen:
                    continue
                seen.add(dependency)
                stack += self.by_urn.get(dependency, {}).get("dependencies", [])
            self._closure[urn] = seen
        return self._closure[urn]

    def missing(self, dependent: Record, prerequisites: list[Record]) -> list[str]:
        waits = self.waits_for(dependent)
        return [p["name"] for p in prerequisites if p["urn"] not in waits]


@pytest.fixture(scope="module")
def graphs() -> dict[str, Graph]:
    project = load_project(tierstack.REPO_ROOT)
    results = preview_many(project.directory, sorted(list_stacks(project)), policy_pack=None)
    return {result["stack"]: Graph(result) for result in results}


def _stacks(cloud: str) -> list[str]:
    return sorted(s for s in list_stacks(load_project(tierstack.REPO_ROOT)) if s.startswith(cloud))


@pytest.mark.parametrize("stack", _stacks("aws-"))
def test_aws_load_balancer_waits_for_its_log_bucket_policy(graphs, stack) -> None:
    """ELB writes a test object when access logging is enabled and fails the create with
    "Access Denied for bucket" if the bucket policy does not admit log delivery yet (ELB user
    guide, "Enable access logs for your Application Load Balancer")."""
    graph = graphs[stack]
    for balancer in graph.of_type("aws:lb/loadBalancer:LoadBalancer"):
        log_buckets = set(balancer["propertyDependencies"].get("accessLogs", []))
        assert log_buckets, f"{stack}: {balancer['name']} has no access-log bucket"
        policies = graph.of_type(
            "aws:s3/bucketPolicy:BucketPolicy",
            lambda p, buckets=log_buckets: bool(set(p["dependencies"]) & buckets),
        )
        assert policies, f"{stack}: no policy on the log bucket"
        assert graph.missing(balancer, policies) == [], f"{stack}: {balancer['name']}"


def _subnet_routes(graph: Graph, dependent: Record) -> list[Record]:
    """The route-table associations (with their NAT routes) of the subnets a resource uses."""
    subnets = {
        urn
        for urn in dependent["dependencies"]
        if graph.by_urn.get(urn, {}).get("type") == "aws:ec2/subnet:Subnet"
    }
    return graph.of_type(
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        lambda a: bool(set(a["dependencies"]) & subnets),
    )


@pytest.mark.parametrize("stack", _stacks("aws-"))
def test_aws_hosts_wait_for_their_subnets_nat_route(graphs, stack) -> None:
    """Autoscaling instances and EMR nodes boot straight into apt, ansible-pull and S3 from
    private subnets: before their subnet's route to the NAT gateway exists, boot fails."""
    graph = graphs[stack]
    hosts = graph.of_type("aws:autoscaling/group:Group") + graph.of_type("aws:emr/cluster:Cluster")
    assert hosts
    for host in hosts:
        routes = _subnet_routes(graph, host)
        assert routes, f"{stack}: {host['name']} is in no routed subnet"
        assert graph.missing(host, routes) == [], f"{stack}: {host['name']}"


def test_aws_emr_cluster_waits_for_its_roles_policies(graphs) -> None:
    """EMR validates its service role and the nodes' instance profile at RunJobFlow; a role
    whose policies are attached a moment later fails the create ("The EMR service role ... is
    invalid", EMR management guide, "Configure IAM service roles")."""
    graph = graphs["aws-mapreduce"]
    [cluster] = graph.of_type("aws:emr/cluster:Cluster")
    waits = graph.waits_for(cluster)
    roles = {urn for urn in waits if graph.by_urn[urn]["type"] == "aws:iam/role:Role"}
    assert len(roles) == 2  # the service role and, through the instance profile, the node role
    policies = [
        p
        for p in graph.records
        if p["type"]
        in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        and set(p["dependencies"]) & roles
    ]
    assert len(policies) >= 3
    assert graph.missing(cluster, policies) == []


def test_aws_emr_groups_have_explicit_egress(graphs) -> None:
    """The provider deletes a new security group's default allow-all egress rule (aws_security_group
    docs: "Terraform will remove this default rule"): EMR nodes need their own to reach S3."""
    graph = graphs["aws-mapreduce"]
    groups = graph.of_type(
        "aws:ec2/securityGroup:SecurityGroup", lambda g: g["name"].startswith("hadoop-")
    )
    assert len(groups) == 3
    egress = graph.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    for group in groups:
        assert any(group["urn"] in rule["dependencies"] for rule in egress), group["name"]


def test_aws_emr_steps_wait_for_input_under_their_prefix(graphs) -> None:
    """Hadoop's FileInputFormat fails a job whose input path matches no file ("Input path does
    not exist"): the deploy-time streaming step would end FAILED while `pulumi up` succeeds. The
    cluster, whose steps run as soon as it is up, waits for a non-empty object under each job's
    input prefix (the step's -input, asserted in tests/stacks/aws/test_mapreduce_cluster.py)."""
    graph = graphs["aws-mapreduce"]
    [cluster] = graph.of_type("aws:emr/cluster:Cluster")
    jobs = BLUEPRINTS["mapreduce"]().mapreduce.jobs
    assert jobs
    for job in jobs:
        inputs = graph.of_type(
            "aws:s3/bucketObjectv2:BucketObjectv2",
            lambda o, prefix=job.input_prefix: (
                o["inputs"]["key"].startswith(prefix) and bool(o["inputs"].get("content"))
            ),
        )
        assert inputs, f"nothing under {job.input_prefix}"
        assert graph.missing(cluster, inputs) == [], job.name


@pytest.mark.parametrize("stack", _stacks("azure-"))
def test_azure_scale_sets_wait_for_the_gateway_whose_pool_they_join(graphs, stack) -> None:
    """ARM validates the backend pool a scale set's NIC names: the Application Gateway must
    exist first (InvalidResourceReference otherwise)."""
    graph = graphs[stack]
    [gateway] = graph.of_type("azure-native:network:ApplicationGateway")
    pool_members = graph.of_type(
        "azure-native:compute:VirtualMachineScaleSet",
        lambda v: "applicationGatewayBackendAddressPools" in str(v["inputs"]),
    )
    assert pool_members, f"{stack}: no scale set joins the gateway's pool"
    for scale_set in pool_members:
        assert graph.missing(scale_set, [gateway]) == [], f"{stack}: {scale_set['name']}"


@pytest.mark.parametrize("stack", _stacks("gcp-"))
def test_gcp_instance_groups_wait_for_cloud_nat(graphs, stack) -> None:
    """VMs have no public IP: apt and ansible-pull at first boot go out through Cloud NAT."""
    graph = graphs[stack]
    [nat] = graph.of_type("gcp:compute/routerNat:RouterNat")
    groups = graph.of_type("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    assert groups
    for group in groups:
        assert graph.missing(group, [nat]) == [], f"{stack}: {group['name']}"


@pytest.mark.parametrize("stack", _stacks("gcp-"))
def test_gcp_monitoring_agent_grant_waits_for_the_first_pubsub_channel(graphs, stack) -> None:
    """Cloud Monitoring creates its notification service agent (gcp-sa-monitoring-notification)
    when the project's first Pub/Sub notification channel is created ("Create and manage
    notification channels", Pub/Sub section, cloud.google.com/monitoring/support/
    notification-options): on a new project, a grant to it made before that fails."""
    graph = graphs[stack]
    channels = graph.of_type(
        "gcp:monitoring/notificationChannel:NotificationChannel",
        lambda c: c["inputs"]["type"] == "pubsub",
    )
    assert channels, f"{stack}: no Pub/Sub notification channel"
    grants = graph.of_type(
        "gcp:pubsub/topicIAMMember:TopicIAMMember",
        lambda g: "gcp-sa-monitoring-notification" in str(g["inputs"].get("member")),
    )
    assert grants, f"{stack}: Monitoring may not publish to the alerts topic"
    for grant in grants:
        assert graph.missing(grant, channels) == [], f"{stack}: {grant['name']}"


def test_azure_prod_gateway_waits_for_its_key_vault_grant(tmp_path: Path) -> None:
    """A gateway whose listener certificate is a Key Vault secret is created only if its
    user-assigned identity can already read that secret ("TLS termination with Key Vault
    certificates", learn.microsoft.com/azure/application-gateway/key-vault-certs: the identity
    needs Key Vault Secrets User; ARM fails the create with
    UserAssignedIdentityDoesNotGetPermissionOnKeyVault). Previewed as a prod stack of its own."""
    config = {
        "azure-native:location": "westeurope",
        "tierstack:cloud": "azure",
        "tierstack:app": "cloud-drive",
        "tierstack:env": "prod",
        "tierstack:certificate": "https://elsewhere.vault.azure.net/secrets/app-cert",
        "tierstack:repoRef": "0123456789abcdef0123456789abcdef01234567",
    }
    stack = "azure-cloud-drive-prod"
    context = StackContext(settings=parse_settings(config), stack=stack)
    vault = f"https://{dashed_name(context, 'kv')}.vault.azure.net/"
    config["tierstack:certificate"] = f"{vault}secrets/app-cert"
    (tmp_path / "Pulumi.yaml").write_text(
        f"name: tierstack\nruntime: python\nmain: {tierstack.REPO_ROOT / 'stacks'}/\n"
    )
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    [result] = preview_many(tmp_path, [stack], policy_pack=None)
    graph = Graph(result)
    [gateway] = graph.of_type("azure-native:network:ApplicationGateway")
    identities = set(gateway["propertyDependencies"]["identity"])
    grants = graph.of_type(
        "azure-native:authorization:RoleAssignment",
        lambda g: bool(set(g["propertyDependencies"].get("principalId", [])) & identities),
    )
    assert len(grants) == 1, "the gateway's identity is not granted the certificate secret"
    assert graph.missing(gateway, grants) == []


@pytest.mark.parametrize("stack", _stacks("gcp-"))
def test_gcp_firestore_index_waits_for_the_ttl_field(graphs, stack) -> None:
    """Firestore index and field (TTL) changes on one database created in parallel fail with
    409 "Aborted due to cross-transaction contention" (terraform-provider-google issues #16599
    and #16329): a table's composite index waits for its TTL policy."""
    graph = graphs[stack]
    for index in graph.of_type("gcp:firestore/index:Index"):
        fields = graph.of_type(
            "gcp:firestore/field:Field", lambda f, i=index: f["parent"] == i["parent"]
        )
        assert graph.missing(index, fields) == [], f"{stack}: {index['name']}"
    if stack == "gcp-iot-gateway":  # the table with both a sort key and a TTL attribute
        [index] = graph.of_type("gcp:firestore/index:Index")
        assert graph.of_type("gcp:firestore/field:Field", lambda f: f["parent"] == index["parent"])


def test_gcp_dataproc_job_waits_for_input_under_its_prefix(graphs) -> None:
    """Hadoop's FileInputFormat fails a job whose input path matches no file ("Input path does
    not exist"): the deploy-time Dataproc job would end in ERROR while `pulumi up` succeeds. It
    waits for a non-empty object under its -input prefix, in the bucket it reads."""
    graph = graphs["gcp-mapreduce"]
    [job] = graph.of_type("gcp:dataproc/job:Job")
    args = job["inputs"]["hadoopConfig"]["args"]
    source = args[args.index("-input") + 1]
    bucket, _, prefix = source.removeprefix("gs://").partition("/")
    inputs = graph.of_type(
        "gcp:storage/bucketObject:BucketObject",
        lambda o: (
            o["inputs"]["bucket"] == bucket
            and o["inputs"]["name"].startswith(prefix)
            and bool(o["inputs"].get("content"))
        ),
    )
    assert inputs, f"nothing under {source}"
    assert graph.missing(job, inputs) == []


def test_azure_hdinsight_gateway_is_resolvable_before_the_job_runner_boots(graphs) -> None:
    """HDInsight with private link: the cluster subnet's private-link service policies must be
    disabled before the cluster creates its private link services (step 2), the private
    endpoint on the cluster's "gateway" sub-resource can only follow the cluster (step 5), and
    its records land in `privatelink.azurehdinsight.net` once that zone is linked to the VNet
    (step 6; learn.microsoft.com/azure/hdinsight/hdinsight-private-link). The job runner calls
    the gateway from its first boot, so its scale set waits for the records."""
    graph = graphs["azure-mapreduce"]
    [cluster] = graph.of_type("azure-native:hdinsight:Cluster")
    [subnet] = graph.of_type(
        "azure-native:network:Subnet", lambda s: s["inputs"]["subnetName"] == "mapreduce"
    )
    assert subnet["inputs"]["privateLinkServiceNetworkPolicies"] == "Disabled"
    [zone] = graph.of_type(
        "azure-native:privatedns:PrivateZone",
        lambda z: z["inputs"]["privateZoneName"] == "privatelink.azurehdinsight.net",
    )
    [link] = graph.of_type(
        "azure-native:privatedns:VirtualNetworkLink", lambda r: r["parent"] == zone["urn"]
    )
    assert graph.missing(cluster, [subnet, link]) == []
    [endpoint] = graph.of_type(
        "azure-native:network:PrivateEndpoint", lambda e: "gateway" in str(e["inputs"])
    )
    assert graph.missing(endpoint, [cluster]) == []
    [records] = graph.of_type(
        "azure-native:network:PrivateDnsZoneGroup",
        lambda g: endpoint["urn"] in g["propertyDependencies"].get("privateEndpointName", []),
    )
    assert graph.missing(records, [endpoint, zone, link]) == []
    blueprint = BLUEPRINTS["mapreduce"]()
    cluster_name = blueprint.mapreduce.name
    tiers = {w.name for w in blueprint.workers if any(u.target == cluster_name for u in w.uses)}
    runners = graph.of_type(
        "azure-native:compute:VirtualMachineScaleSet",
        lambda v: v["name"].removesuffix("-vmss") in tiers,
    )
    assert tiers and len(runners) == len(tiers), "no scale set submits to the cluster"
    for runner in runners:
        assert graph.missing(runner, [records]) == [], runner["name"]
