"""`tierstack preview --format tfplan`: the Terraform plan export of the AWS and GCP stacks.

Every resource type the ten stacks use maps to the Terraform type written out below (the table is
the test's own, not the exporter's), and every resource's inputs survive the trip to Terraform
attribute names and back; the CLI writes one plan per stack through its entry point."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.tierstack.conftest import TIERSTACK
from tierstack.preview import tfplan
from tierstack.records import SECRET, UNKNOWN

STACKS = [
    f"{cloud}-{app}"
    for cloud in ("aws", "gcp")
    for app in ("cloud-drive", "image-processing", "iot-gateway", "mapreduce", "social-analytics")
]

# From the Terraform providers' documentation (registry.terraform.io/providers/hashicorp/…).
TERRAFORM_TYPES = {
    "aws:acm/certificate:Certificate": "aws_acm_certificate",
    "aws:autoscaling/group:Group": "aws_autoscaling_group",
    "aws:autoscaling/policy:Policy": "aws_autoscaling_policy",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:dynamodb/table:Table": "aws_dynamodb_table",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:emr/cluster:Cluster": "aws_emr_cluster",
    "aws:emr/securityConfiguration:SecurityConfiguration": "aws_emr_security_configuration",
    "aws:iam/instanceProfile:InstanceProfile": "aws_iam_instance_profile",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:iot/policy:Policy": "aws_iot_policy",
    "aws:iot/thingType:ThingType": "aws_iot_thing_type",
    "aws:iot/topicRule:TopicRule": "aws_iot_topic_rule",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:kms/keyPolicy:KeyPolicy": "aws_kms_key_policy",
    "aws:lb/listener:Listener": "aws_lb_listener",
    "aws:lb/loadBalancer:LoadBalancer": "aws_lb",
    "aws:lb/targetGroup:TargetGroup": "aws_lb_target_group",
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/parameterGroup:ParameterGroup": "aws_db_parameter_group",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "aws_s3_bucket_lifecycle_configuration"
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": "aws_s3_object",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws_s3_bucket_server_side_encryption_configuration"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:secretsmanager/secret:Secret": "aws_secretsmanager_secret",
    "aws:secretsmanager/secretVersion:SecretVersion": "aws_secretsmanager_secret_version",
    "aws:sesv2/configurationSet:ConfigurationSet": "aws_sesv2_configuration_set",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sqs/queue:Queue": "aws_sqs_queue",
    "aws:sqs/queuePolicy:QueuePolicy": "aws_sqs_queue_policy",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": "aws_sqs_redrive_allow_policy",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "aws_vpc_security_group_egress_rule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "aws_vpc_security_group_ingress_rule"
    ),
    "gcp:compute/address:Address": "google_compute_address",
    "gcp:compute/backendService:BackendService": "google_compute_backend_service",
    "gcp:compute/firewall:Firewall": "google_compute_firewall",
    "gcp:compute/globalAddress:GlobalAddress": "google_compute_global_address",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": (
        "google_compute_global_forwarding_rule"
    ),
    "gcp:compute/healthCheck:HealthCheck": "google_compute_health_check",
    "gcp:compute/instanceTemplate:InstanceTemplate": "google_compute_instance_template",
    "gcp:compute/managedSslCertificate:ManagedSslCertificate": (
        "google_compute_managed_ssl_certificate"
    ),
    "gcp:compute/network:Network": "google_compute_network",
    "gcp:compute/regionAutoscaler:RegionAutoscaler": "google_compute_region_autoscaler",
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": (
        "google_compute_region_instance_group_manager"
    ),
    "gcp:compute/router:Router": "google_compute_router",
    "gcp:compute/routerNat:RouterNat": "google_compute_router_nat",
    "gcp:compute/sSLPolicy:SSLPolicy": "google_compute_ssl_policy",
    "gcp:compute/securityPolicy:SecurityPolicy": "google_compute_security_policy",
    "gcp:compute/subnetwork:Subnetwork": "google_compute_subnetwork",
    "gcp:compute/targetHttpProxy:TargetHttpProxy": "google_compute_target_http_proxy",
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": "google_compute_target_https_proxy",
    "gcp:compute/targetTCPProxy:TargetTCPProxy": "google_compute_target_tcp_proxy",
    "gcp:compute/uRLMap:URLMap": "google_compute_url_map",
    "gcp:dataproc/cluster:Cluster": "google_dataproc_cluster",
    "gcp:dataproc/clusterIAMMember:ClusterIAMMember": "google_dataproc_cluster_iam_member",
    "gcp:dataproc/job:Job": "google_dataproc_job",
    "gcp:firestore/database:Database": "google_firestore_database",
    "gcp:firestore/field:Field": "google_firestore_field",
    "gcp:firestore/index:Index": "google_firestore_index",
    "gcp:monitoring/alertPolicy:AlertPolicy": "google_monitoring_alert_policy",
    "gcp:monitoring/notificationChannel:NotificationChannel": (
        "google_monitoring_notification_channel"
    ),
    "gcp:projects/iAMCustomRole:IAMCustomRole": "google_project_iam_custom_role",
    "gcp:projects/iAMMember:IAMMember": "google_project_iam_member",
    "gcp:pubsub/subscription:Subscription": "google_pubsub_subscription",
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": (
        "google_pubsub_subscription_iam_member"
    ),
    "gcp:pubsub/topic:Topic": "google_pubsub_topic",
    "gcp:pubsub/topicIAMMember:TopicIAMMember": "google_pubsub_topic_iam_member",
    "gcp:secretmanager/secret:Secret": "google_secret_manager_secret",
    "gcp:secretmanager/secretIamMember:SecretIamMember": "google_secret_manager_secret_iam_member",
    "gcp:secretmanager/secretVersion:SecretVersion": "google_secret_manager_secret_version",
    "gcp:serviceaccount/account:Account": "google_service_account",
    "gcp:servicenetworking/connection:Connection": "google_service_networking_connection",
    "gcp:sql/database:Database": "google_sql_database",
    "gcp:sql/databaseInstance:DatabaseInstance": "google_sql_database_instance",
    "gcp:sql/user:User": "google_sql_user",
    "gcp:storage/bucket:Bucket": "google_storage_bucket",
    "gcp:storage/bucketIAMMember:BucketIAMMember": "google_storage_bucket_iam_member",
    "gcp:storage/bucketObject:BucketObject": "google_storage_bucket_object",
    "random:index/randomPassword:RandomPassword": "random_password",
    "tls:index/privateKey:PrivateKey": "tls_private_key",
    "tls:index/selfSignedCert:SelfSignedCert": "tls_self_signed_cert",
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The preview JSON and the tfplan export of the ten stacks, both from the CLI."""
    out = tmp_path_factory.mktemp("plans")
    preview = subprocess.run(
        [str(TIERSTACK), "preview", "--all", "--json", "--no-policy"],
        capture_output=True,
        text=True,
        check=True,
    )
    results = {r["stack"]: r for r in json.loads(preview.stdout) if r["stack"] in STACKS}
    subprocess.run(
        [
            str(TIERSTACK),
            "preview",
            "--all",
            "--no-policy",
            "--format",
            "tfplan",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    plans = {stack: json.loads((out / f"{stack}.json").read_text()) for stack in STACKS}
    return {"results": results, "plans": plans}


def test_every_type_the_stacks_use_maps_to_its_terraform_type(exported: dict[str, Any]) -> None:
    used = {
        record["type"]
        for result in exported["results"].values()
        for record in result["resources"]
        if record["custom"]
    }
    assert used == set(TERRAFORM_TYPES), "a type was added or dropped: extend TERRAFORM_TYPES"
    assert {token: tfplan.terraform_type(token) for token in used} == TERRAFORM_TYPES
    for stack, plan in exported["plans"].items():
        urns = plan["tierstack"]["addresses"]
        types = {r["urn"]: r["type"] for r in exported["results"][stack]["resources"]}
        for change in plan["resource_changes"]:
            assert change["type"] == TERRAFORM_TYPES[types[urns[change["address"]]]]
        assert plan["tierstack"]["notExported"] == []


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _back(values: dict[str, Any], schema: dict[str, Any], tf_type: str) -> dict[str, Any]:
    """Terraform attribute values → wire inputs, with the inverse of the exporter's tables."""
    by_name = {name: (wire, nested) for wire, (name, nested) in schema.items()}
    assert len(by_name) == len(schema), "two inputs map to one Terraform attribute"
    out: dict[str, Any] = {}
    for name, value in values.items():
        wire, nested = by_name.get(name, (_camel(name), None))
        if nested is not None and isinstance(value, list):
            inner = tfplan._nested_schema(nested, tf_type)
            value = [_back(item, inner, tf_type) for item in value]
        out[wire] = value
    return out


def _known(value: Any, nested: Any, tf_type: str, urns: set[str]) -> Any:
    """What the plan's `after` can hold: the inputs without unknown, secret or resource values;
    a block (an object typed by an Args class) is a list of one."""
    if isinstance(value, dict) and nested is not None:
        return [_known_block(value, tfplan._nested_schema(nested, tf_type), tf_type, urns)]
    if isinstance(value, list) and nested is not None:
        inner = tfplan._nested_schema(nested, tf_type)
        return [_known_block(item, inner, tf_type, urns) for item in value]
    if isinstance(value, list):
        return [None if item == UNKNOWN or item in urns else item for item in value]
    return value


def _known_block(inputs: dict, schema: dict, tf_type: str, urns: set[str]) -> dict[str, Any]:
    return {
        wire: _known(value, schema.get(wire, (None, None))[1], tf_type, urns)
        for wire, value in inputs.items()
        if value not in (UNKNOWN, SECRET) and not (isinstance(value, str) and value in urns)
    }


@pytest.mark.slow
def test_every_resource_round_trips_through_terraform_names(exported: dict[str, Any]) -> None:
    checked = 0
    for stack, plan in exported["plans"].items():
        records = {r["urn"]: r for r in exported["results"][stack]["resources"]}
        urns = set(records)
        for change in plan["resource_changes"]:
            record = records[plan["tierstack"]["addresses"][change["address"]]]
            schema = tfplan._resource_schema(record["type"])
            back = _back(change["change"]["after"], schema, change["type"])
            assert back == _known_block(record["inputs"], schema, change["type"], urns), (
                f"{stack} {change['address']}"
            )
            unknown = {
                name for wire, (name, _) in schema.items() if record["inputs"].get(wire) == UNKNOWN
            }
            assert unknown <= set(change["change"]["after_unknown"]), change["address"]
            checked += 1
    assert checked > 700


def _resource(plan: dict[str, Any], address: str) -> dict[str, Any]:
    return next(r for r in plan["resource_changes"] if r["address"] == address)["change"]


def test_terraform_attribute_names_nesting_and_references(exported: dict[str, Any]) -> None:
    plan = exported["plans"]["aws-cloud-drive"]
    template = _resource(plan, "aws_launch_template.web")["after"]
    assert template["metadata_options"] == [
        {
            "http_endpoint": "enabled",
            "http_put_response_hop_limit": 1,
            "http_tokens": "required",
            "instance_metadata_tags": "disabled",
        }
    ]
    assert template["tags"]["cost-center"] == "cc-1234"  # a map keeps its keys
    assert template["network_interfaces"][0]["security_groups"] == [None]  # unknown until apply
    listeners = [
        r["change"]["after"] for r in plan["resource_changes"] if r["type"] == "aws_lb_listener"
    ]
    assert {a["default_action"][0]["type"] for a in listeners} == {"redirect", "forward"}
    groups = _resource(plan, "aws_db_parameter_group.drive-db")["after"]["parameter"]
    assert {"name": "rds.force_ssl", "value": "1"} in groups
    config = next(
        r
        for r in plan["configuration"]["root_module"]["resources"]
        if r["address"] == "aws_s3_bucket_public_access_block.documents"
    )
    assert config["expressions"]["bucket"] == {
        "references": ["aws_s3_bucket.documents.id", "aws_s3_bucket.documents"]
    }
    assert config["expressions"]["block_public_acls"] == {"constant_value": True}
    gcp = exported["plans"]["gcp-cloud-drive"]
    firewalls = [r for r in gcp["resource_changes"] if r["type"] == "google_compute_firewall"]
    assert all("allow" in r["change"]["after"] for r in firewalls)
    secret = _resource(plan, "aws_db_instance.drive-db")
    assert "password" not in secret["after"] and secret["after_sensitive"]["password"] is True


def test_azure_resources_are_listed_as_not_exportable() -> None:
    result = {
        "stack": "s",
        "project": "p",
        "resources": [
            {
                "urn": "urn:pulumi:s::p::azure-native:storage:StorageAccount::a",
                "type": "azure-native:storage:StorageAccount",
                "name": "a",
                "parent": None,
                "custom": True,
                "inputs": {"kind": "StorageV2"},
                "dependencies": [],
                "propertyDependencies": {},
            }
        ],
    }
    plan = tfplan.to_tfplan(result)
    assert plan["resource_changes"] == []
    assert plan["tierstack"]["notExported"] == [
        {
            "urn": "urn:pulumi:s::p::azure-native:storage:StorageAccount::a",
            "type": "azure-native:storage:StorageAccount",
            "reason": tfplan.NOT_BRIDGED,
        }
    ]


def test_tfplan_with_all_needs_an_output_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(TIERSTACK), "preview", "--all", "--format", "tfplan"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "tierstack: error: --format tfplan --all writes one plan per stack: give --out DIR"
    ]
