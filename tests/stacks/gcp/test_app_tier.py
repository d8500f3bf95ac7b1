"""AppTier on GCP: the hardened template, the group, CPU scaling and the HTTPS route, resolved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from stacks.blueprints.settings import APPS
from tests.stacks.gcp.support import (
    ACCESSOR,
    AUTOSCALER,
    MIG,
    SECRET_GRANT,
    TEMPLATE,
    account,
    app_blueprint,
    stack,
    startup_vars,
)
from tests.stacks.gcp.test_stacks import stack_run

ZONES = ["europe-west1-b", "europe-west1-c"]


SECRET = "gcp:secretmanager/secret:Secret"


def secret_ref(secret_id: str) -> str:
    return f"gcp-secretmanager://projects/tierstack-dev/secrets/{secret_id}/versions/latest"


def test_app_template_is_hardened_and_boots_into_ansible_pull() -> None:
    result = stack("image-processing")
    template = result.one(TEMPLATE, "web-template")
    inputs = template.inputs
    assert inputs["networkInterfaces"] == [{"subnetwork": "hosts-id"}]  # no accessConfigs
    assert inputs["shieldedInstanceConfig"] == {
        "enableSecureBoot": True,
        "enableVtpm": True,
        "enableIntegrityMonitoring": True,
    }
    assert inputs["metadata"]["enable-oslogin"] == "TRUE"
    assert inputs["metadata"]["block-project-ssh-keys"] == "TRUE"
    assert inputs["machineType"] == "e2-small"
    assert inputs["serviceAccount"]["email"] == (
        "image-processing-dev-web@tierstack-dev.iam.gserviceaccount.com"
    )
    assert inputs["tags"] == ["image-processing-dev-vm", "image-processing-dev-web-lb-backend"]
    assert inputs["labels"]["tier"] == "web"
    script = inputs["metadata"]["startup-script"]
    assert "/opt/ansible/bin/ansible-pull" in script
    assert "playbooks/image-processing.yml" in script
    assert startup_vars(template) == {
        "tierstack_app": "image-processing",
        "tierstack_tier": "app",
        "tierstack_env": "dev",
        "tierstack_network_cidr": "10.40.0.0/16",
        # Google's front ends reach the app port, IAP reaches SSH (test_host_firewall.py
        # renders the resulting nftables rules).
        "common_firewall_extra_sources": [
            {"port": 22, "sources": ["35.235.240.0/20"]},
            {"port": 8001, "sources": ["130.211.0.0/22", "35.191.0.0/16"]},
        ],
        "common_ntp_servers": ["metadata.google.internal"],
        "python_app_env": {
            "APP_ENV": "production",
            "KV_URL": "firestore://job-status?database=image-processing-dev-job-status",
            "OBJECT_STORE_URL": "gs://tierstack-dev-image-processing-dev-images",
            "PROXY_HOPS": "2",
            "QUEUE_URL": "pubsub://tierstack-dev/image-processing-dev-filter-jobs/"
            "image-processing-dev-filter-jobs-sub",
            "SECRET_KEY_REF": "gcp-secretmanager://projects/tierstack-dev/secrets/"
            "image-processing-dev-web-session-key/versions/latest",
        },
    }


def test_app_group_spans_zones_heals_and_scales_on_cpu() -> None:
    result = stack("image-processing")
    group = result.one(MIG, "web-group").inputs
    template = result.one(TEMPLATE, "web-template")
    assert group["distributionPolicyZones"] == ZONES
    assert group["versions"] == [
        {"name": "primary", "instanceTemplate": template.outputs["selfLinkUnique"]}
    ]
    assert group["namedPorts"] == [{"name": "http", "port": 8001}]
    assert group["autoHealingPolicies"] == {
        "healthCheck": "health-check-id",
        "initialDelaySec": 900,  # longer than a first boot converges
    }
    assert group["updatePolicy"]["maxUnavailableFixed"] == 0
    policy = result.one(AUTOSCALER, "web-autoscaler").inputs["autoscalingPolicy"]
    assert (policy["minReplicas"], policy["maxReplicas"]) == (1, 3)
    assert policy["cpuUtilization"] == {"target": 0.6}


def test_prod_uses_the_configured_domain_and_two_instances_per_tier() -> None:
    result = stack("image-processing", "prod")
    certificate = result.one("gcp:compute/managedSslCertificate:ManagedSslCertificate").inputs
    assert certificate["managed"] == {"domains": ["image-processing.example.com"]}
    assert result.result["app_url"] == "https://image-processing.example.com"
    for autoscaler in result.of_type(AUTOSCALER):
        assert autoscaler.inputs["autoscalingPolicy"]["minReplicas"] >= 2, autoscaler.name
    for group in result.of_type(MIG):
        assert group.inputs["distributionPolicyZones"] == ZONES
    assert {t.inputs["machineType"] for t in result.of_type(TEMPLATE)} == {"e2-standard-2"}
    assert len(result.of_type("gcp:compute/address:Address")) == 2


@pytest.mark.parametrize("app", APPS)
def test_app_tier_runs_in_production_with_a_session_key_reference(app: str) -> None:
    blueprint = app_blueprint(app)
    tier = blueprint.app.name
    result = stack(app)
    session_key = result.one(SECRET, f"{tier}-session-key-secret").inputs["secretId"]
    assert session_key == f"{app}-dev-{tier}-session-key"
    env = startup_vars(result.one(TEMPLATE, f"{tier}-template"))["python_app_env"]
    assert env["APP_ENV"] == "production"
    assert env["SECRET_KEY_REF"] == secret_ref(session_key)
    assert "SECRET_KEY" not in env
    assert ("DATABASE_PASSWORD_REF" in env) == ("DATABASE_URL" in env)


@pytest.mark.parametrize("app", APPS)
def test_no_secret_value_reaches_a_startup_script(app: str) -> None:
    result = stack(app)
    values = [
        r.outputs["result"] for r in result.of_type("random:index/randomPassword:RandomPassword")
    ]
    assert values, "the stack generates no secret"
    for template in result.of_type(TEMPLATE):
        metadata = json.dumps(template.inputs["metadata"])
        for value in values:
            assert value not in metadata, template.name


def test_cloud_drive_app_reads_the_database_password_by_reference() -> None:
    result = stack("cloud-drive")
    password_secret = result.one(SECRET, "drive-db-app-password-secret").inputs["secretId"]
    assert password_secret == "cloud-drive-dev-drive-db-app-password"
    env = startup_vars(result.one(TEMPLATE, "web-template"))["python_app_env"]
    assert env["DATABASE_URL"].startswith("postgresql://drive_app@")
    assert env["DATABASE_PASSWORD_REF"] == secret_ref(password_secret)
    assert env["SECRET_KEY_REF"] == secret_ref("cloud-drive-dev-web-session-key")
    web_secrets = {
        g.inputs["secretId"]
        for g in result.of_type(SECRET_GRANT)
        if g.inputs["member"] == account("cloud-drive", "web") and g.inputs["role"] == ACCESSOR
    }
    # The admin's password is for root's converge step, which creates the app role.
    assert web_secrets == {
        "drive-db-app-password-secret-id",
        "drive-db-password-secret-id",
        "web-session-key-secret-id",
    }


BALANCER = "tierstack:gcp:LoadBalancer"
HTTPS_ROUTE = {
    "gcp:compute/backendService:BackendService": "backend",
    "gcp:compute/uRLMap:URLMap": "https-routes",
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy": "https-proxy",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": "https",
}
URNS_BEFORE_MOVE = yaml.safe_load(
    (Path(__file__).parent / "load_balancer_urns_before_move.yaml").read_text()
)


def test_the_app_tier_routes_https_to_its_own_group() -> None:
    """The tier joins the balancer (as AWS joins the target group): the HTTPS chain is its
    child and ends at its group, with the balancer's health check, policies and certificate."""
    result = stack("image-processing")
    tier = result.one("tierstack:gcp:AppTier", "web")
    route = {r.type: r for r in result.children_of(tier.urn) if r.type in HTTPS_ROUTE}
    assert {t: r.name for t, r in route.items()} == HTTPS_ROUTE
    backend = route["gcp:compute/backendService:BackendService"].inputs
    group = result.one(MIG, "web-group")
    assert backend["backends"] == [
        {
            "group": group.outputs["instanceGroup"],
            "balancingMode": "UTILIZATION",
            "maxUtilization": 0.8,
            "capacityScaler": 1.0,
        }
    ]
    assert backend["name"] == "image-processing-dev-web-lb-backend"
    url_map = route["gcp:compute/uRLMap:URLMap"].inputs
    assert (url_map["name"], url_map["defaultService"]) == (
        "image-processing-dev-web-lb-https",  # the name the alarms filter on
        "backend-id",
    )
    rule = route["gcp:compute/globalForwardingRule:GlobalForwardingRule"].inputs
    assert (rule["ipAddress"], rule["portRange"]) == ("203.0.113.10", "443")


@pytest.mark.parametrize("stack_name", sorted(URNS_BEFORE_MOVE))
def test_moved_https_route_keeps_the_urns_it_had_under_the_balancer(stack_name: str) -> None:
    """A real `pulumi up` on a stack deployed before the move matches each moved resource to
    its old URN through the alias, so nothing is replaced: the balancer's children now plus the
    aliases of the moved ones are exactly its children before."""
    result = stack_run(stack_name)
    before = set(URNS_BEFORE_MOVE[stack_name])
    still_there = {r.urn for r in result.children_of(result.one(BALANCER).urn)}
    # The provider's own type-rename aliases are on other resources too: keep the old URNs.
    moved = [r for r in result.resources if set(r.aliases) & before]
    assert sorted((r.type, r.name) for r in moved) == sorted(HTTPS_ROUTE.items())
    assert {r.parent_urn for r in moved} == {result.one("tierstack:gcp:AppTier").urn}
    old_urns = {alias for r in moved for alias in r.aliases} & before
    assert still_there | old_urns == before
    assert not still_there & old_urns
