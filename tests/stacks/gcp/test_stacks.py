"""The five gcp stacks end to end: the real program for each stack file, outputs resolved,
inventory snapshot, stack-wide security invariants, and prod sizing through the policy pack."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import stacks.gcp
from stacks.blueprints.settings import APPS
from stacks.common.contracts import EXPORTS
from tests.playbook_check import assert_boot_script_converges_its_tier
from tests.stacks.gcp.conftest import INVOKES, computed
from tests.stacks.harness import Run, inventory, run_stack, stack_names
from tests.stacks.snapshots import check_snapshot

STACKS = [f"gcp-{app}" for app in APPS]
GOVERNANCE = {"project", "app", "env", "owner", "cost-center"}
LABELED = {
    "gcp:storage/bucket:Bucket",
    "gcp:compute/instanceTemplate:InstanceTemplate",
    "gcp:pubsub/topic:Topic",
    "gcp:pubsub/subscription:Subscription",
    "gcp:dataproc/cluster:Cluster",
    "gcp:dataproc/job:Job",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule",
    "gcp:compute/globalAddress:GlobalAddress",
    "gcp:compute/address:Address",
    "gcp:secretmanager/secret:Secret",
}
KEY_PROPERTIES: dict[str, list[str]] = {
    "gcp:compute/subnetwork:Subnetwork": ["ipCidrRange", "privateIpGoogleAccess"],
    "gcp:compute/firewall:Firewall": ["sourceRanges", "sourceTags", "targetTags", "allows"],
    "gcp:compute/instanceTemplate:InstanceTemplate": [
        "machineType",
        "metadata.enable-oslogin",
        "shieldedInstanceConfig.enableSecureBoot",
        "networkInterfaces.0.accessConfigs",
        "serviceAccount.email",
    ],
    "gcp:compute/regionAutoscaler:RegionAutoscaler": [
        "autoscalingPolicy.minReplicas",
        "autoscalingPolicy.maxReplicas",
        "autoscalingPolicy.metrics.0.filter",
    ],
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": [
        "distributionPolicyZones",
        "targetSize",
    ],
    "gcp:compute/sSLPolicy:SSLPolicy": ["profile", "minTlsVersion"],
    "gcp:compute/backendService:BackendService": ["protocol", "securityPolicy", "logConfig.enable"],
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": ["portRange"],
    "gcp:storage/bucket:Bucket": [
        "name",
        "publicAccessPrevention",
        "uniformBucketLevelAccess",
        "versioning.enabled",
    ],
    "gcp:pubsub/subscription:Subscription": [
        "name",
        "ackDeadlineSeconds",
        "deadLetterPolicy.maxDeliveryAttempts",
    ],
    "gcp:firestore/database:Database": ["name", "type", "deleteProtectionState"],
    "gcp:sql/databaseInstance:DatabaseInstance": [
        "settings.availabilityType",
        "settings.ipConfiguration.ipv4Enabled",
        "settings.ipConfiguration.sslMode",
        "deletionProtection",
    ],
    "gcp:dataproc/cluster:Cluster": [
        "clusterConfig.gceClusterConfig.internalIpOnly",
        "clusterConfig.workerConfig.numInstances",
    ],
    "gcp:projects/iAMMember:IAMMember": ["role", "condition.expression"],
    "gcp:projects/iAMCustomRole:IAMCustomRole": ["roleId", "permissions"],
    "gcp:dataproc/clusterIAMMember:ClusterIAMMember": ["cluster", "role", "member"],
    "gcp:storage/bucketIAMMember:BucketIAMMember": ["role", "member"],
    "gcp:pubsub/topicIAMMember:TopicIAMMember": ["role", "member"],
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": ["role", "member"],
}


@cache
def stack_run(stack: str, env: str = "dev") -> Run:
    overrides = {}
    if env == "prod":
        overrides = {
            "tierstack:env": "prod",
            "tierstack:certificate": "app.example.com",
            "tierstack:repoRef": "0123456789abcdef0123456789abcdef01234567",
        }
    return run_stack(stack, computed=computed, invokes=INVOKES, overrides=overrides)


def test_every_gcp_stack_file_is_tested() -> None:
    assert stack_names("gcp") == sorted(STACKS)


def test_package_exports_every_component_the_program_uses() -> None:
    assert sorted(stacks.gcp.__all__) == sorted(EXPORTS)
    for name in EXPORTS:
        assert getattr(stacks.gcp, name).__module__.startswith("stacks.gcp."), name


@pytest.mark.parametrize("stack", STACKS)
def test_stack_runs_and_every_output_resolves(stack: str) -> None:
    outputs: dict[str, Any] = stack_run(stack).result
    assert outputs["cloud"] == "gcp"
    assert outputs["app"] == stack.removeprefix("gcp-")
    assert outputs["app_url"] == "https://203.0.113.10.sslip.io"
    # DNS for the managed certificate and for the MQTT gateways needs the two addresses.
    assert outputs["dns_target"] == "203.0.113.10"
    if stack == "gcp-iot-gateway":
        assert outputs["mqtt_endpoint"] == "mqtts://203.0.113.20:8883"
    else:
        assert "mqtt_endpoint" not in outputs
    for group in ("object_stores", "queues", "tables"):
        for name, physical in outputs[group].items():
            assert isinstance(physical, str), f"{group}.{name} is {physical!r}"
            assert physical.startswith(("tierstack-dev-", outputs["app"])), physical


@pytest.mark.parametrize("stack", STACKS)
def test_inventory_matches_snapshot(stack: str, update_snapshots: bool) -> None:
    check_snapshot(stack, inventory(stack_run(stack), KEY_PROPERTIES), update_snapshots)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_wide_invariants(stack: str) -> None:
    result = stack_run(stack)
    urns = [r.urn for r in result.resources]
    assert len(urns) == len(set(urns)), "two resources share a URN"
    components = {r.urn for r in result.resources if r.type.startswith("tierstack:gcp:")}
    for resource in result.resources:
        if resource.custom:
            assert resource.parent_urn in components, f"{resource.name} is not in a component"
        if resource.type in LABELED:
            labels = resource.inputs.get("labels") or {}
            assert set(labels) >= GOVERNANCE, f"{resource.type} {resource.name}: {labels}"
        if resource.type == "gcp:compute/firewall:Firewall":
            assert "0.0.0.0/0" not in resource.inputs.get("sourceRanges", []), resource.name
        if resource.type == "gcp:compute/instanceTemplate:InstanceTemplate":
            for interface in resource.inputs["networkInterfaces"]:
                assert not interface.get("accessConfigs"), resource.name
        if resource.type.lower().endswith("iammember"):  # SecretIamMember too
            assert resource.inputs["role"] not in ("roles/owner", "roles/editor", "roles/viewer")
            assert not resource.inputs["member"].startswith("all"), resource.name


def test_database_password_reaches_only_the_user_and_the_secret() -> None:
    result = stack_run("gcp-cloud-drive")
    password = result.result["db_password"]
    assert password == "generated-drive-db-password-Zq8v"
    holders = {
        r.type
        for r in result.resources
        if password in json.dumps(r.inputs)
        and r.type != "random:index/randomPassword:RandomPassword"
    }
    assert holders == {"gcp:sql/user:User", "gcp:secretmanager/secretVersion:SecretVersion"}


@pytest.mark.parametrize("stack", STACKS)
def test_prod_sizing(stack: str) -> None:
    result = stack_run(stack, "prod")
    for autoscaler in result.of_type("gcp:compute/regionAutoscaler:RegionAutoscaler"):
        assert autoscaler.inputs["autoscalingPolicy"]["minReplicas"] >= 2, autoscaler.name
    for group in result.of_type(
        "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
    ):
        assert len(group.inputs["distributionPolicyZones"]) == 2
    for instance in result.of_type("gcp:sql/databaseInstance:DatabaseInstance"):
        assert instance.inputs["settings"]["availabilityType"] == "REGIONAL"
        assert instance.inputs["deletionProtection"] is True
    for database in result.of_type("gcp:firestore/database:Database"):
        assert database.inputs["deleteProtectionState"] == "DELETE_PROTECTION_ENABLED"
    for bucket in result.of_type("gcp:storage/bucket:Bucket"):
        assert bucket.inputs["labels"]["env"] == "prod"


@pytest.mark.slow
@pytest.mark.parametrize("app", APPS)
def test_prod_stack_passes_every_mandatory_policy(app: str) -> None:
    """The pack's prod-only rules (HA, deletion protection, two instances) hold in prod too."""
    from stacks.blueprints.settings import parse_settings
    from stacks.program import deploy
    from tests.policies.helpers import PACK
    from tierstack.policy_engine import evaluate
    from tierstack.preview.engine import record_resources

    config = {
        "gcp:project": "tierstack-dev",
        "gcp:region": "europe-west1",
        "tierstack:cloud": "gcp",
        "tierstack:app": app,
        "tierstack:env": "prod",
        "tierstack:certificate": f"{app}.example.com",
        "tierstack:repoRef": "0123456789abcdef0123456789abcdef01234567",
    }
    records = record_resources(
        lambda: deploy(parse_settings(config), f"gcp-{app}-prod") and None,
        stack=f"gcp-{app}-prod",
        config=config,
    )
    results = evaluate(
        records, stack=f"gcp-{app}-prod", project="tierstack", pack_dir=PACK, config_file=None
    )
    mandatory = [f"{r['policy']}: {r['message']}" for r in results if r["level"] == "mandatory"]
    assert mandatory == []
    assert len(records) > 40


@pytest.mark.parametrize("stack", STACKS)
def test_every_tier_boots_with_variables_its_playbook_accepts(stack, tmp_path) -> None:
    run = stack_run(stack)
    tiers = {}
    for template in run.of_type("gcp:compute/instanceTemplate:InstanceTemplate"):
        script = template.inputs["metadata"]["startup-script"]
        tiers[template.name] = assert_boot_script_converges_its_tier(script, tmp_path)[
            "tierstack_tier"
        ]
    assert "app" in tiers.values()
    assert len(tiers) == len(
        run.of_type("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    )


SERVICE_APIS = {
    # The API that serves each resource module the stacks create. Project IAM bindings go
    # through Resource Manager's setIamPolicy, custom roles and service accounts through the
    # IAM API (Service Usage docs, "Enabling services", cloud.google.com/service-usage/docs/
    # enable-disable; each resource's REST reference names its service endpoint).
    "compute": {"compute.googleapis.com"},
    "dataproc": {"dataproc.googleapis.com"},
    "firestore": {"firestore.googleapis.com"},
    "monitoring": {"monitoring.googleapis.com"},
    "projects": {"cloudresourcemanager.googleapis.com", "iam.googleapis.com"},
    "pubsub": {"pubsub.googleapis.com"},
    "secretmanager": {"secretmanager.googleapis.com"},
    "serviceaccount": {"iam.googleapis.com"},
    "servicenetworking": {"servicenetworking.googleapis.com"},
    "sql": {"sqladmin.googleapis.com"},
    "storage": {"storage.googleapis.com"},
}


def _documented_apis() -> set[str]:
    """The APIs the README's first-deploy `gcloud services enable` command enables."""
    readme = (Path(stacks.gcp.__file__).parent / "README.md").read_text()
    command = re.search(r"gcloud services enable ((?:[^`]|\\\n)+?)\n\s*```", readme)
    assert command, "stacks/gcp/README.md has no `gcloud services enable` command"
    return set(re.findall(r"[a-z]+\.googleapis\.com", command.group(1)))


@pytest.mark.parametrize("stack", STACKS)
def test_first_deploy_enables_every_api_the_stack_calls(stack: str) -> None:
    """The program does not enable APIs (that needs a Service Usage admin role, and a
    `disable_on_destroy` mistake would switch an API off for the whole project): the README's
    first-deploy command does, and must name the API of every resource the stack creates, or
    the first `pulumi up` on a new project answers 403 "... API has not been used in project"."""
    modules = {
        r.type.split(":")[1].split("/")[0]
        for r in stack_run(stack).resources
        if r.type.startswith("gcp:")
    }
    unknown = modules - SERVICE_APIS.keys()
    assert not unknown, f"which API serves {sorted(unknown)}? add it to SERVICE_APIS"
    needed = set().union(*(SERVICE_APIS[m] for m in modules))
    assert needed - _documented_apis() == set()
