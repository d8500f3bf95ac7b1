"""AppTier, WorkerTier and TierIdentity on GCP: templates, groups, scaling and bindings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.blueprints import BLUEPRINTS
from stacks.blueprints.model import Blueprint
from stacks.blueprints.settings import APPS
from stacks.common.args import TierIdentityArgs
from stacks.gcp import TierIdentity
from stacks.gcp.common import fit
from tests.playbook_check import boot_vars
from tests.stacks.gcp.conftest import context_for, run
from tests.stacks.gcp.support import stack
from tests.stacks.harness import Registered

ZONES = ["europe-west1-b", "europe-west1-c"]
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
AUTOSCALER = "gcp:compute/regionAutoscaler:RegionAutoscaler"
FIREWALL = "gcp:compute/firewall:Firewall"
JOB_SUBMITTER_ROLE = "projects/tierstack-dev/roles/mapreduce_dev_hadoop_job_submitter"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_GRANT = "gcp:secretmanager/secretIamMember:SecretIamMember"
ACCESSOR = "roles/secretmanager.secretAccessor"


def secret_ref(secret_id: str) -> str:
    return f"gcp-secretmanager://projects/tierstack-dev/secrets/{secret_id}/versions/latest"


def account(app: str, tier: str) -> str:
    """The IAM member of a tier's service account in the dev stack of `app`."""
    return f"serviceAccount:{fit(f'{app}-dev-{tier}', 30)}@tierstack-dev.iam.gserviceaccount.com"


def app_blueprint(app: str) -> Blueprint:
    blueprint = BLUEPRINTS[app]()
    assert blueprint.app is not None, f"{app} has no app tier"
    return blueprint


def startup_vars(template: Registered) -> dict[str, Any]:
    """The vars.yml the bootstrap writes, parsed back out of the startup script."""
    script = template.inputs["metadata"]["startup-script"]
    return boot_vars(script)


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


def test_worker_scales_on_its_subscription_backlog_and_takes_no_traffic() -> None:
    result = stack("image-processing")
    policy = result.one(AUTOSCALER, "filter-worker-autoscaler").inputs["autoscalingPolicy"]
    assert policy["metrics"] == [
        {
            "name": "pubsub.googleapis.com/subscription/num_undelivered_messages",
            "filter": "resource.type = pubsub_subscription AND resource.labels.subscription_id"
            ' = "image-processing-dev-filter-jobs-sub"',
            "singleInstanceAssignment": 10,
        }
    ]
    assert "cpuUtilization" not in policy
    template = result.one(TEMPLATE, "filter-worker-template").inputs
    assert template["tags"] == ["image-processing-dev-vm"]
    assert startup_vars(result.one(TEMPLATE, "filter-worker-template"))["tierstack_tier"] == (
        "worker"
    )
    group = result.one(MIG, "filter-worker-group").inputs
    assert "namedPorts" not in group or group["namedPorts"] == []
    firewall_targets = {tag for f in result.of_type(FIREWALL) for tag in f.inputs["targetTags"]}
    assert firewall_targets == {"image-processing-dev-vm", "image-processing-dev-web-lb-backend"}


def test_each_tier_is_bound_exactly_on_what_it_uses() -> None:
    result = stack("mapreduce")
    members: dict[str, set[tuple[str, str]]] = {}
    for binding in result.walk():
        if not binding.type.lower().endswith("iammember"):  # SecretIamMember too
            continue
        target = next(
            binding.inputs[key]
            for key in ("bucket", "topic", "subscription", "secretId", "cluster", "project")
            if key in binding.inputs
        )
        condition = binding.inputs.get("condition", {}).get("expression", "")
        members.setdefault(binding.inputs["member"], set()).add(
            (binding.inputs["role"], f"{target} {condition}".strip())
        )
    web = "serviceAccount:mapreduce-dev-web@tierstack-dev.iam.gserviceaccount.com"
    assert members[web] == {
        ("roles/logging.logWriter", "tierstack-dev"),
        ("roles/monitoring.metricWriter", "tierstack-dev"),
        ("roles/storage.objectUser", "tierstack-dev-mapreduce-dev-job-data"),
        ("roles/storage.legacyBucketReader", "tierstack-dev-mapreduce-dev-job-data"),
        ("roles/pubsub.publisher", "job-requests-topic-id"),
        ("roles/pubsub.viewer", "job-requests-subscription-id"),  # the readiness check
        ("roles/secretmanager.secretAccessor", "web-session-key-secret-id"),
        (  # the web tier records jobs and idempotency keys: read-write on the status table
            "roles/datastore.user",
            'tierstack-dev resource.name == "projects/tierstack-dev/databases/'
            'mapreduce-dev-job-status"',
        ),
    }
    runner = "serviceAccount:mapreduce-dev-job-runner@tierstack-dev.iam.gserviceaccount.com"
    assert ("roles/pubsub.subscriber", "job-requests-subscription-id") in members[runner]
    assert ("roles/pubsub.publisher", "job-requests-dead-letter-topic-id") in members[runner]
    assert ("roles/pubsub.publisher", "job-done-topic-id") in members[runner]
    assert not [
        grant for grant in members[runner] if "job-data" not in grant[1] and "storage" in grant[0]
    ]
    roles = {role for grants in members.values() for role, _ in grants}
    assert not roles & {"roles/owner", "roles/editor", "roles/viewer"}
    # Every project-level grant but log/metric writing, Dataproc's worker role and the job
    # submitter role (no Dataproc resource can be named in a condition) is conditional.
    for binding in result.of_type("gcp:projects/iAMMember:IAMMember"):
        if binding.inputs["role"] not in (
            "roles/logging.logWriter",
            "roles/monitoring.metricWriter",
            "roles/dataproc.worker",
            JOB_SUBMITTER_ROLE,
        ):
            assert binding.inputs["condition"]["expression"].startswith("resource.name == ")


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
def test_worker_tiers_run_in_production_without_the_session_key(app: str) -> None:
    result = stack(app)
    for worker in app_blueprint(app).workers:
        env = startup_vars(result.one(TEMPLATE, f"{worker.name}-template"))["python_app_env"]
        assert env["APP_ENV"] == "production", worker.name
        assert "SECRET_KEY_REF" not in env, worker.name
        assert ("DATABASE_PASSWORD_REF" in env) == ("DATABASE_URL" in env), worker.name


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
    password_secret = result.one(SECRET, "drive-db-password-secret").inputs["secretId"]
    assert password_secret == "cloud-drive-dev-drive-db-password"
    env = startup_vars(result.one(TEMPLATE, "web-template"))["python_app_env"]
    assert env["DATABASE_URL"].startswith("postgresql://drive_app@")
    assert env["DATABASE_PASSWORD_REF"] == secret_ref(password_secret)
    assert env["SECRET_KEY_REF"] == secret_ref("cloud-drive-dev-web-session-key")
    web_secrets = {
        g.inputs["secretId"]
        for g in result.of_type(SECRET_GRANT)
        if g.inputs["member"] == account("cloud-drive", "web") and g.inputs["role"] == ACCESSOR
    }
    assert web_secrets == {"drive-db-password-secret-id", "web-session-key-secret-id"}


@pytest.mark.parametrize("app", APPS)
def test_only_the_app_tier_may_read_the_session_key(app: str) -> None:
    blueprint = app_blueprint(app)
    tier = blueprint.app.name
    result = stack(app)
    session_key = f"{tier}-session-key-secret-id"  # the mocks' id of the session key's Secret
    readers = [
        (g.inputs["member"], g.inputs["role"], g.parent_urn.rsplit("::", 1)[-1])
        for g in result.of_type(SECRET_GRANT)
        if g.inputs["secretId"] == session_key
    ]
    assert readers == [(account(app, tier), ACCESSOR, f"{tier}-identity")]
    app_secrets = {
        g.inputs["secretId"]
        for g in result.of_type(SECRET_GRANT)
        if g.inputs["member"] == account(app, tier)
    }
    databases = {
        f"{use.target}-password-secret-id"
        for use in blueprint.app.uses
        if use.env_var == "DATABASE_URL"
    }
    assert app_secrets == {session_key} | databases
    for worker in blueprint.workers:
        worker_secrets = {
            g.inputs["secretId"]
            for g in result.of_type(SECRET_GRANT)
            if g.inputs["member"] == account(app, worker.name)
        }
        assert session_key not in worker_secrets, worker.name


def test_service_account_ids_fit_gcp_limits() -> None:
    context = context_for("social-analytics")

    def program() -> None:
        TierIdentity("sentiment-consumer-identity", TierIdentityArgs(context, "sentiment-consumer"))

    account = run(program).one("gcp:serviceaccount/account:Account").inputs["accountId"]
    assert len(account) == 30
    assert account.startswith("social-analytics-dev-se-")
    assert account == fit("social-analytics-dev-sentiment-consumer", 30)
    assert fit("social-analytics-dev-sentiment-listener", 30) != account
