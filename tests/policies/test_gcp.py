"""GCP policies: one compliant prod program passes them all; each violation fires its exact id."""

import pulumi_gcp as gcp
import pytest

from tests.policies.helpers import PACK, Violation, assert_violation, fired, run, tags
from tierstack.policy_engine import describe

IDS = [item["policy"] for item in describe(PACK) if item["tags"][0] == "gcp"]
L = tags("prod")
SHIELDED = {"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True}


def bucket(name: str = "docs", **overrides) -> gcp.storage.Bucket:
    args = {
        "location": "EU",
        "labels": L,
        "public_access_prevention": "enforced",
        "uniform_bucket_level_access": True,
        "versioning": {"enabled": True},
        "lifecycle_rules": [{"action": {"type": "Delete"}, "condition": {"num_newer_versions": 3}}],
    }
    args.update(overrides)
    return gcp.storage.Bucket(name, **args)


def template(name: str = "app", **overrides) -> gcp.compute.InstanceTemplate:
    args = {
        "machine_type": "e2-standard-2",
        "labels": L,
        "disks": [{"source_image": "debian-cloud/debian-12", "boot": True}],
        "network_interfaces": [{"network": "default"}],
        "shielded_instance_config": SHIELDED,
        "metadata": {"enable-oslogin": "TRUE"},
    }
    args.update(overrides)
    return gcp.compute.InstanceTemplate(name, **args)


def sql(name: str = "db", *, settings: dict | None = None, **overrides):
    base = {
        "tier": "db-custom-2-7680",
        "availability_type": "REGIONAL",
        "user_labels": L,
        "ip_configuration": {
            "ipv4_enabled": False,
            "private_network": "vpc",
            "ssl_mode": "ENCRYPTED_ONLY",
        },
        "backup_configuration": {
            "enabled": True,
            "point_in_time_recovery_enabled": True,
            "backup_retention_settings": {"retained_backups": 7},
        },
        "database_flags": [{"name": "log_statement", "value": "ddl"}],
    }
    base.update(settings or {})
    return gcp.sql.DatabaseInstance(
        name, database_version="POSTGRES_16", region="europe-west1", settings=base, **overrides
    )


def mig(min_replicas: int = 2, max_replicas: int = 6, zonal: bool = False) -> None:
    instance_template = template()
    if zonal:
        group = gcp.compute.InstanceGroupManager(
            "app",
            base_instance_name="app",
            zone="europe-west1-b",
            versions=[{"instance_template": instance_template.id}],
        )
    else:
        group = gcp.compute.RegionInstanceGroupManager(
            "app",
            base_instance_name="app",
            region="europe-west1",
            versions=[{"instance_template": instance_template.id}],
        )
    gcp.compute.RegionAutoscaler(
        "app",
        region="europe-west1",
        target=group.id,
        autoscaling_policy={"min_replicas": min_replicas, "max_replicas": max_replicas},
    )


def load_balancer(https: bool = True, redirect: bool = True, tls: str = "TLS_1_2") -> None:
    service = gcp.compute.BackendService("web", log_config={"enable": True})
    url_map = gcp.compute.URLMap("web", default_service=service.id)
    if https:
        policy = gcp.compute.SSLPolicy("modern", min_tls_version=tls, profile="MODERN")
        gcp.compute.TargetHttpsProxy(
            "web", url_map=url_map.id, ssl_policy=policy.id, ssl_certificates=["cert"]
        )
    redirect_map = gcp.compute.URLMap(
        "web-redirect", default_url_redirect={"https_redirect": True, "strip_query": False}
    )
    gcp.compute.TargetHttpProxy("web-http", url_map=(redirect_map if redirect else url_map).id)


def pubsub(dead_letter: bool = True) -> None:
    topic = gcp.pubsub.Topic("jobs", labels=L)
    dead = gcp.pubsub.Topic("jobs-dead", labels=L)
    policy = {"dead_letter_topic": dead.id, "max_delivery_attempts": 5} if dead_letter else None
    gcp.pubsub.Subscription("jobs", topic=topic.id, labels=L, dead_letter_policy=policy)
    gcp.pubsub.Subscription("jobs-dead", topic=dead.id, labels=L)


def compliant() -> None:
    docs = bucket()
    gcp.storage.BucketIAMMember(
        "docs-reader",
        bucket=docs.name,
        role="roles/storage.objectViewer",
        member="serviceAccount:app@p.iam.gserviceaccount.com",
    )
    gcp.compute.Firewall(
        "iap-ssh",
        network="vpc",
        source_ranges=["35.235.240.0/20"],
        allows=[{"protocol": "tcp", "ports": ["22"]}],
    )
    gcp.compute.Firewall(
        "https",
        network="vpc",
        source_ranges=["0.0.0.0/0"],
        allows=[{"protocol": "tcp", "ports": ["443"]}],
    )
    gcp.compute.Subnetwork(
        "app",
        network="vpc",
        ip_cidr_range="10.0.0.0/24",
        log_config={"aggregation_interval": "INTERVAL_5_SEC"},
    )
    gcp.compute.Subnetwork(
        "proxy",
        network="vpc",
        ip_cidr_range="10.1.0.0/24",
        purpose="REGIONAL_MANAGED_PROXY",
        role="ACTIVE",
    )
    mig()
    load_balancer()
    sql()
    pubsub()
    gcp.projects.IAMMember(
        "app-logs",
        project="p",
        role="roles/logging.logWriter",
        member="serviceAccount:app@p.iam.gserviceaccount.com",
    )


@pytest.fixture(scope="module")
def compliant_results():
    return run(compliant)


@pytest.mark.parametrize("policy_id", IDS)
def test_compliant_program_passes(policy_id, compliant_results):
    assert fired(compliant_results, policy_id) == []


def test_compliant_program_passes_every_gcp_policy(compliant_results):
    assert [r for r in compliant_results if r["policy"].startswith("gcp-")] == []


VIOLATIONS = [
    Violation(
        "gcp-storage-bucket-public-access-prevented",
        lambda: bucket(public_access_prevention="inherited"),
        "docs",
    ),
    # never written: the bucket inherits the project's setting
    Violation(
        "gcp-storage-bucket-public-access-prevented",
        lambda: bucket(public_access_prevention=None),
        "docs",
        "default",
    ),
    Violation(
        "gcp-storage-bucket-no-public-members",
        lambda: gcp.storage.BucketIAMMember(
            "public", bucket="docs", role="roles/storage.objectViewer", member="allUsers"
        ),
        "public",
    ),
    Violation(
        "gcp-storage-bucket-uniform-access",
        lambda: bucket(uniform_bucket_level_access=False),
        "docs",
    ),
    Violation(
        "gcp-storage-bucket-versioning-enabled",
        lambda: bucket(versioning={"enabled": False}),
        "docs",
    ),
    Violation(
        "gcp-storage-bucket-lifecycle-configured", lambda: bucket(lifecycle_rules=[]), "docs"
    ),
    Violation(
        "gcp-compute-firewall-no-public-admin-ingress",
        lambda: gcp.compute.Firewall(
            "ssh",
            network="vpc",
            source_ranges=["0.0.0.0/0"],
            allows=[{"protocol": "tcp", "ports": ["20-25"]}],
        ),
        "ssh",
        "ssh-range",
    ),
    Violation(
        "gcp-compute-firewall-no-public-admin-ingress",
        lambda: gcp.compute.Firewall(
            "any", network="vpc", source_ranges=["::/0"], allows=[{"protocol": "all"}]
        ),
        "any",
        "all-ports",
    ),
    # the world written another way than 0.0.0.0/0
    Violation(
        "gcp-compute-firewall-no-public-admin-ingress",
        lambda: gcp.compute.Firewall(
            "ssh",
            network="vpc",
            source_ranges=["0.0.0.0/1", "128.0.0.0/1"],
            allows=[{"protocol": "tcp", "ports": ["22"]}],
        ),
        "ssh",
        "ssh-halves",
    ),
    Violation(
        "gcp-compute-firewall-no-public-admin-ingress",
        lambda: gcp.compute.Firewall(
            "rdp", network="vpc", source_ranges=["::0/0"], allows=[{"protocol": "tcp"}]
        ),
        "rdp",
        "all-ports-ipv6-spelling",
    ),
    Violation(
        "gcp-compute-instance-no-public-ip",
        lambda: template(network_interfaces=[{"network": "default", "access_configs": [{}]}]),
        "app",
    ),
    Violation(
        "gcp-compute-subnet-flow-logs",
        lambda: gcp.compute.Subnetwork("quiet", network="vpc", ip_cidr_range="10.0.0.0/24"),
        "quiet",
    ),
    Violation("gcp-compute-backend-logging", lambda: gcp.compute.BackendService("dark"), "dark"),
    Violation("gcp-compute-shielded-vm", lambda: template(shielded_instance_config=None), "app"),
    Violation("gcp-compute-os-login", lambda: template(metadata={}), "app"),
    Violation(
        "gcp-sql-no-public-ip",
        lambda: sql(settings={"ip_configuration": {"ssl_mode": "ENCRYPTED_ONLY"}}),
        "db",
    ),
    Violation(
        "gcp-sql-ssl-enforced",
        lambda: sql(
            settings={"ip_configuration": {"ipv4_enabled": False, "private_network": "vpc"}}
        ),
        "db",
    ),
    Violation(
        "gcp-sql-backups-enabled",
        lambda: sql(settings={"backup_configuration": {"enabled": False}}),
        "db",
        "off",
    ),
    Violation(
        "gcp-sql-backups-enabled",
        lambda: sql(
            settings={
                "backup_configuration": {
                    "enabled": True,
                    "point_in_time_recovery_enabled": True,
                    "backup_retention_settings": {"retained_backups": 3},
                }
            }
        ),
        "db",
        "short",
    ),
    Violation("gcp-sql-deletion-protection", lambda: sql(deletion_protection=False), "db"),
    # the flag never written: Cloud SQL's default is none
    Violation(
        "gcp-sql-statement-logging",
        lambda: sql(settings={"database_flags": [{"name": "log_connections", "value": "on"}]}),
        "db",
        "default",
    ),
    # the flag present, switched off
    Violation(
        "gcp-sql-statement-logging",
        lambda: sql(settings={"database_flags": [{"name": "log_statement", "value": "none"}]}),
        "db",
        "off",
    ),
    Violation("gcp-pubsub-subscription-dead-letter", lambda: pubsub(dead_letter=False), "jobs"),
    Violation("gcp-lb-https-proxy", lambda: load_balancer(https=False), "web-http"),
    Violation("gcp-lb-http-redirects-to-https", lambda: load_balancer(redirect=False), "web-http"),
    Violation("gcp-lb-modern-tls-policy", lambda: load_balancer(tls="TLS_1_0"), "modern"),
    Violation(
        "gcp-iam-no-primitive-roles",
        lambda: gcp.projects.IAMMember(
            "editor", project="p", role="roles/editor", member="user:a@example.com"
        ),
        "editor",
    ),
    Violation(
        "gcp-iam-no-service-account-keys",
        lambda: gcp.serviceaccount.Key("ci", service_account_id="ci"),
        "ci",
    ),
    Violation("gcp-resource-required-labels", lambda: bucket(labels={"env": "prod"}), "docs"),
    Violation(
        "gcp-sql-required-labels", lambda: sql(settings={"user_labels": {"project": "x"}}), "db"
    ),
    Violation(
        "gcp-compute-machine-type-allowed", lambda: template(machine_type="a2-ultragpu-8g"), "app"
    ),
    Violation("gcp-compute-autoscaler-max-capped", lambda: mig(max_replicas=100), "app"),
    Violation(
        "gcp-compute-mig-multi-zone-prod", lambda: mig(min_replicas=1), "app", "one-instance"
    ),
    Violation("gcp-compute-mig-multi-zone-prod", lambda: mig(zonal=True), "app", "zonal"),
    Violation(
        "gcp-sql-high-availability-prod", lambda: sql(settings={"availability_type": "ZONAL"}), "db"
    ),
]


@pytest.mark.parametrize("violation", VIOLATIONS, ids=lambda v: v.id)
def test_violation_fires_its_policy(violation):
    assert_violation(violation)


def test_every_gcp_policy_has_a_violation_case():
    assert {violation.policy for violation in VIOLATIONS} == set(IDS)


def test_dev_stack_allows_a_single_zonal_instance():
    def dev():
        template(labels=tags("dev"), machine_type="e2-small")
        group = gcp.compute.InstanceGroupManager(
            "app",
            base_instance_name="app",
            zone="europe-west1-b",
            versions=[{"instance_template": "t"}],
        )
        gcp.compute.Autoscaler(
            "app",
            zone="europe-west1-b",
            target=group.id,
            autoscaling_policy={"min_replicas": 1, "max_replicas": 3},
        )

    results = run(dev)
    assert fired(results, "gcp-compute-mig-multi-zone-prod") == []
    assert fired(results, "gcp-compute-machine-type-allowed") == []
