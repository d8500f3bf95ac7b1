"""Tiers, identities, the load balancer, Dataproc, IoT ingest and alarms on GCP, checked on the
resources the real program declares for a blueprint (resolved values, preview=False)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from stacks.blueprints import BLUEPRINTS
from stacks.blueprints.mapreduce import blueprint as mapreduce_blueprint
from stacks.blueprints.model import Blueprint
from stacks.blueprints.model import ObjectStore as StoreSpec
from stacks.blueprints.settings import APPS
from stacks.common.args import (
    LoadBalancerArgs,
    MapReduceClusterArgs,
    NetworkArgs,
    ObjectStoreArgs,
    TierIdentityArgs,
)
from stacks.gcp import LoadBalancer, MapReduceCluster, Network, ObjectStore, TierIdentity
from stacks.gcp.common import fit
from stacks.program import deploy
from tests.playbook_check import boot_vars
from tests.stacks.gcp.conftest import PROJECT_NUMBER, context_for, run, settings_for
from tests.stacks.harness import REPO_ROOT, Registered, Run

LB_RANGES = ["130.211.0.0/22", "35.191.0.0/16"]
ZONES = ["europe-west1-b", "europe-west1-c"]
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
AUTOSCALER = "gcp:compute/regionAutoscaler:RegionAutoscaler"
FIREWALL = "gcp:compute/firewall:Firewall"
JOB_SUBMITTER_ROLE = "projects/tierstack-dev/roles/mapreduce_dev_hadoop_job_submitter"
SECRET = "gcp:secretmanager/secret:Secret"
SECRET_GRANT = "gcp:secretmanager/secretIamMember:SecretIamMember"
ACCESSOR = "roles/secretmanager.secretAccessor"


@cache
def stack(app: str, env: str = "dev") -> Run:
    overrides: dict[str, Any] = {"env": env}
    if env == "prod":
        overrides["certificate"] = f"{app}.example.com"
        overrides["repoRef"] = "0123456789abcdef0123456789abcdef01234567"
    return run(lambda: deploy(settings_for(app, **overrides), f"gcp-{app}"))


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


def test_load_balancer_is_https_only_with_modern_tls_and_logging() -> None:
    result = stack("image-processing")
    group = result.one(MIG, "web-group")
    backend = result.one("gcp:compute/backendService:BackendService").inputs
    assert backend["backends"][0]["group"] == group.outputs["instanceGroup"]
    assert backend["healthChecks"] == "health-check-id"
    assert backend["logConfig"] == {"enable": True, "sampleRate": 1.0}
    assert backend["loadBalancingScheme"] == "EXTERNAL_MANAGED"
    assert backend["securityPolicy"] == "edge-policy-id"
    armor = result.one("gcp:compute/securityPolicy:SecurityPolicy").inputs["rules"]
    throttle = next(rule for rule in armor if rule["action"] == "throttle")
    assert throttle["rateLimitOptions"]["exceedAction"] == "deny(429)"
    assert throttle["rateLimitOptions"]["rateLimitThreshold"] == {"count": 600, "intervalSec": 60}
    assert {rule["priority"] for rule in armor} == {1000, 2147483647}
    health = result.one("gcp:compute/healthCheck:HealthCheck").inputs["httpHealthCheck"]
    assert health == {"port": 8001, "requestPath": "/healthz"}
    proxy = result.one("gcp:compute/targetHttpsProxy:TargetHttpsProxy").inputs
    assert proxy["sslPolicy"] == "tls-policy-id"
    assert proxy["sslCertificates"] == ["certificate-id"]
    assert proxy["urlMap"] == "https-routes-id"
    tls = result.one("gcp:compute/sSLPolicy:SSLPolicy").inputs
    assert (tls["profile"], tls["minTlsVersion"]) == ("MODERN", "TLS_1_2")
    certificate = result.one("gcp:compute/managedSslCertificate:ManagedSslCertificate").inputs
    assert certificate["managed"] == {"domains": ["203.0.113.10.sslip.io"]}
    redirect = result.one("gcp:compute/uRLMap:URLMap", "http-redirect").inputs
    assert redirect["defaultUrlRedirect"]["httpsRedirect"] is True
    assert result.one("gcp:compute/targetHttpProxy:TargetHttpProxy").inputs["urlMap"] == (
        "http-redirect-id"
    )
    rules = {
        r.inputs["portRange"]: r.inputs["target"]
        for r in result.of_type("gcp:compute/globalForwardingRule:GlobalForwardingRule")
    }
    assert rules == {"443": "https-proxy-id", "80": "http-proxy-id"}
    front_ends = result.one(FIREWALL, "allow-front-ends").inputs
    assert front_ends["sourceRanges"] == LB_RANGES
    assert front_ends["allows"] == [{"protocol": "tcp", "ports": ["8001"]}]
    assert front_ends["targetTags"] == ["image-processing-dev-web-lb-backend"]
    assert result.result["app_url"] == "https://203.0.113.10.sslip.io"


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


def test_load_balancer_serves_one_group_only() -> None:
    context = context_for("image-processing")

    def program() -> None:
        network = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        balancer = LoadBalancer("web-lb", LoadBalancerArgs(context, network, 8000, "/healthz"))
        balancer.serve("group-a")
        balancer.serve("group-b")

    with pytest.raises(Exception, match="already serves an instance group"):
        run(program)


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


def test_job_runner_may_submit_to_this_cluster_only() -> None:
    result = stack("mapreduce")
    runner = "serviceAccount:mapreduce-dev-job-runner@tierstack-dev.iam.gserviceaccount.com"
    cluster_grants = result.of_type("gcp:dataproc/clusterIAMMember:ClusterIAMMember")
    assert [
        (g.inputs["member"], g.inputs["project"], g.inputs["region"], g.inputs["cluster"])
        for g in cluster_grants
    ] == [(runner, "tierstack-dev", "europe-west1", "mapreduce-dev-hadoop")]
    assert cluster_grants[0].inputs["role"] == "roles/dataproc.editor"
    assert cluster_grants[0].parent_urn.endswith("::job-runner-identity")
    role = result.one("gcp:projects/iAMCustomRole:IAMCustomRole").inputs
    assert (role["project"], role["roleId"]) == (
        "tierstack-dev",
        "mapreduce_dev_hadoop_job_submitter",
    )
    assert sorted(role["permissions"]) == [
        "dataproc.jobs.cancel",
        "dataproc.jobs.create",
        "dataproc.jobs.get",
        "dataproc.jobs.list",
    ]
    dataproc_project_grants = [
        (b.inputs["member"], b.inputs["role"])
        for b in result.of_type("gcp:projects/iAMMember:IAMMember")
        if "dataproc" in b.inputs["role"] or "job_submitter" in b.inputs["role"]
    ]
    cluster_account = "serviceAccount:mapreduce-dev-hadoop@tierstack-dev.iam.gserviceaccount.com"
    assert sorted(dataproc_project_grants) == [
        (cluster_account, "roles/dataproc.worker"),
        (runner, JOB_SUBMITTER_ROLE),
    ]
    runner_env = startup_vars(result.one(TEMPLATE, "job-runner-template"))["python_app_env"]
    assert runner_env["MAPREDUCE_CLUSTER_URL"] == (
        "dataproc://tierstack-dev/europe-west1/mapreduce-dev-hadoop"
    )
    web_env = startup_vars(result.one(TEMPLATE, "web-template"))["python_app_env"]
    assert "MAPREDUCE_CLUSTER_URL" not in web_env


def test_cluster_refuses_any_access_but_submit() -> None:
    context = context_for("mapreduce")
    spec = mapreduce_blueprint().mapreduce
    assert spec is not None

    def program() -> None:
        network = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        code = ObjectStore("job-data", ObjectStoreArgs(context, StoreSpec("job-data", "code")))
        logs = ObjectStore("logs", ObjectStoreArgs(context, StoreSpec("logs", "logs")))
        cluster = MapReduceCluster(
            "hadoop", MapReduceClusterArgs(context, spec, network, code, logs)
        )
        cluster.bind(
            "bad", "serviceAccount:x@tierstack-dev.iam.gserviceaccount.com", "read", cluster
        )

    with pytest.raises(Exception, match="mapreduce cluster hadoop: access 'read' does not apply"):
        run(program)


def test_service_account_ids_fit_gcp_limits() -> None:
    context = context_for("social-analytics")

    def program() -> None:
        TierIdentity("sentiment-consumer-identity", TierIdentityArgs(context, "sentiment-consumer"))

    account = run(program).one("gcp:serviceaccount/account:Account").inputs["accountId"]
    assert len(account) == 30
    assert account.startswith("social-analytics-dev-se-")
    assert account == fit("social-analytics-dev-sentiment-consumer", 30)
    assert fit("social-analytics-dev-sentiment-listener", 30) != account


def test_dataproc_cluster_is_internal_with_its_own_account_and_runs_the_job() -> None:
    result = stack("mapreduce")
    cluster = result.one("gcp:dataproc/cluster:Cluster").inputs
    config = cluster["clusterConfig"]
    account = "mapreduce-dev-hadoop@tierstack-dev.iam.gserviceaccount.com"
    assert config["gceClusterConfig"]["internalIpOnly"] is True
    assert config["gceClusterConfig"]["serviceAccount"] == account
    assert config["gceClusterConfig"]["subnetwork"] == "hosts-id"
    assert config["stagingBucket"] == "tierstack-dev-mapreduce-dev-cluster-logs"
    assert config["masterConfig"]["numInstances"] == 1
    assert config["workerConfig"]["numInstances"] == 2
    job = result.one("gcp:dataproc/job:Job").inputs
    data = "gs://tierstack-dev-mapreduce-dev-job-data"
    assert job["placement"] == {"clusterName": "mapreduce-dev-hadoop"}
    assert job["hadoopConfig"]["fileUris"] == [
        f"{data}/jobs/inverted-index/mapper.py",
        f"{data}/jobs/inverted-index/reducer.py",
    ]
    assert job["hadoopConfig"]["args"] == [
        "-mapper", "python3 mapper.py",
        "-reducer", "python3 reducer.py",
        "-input", f"{data}/input/",
        "-output", f"{data}/output/inverted-index",
    ]  # fmt: skip
    mapper = result.one("gcp:storage/bucketObject:BucketObject", "inverted-index-mapper")
    expected = (REPO_ROOT / "stacks/blueprints/jobs/inverted_index/mapper.py").read_text()
    assert mapper.inputs["source"].text == expected
    internal = result.one(FIREWALL, "hadoop-internal").inputs
    assert internal["sourceTags"] == internal["targetTags"] == ["mapreduce-dev-hadoop-node"]
    assert "sourceRanges" not in internal
    buckets = {
        (b.inputs["bucket"], b.inputs["role"])
        for b in result.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if b.inputs["member"] == f"serviceAccount:{account}"
    }
    assert buckets == {
        ("tierstack-dev-mapreduce-dev-job-data", "roles/storage.objectUser"),
        ("tierstack-dev-mapreduce-dev-job-data", "roles/storage.legacyBucketReader"),
        ("tierstack-dev-mapreduce-dev-cluster-logs", "roles/storage.objectUser"),
        ("tierstack-dev-mapreduce-dev-cluster-logs", "roles/storage.legacyBucketReader"),
    }
    prod = stack("mapreduce", "prod").one("gcp:dataproc/cluster:Cluster").inputs["clusterConfig"]
    assert (prod["masterConfig"]["numInstances"], prod["workerConfig"]["numInstances"]) == (3, 4)


def test_iot_brokers_sit_behind_a_tcp_proxy_on_8883_and_bridge_to_pubsub() -> None:
    result = stack("iot-gateway")
    rule = result.one(
        "gcp:compute/globalForwardingRule:GlobalForwardingRule", "device-ingest-mqtts"
    )
    assert (rule.inputs["portRange"], rule.inputs["target"]) == ("8883", "device-ingest-proxy-id")
    assert rule.inputs["ipAddress"] == "203.0.113.20"
    proxy = result.one("gcp:compute/targetTCPProxy:TargetTCPProxy").inputs
    assert proxy["backendService"] == "device-ingest-backend-id"
    backend = result.one("gcp:compute/backendService:BackendService", "device-ingest-backend")
    brokers = result.one(MIG, "gateway-group")
    assert backend.inputs["protocol"] == "TCP"
    assert backend.inputs["backends"][0]["group"] == brokers.outputs["instanceGroup"]
    assert brokers.inputs["targetSize"] == 1
    assert brokers.inputs["namedPorts"] == [{"name": "mqtts", "port": 8883}]
    firewall = result.one(FIREWALL, "device-ingest-allow-front-ends").inputs
    assert firewall["sourceRanges"] == LB_RANGES
    assert firewall["allows"] == [{"protocol": "tcp", "ports": ["8883"]}]
    variables = startup_vars(result.one(TEMPLATE, "gateway-template"))
    assert variables["tierstack_tier"] == "gateway"
    assert variables["python_app_env"] == {
        "MQTT_TOPIC_FILTER": "devices/+/telemetry",
        "QUEUE_URL": "pubsub://tierstack-dev/iot-gateway-dev-telemetry/iot-gateway-dev-telemetry-sub",
    }
    bridge = result.one("gcp:pubsub/topicIAMMember:TopicIAMMember", "device-ingest-bridge")
    assert bridge.inputs["topic"] == "telemetry-topic-id"
    assert bridge.inputs["role"] == "roles/pubsub.publisher"
    assert bridge.inputs["member"].startswith("serviceAccount:iot-gateway-dev-device-ingest@")
    assert stack("iot-gateway", "prod").one(MIG, "gateway-group").inputs["targetSize"] == 2


def test_alarms_watch_errors_backlog_dead_letters_and_cpu() -> None:
    result = stack("image-processing")
    policies = {p.name: p.inputs for p in result.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}
    assert set(policies) == {
        "server-errors",
        "filter-jobs-backlog-age",
        "filter-jobs-dead-letters",
        "web-cpu",
        "filter-worker-cpu",
    }

    def condition(name: str) -> dict[str, Any]:
        return policies[name]["conditions"][0]["conditionThreshold"]

    assert (
        'url_map_name = "image-processing-dev-web-lb-https"' in condition("server-errors")["filter"]
    )
    assert "response_code_class = 500" in condition("server-errors")["filter"]
    assert (
        'subscription_id = "image-processing-dev-filter-jobs-sub"'
        in (condition("filter-jobs-backlog-age")["filter"])
    )
    assert condition("filter-jobs-backlog-age")["thresholdValue"] == 900
    assert (
        'subscription_id = "image-processing-dev-filter-jobs-sub-dead-letter"'
        in (condition("filter-jobs-dead-letters")["filter"])
    )
    assert (
        'metadata.user_labels."tier" = "filter-worker"' in condition("filter-worker-cpu")["filter"]
    )
    channel = result.one("gcp:monitoring/notificationChannel:NotificationChannel", "alerts-topic")
    assert channel.inputs["labels"] == {"topic": "alerts-id"}
    for policy in policies.values():
        assert policy["notificationChannels"] == [channel.outputs["name"]]
    agent = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-monitoring-notification"
    publisher = result.one("gcp:pubsub/topicIAMMember:TopicIAMMember", "alerts-publisher").inputs
    assert publisher["topic"] == "alerts-id"
    assert publisher["member"] == f"{agent}.iam.gserviceaccount.com"
