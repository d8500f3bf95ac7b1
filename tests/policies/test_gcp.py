"""GCP policies: one compliant prod program passes them all; each violation fires its exact id."""

import json

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


def load_balancer(
    https: bool = True,
    redirect: bool = True,
    tls: str | None = "TLS_1_2",
    literal_policy: bool = False,
    redirect_paths: bool = False,
) -> None:
    """A compliant load balancer; `redirect_paths` adds a path matcher that serves /api."""
    service = gcp.compute.BackendService("web", log_config={"enable": True})
    url_map = gcp.compute.URLMap("web", default_service=service.id)
    if https:
        policy = gcp.compute.SSLPolicy("modern", min_tls_version=tls, profile="MODERN")
        gcp.compute.TargetHttpsProxy(
            "web",
            url_map=url_map.id,
            ssl_policy="modern" if literal_policy else policy.id,
            ssl_certificates=["cert"],
        )
    matchers = [
        {
            "name": "api",
            "default_url_redirect": {"https_redirect": True, "strip_query": False},
            "path_rules": [{"paths": ["/api/*"], "service": service.id}],
        }
    ]
    redirect_map = gcp.compute.URLMap(
        "web-redirect",
        default_url_redirect={"https_redirect": True, "strip_query": False},
        host_rules=[{"hosts": ["*"], "path_matcher": "api"}] if redirect_paths else None,
        path_matchers=matchers if redirect_paths else None,
    )
    gcp.compute.TargetHttpProxy("web-http", url_map=(redirect_map if redirect else url_map).id)


def pubsub(
    dead_letter: bool = True,
    dead_letter_to_self: bool = False,
    dead_letter_subscription: bool = True,
) -> None:
    topic = gcp.pubsub.Topic("jobs", labels=L)
    dead = gcp.pubsub.Topic("jobs-dead", labels=L)
    target = topic if dead_letter_to_self else dead
    policy = {"dead_letter_topic": target.id, "max_delivery_attempts": 5} if dead_letter else None
    gcp.pubsub.Subscription("jobs", topic=topic.id, labels=L, dead_letter_policy=policy)
    if dead_letter_subscription:
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


def _regional_http_forwards() -> None:
    """A regional external load balancer: HTTP serves the app, HTTPS has no SSL policy."""
    service = gcp.compute.RegionBackendService(
        "web", region="europe-west1", log_config={"enable": True}
    )
    url_map = gcp.compute.RegionUrlMap("web", region="europe-west1", default_service=service.id)
    gcp.compute.RegionTargetHttpsProxy(
        "web", region="europe-west1", url_map=url_map.id, ssl_certificates=["cert"]
    )
    gcp.compute.RegionTargetHttpProxy("web-http", region="europe-west1", url_map=url_map.id)


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
    # --- the way real mistakes look, family by family --------------------------------------
    # storage: settings never written (object ACLs stay possible, no versions kept, no rules)
    Violation(
        "gcp-storage-bucket-uniform-access",
        lambda: bucket(uniform_bucket_level_access=None),
        "docs",
        "default",
    ),
    Violation(
        "gcp-storage-bucket-versioning-enabled", lambda: bucket(versioning=None), "docs", "default"
    ),
    Violation(
        "gcp-storage-bucket-lifecycle-configured",
        lambda: bucket(lifecycle_rules=None),
        "docs",
        "default",
    ),
    # storage: the legacy spelling of "not enforced"
    Violation(
        "gcp-storage-bucket-public-access-prevented",
        lambda: bucket(public_access_prevention="unspecified"),
        "docs",
        "unspecified",
    ),
    # storage: the public grant in a whole IAM policy resource rather than a member
    Violation(
        "gcp-storage-bucket-no-public-members",
        lambda: gcp.storage.BucketIAMPolicy(
            "docs-policy",
            bucket="docs",
            policy_data=json.dumps(
                {
                    "bindings": [
                        {"role": "roles/storage.admin", "members": ["group:ops@example.com"]},
                        {"role": "roles/storage.objectViewer", "members": ["allUsers"]},
                    ]
                }
            ),
        ),
        "docs-policy",
        "policy-resource",
    ),
    # storage: a binding whose list hides the public member among real ones
    Violation(
        "gcp-storage-bucket-no-public-members",
        lambda: gcp.storage.BucketIAMBinding(
            "readers",
            bucket="docs",
            role="roles/storage.objectViewer",
            members=["group:ops@example.com", "allAuthenticatedUsers"],
        ),
        "readers",
        "binding-list",
    ),
    # storage: public through ACL resources (which work once uniform access is off)
    Violation(
        "gcp-storage-bucket-no-public-members",
        lambda: gcp.storage.BucketACL(
            "docs-acl", bucket="docs", role_entities=["OWNER:project-owners-1", "READER:allUsers"]
        ),
        "docs-acl",
        "acl-list",
    ),
    Violation(
        "gcp-storage-bucket-no-public-members",
        lambda: gcp.storage.DefaultObjectAccessControl(
            "docs-default", bucket="docs", role="READER", entity="allUsers"
        ),
        "docs-default",
        "default-object-acl",
    ),
    # compute: the shielded block present, secure boot left to its default (off)
    Violation(
        "gcp-compute-shielded-vm",
        lambda: template(
            shielded_instance_config={"enable_vtpm": True, "enable_integrity_monitoring": True}
        ),
        "app",
        "secure-boot-default",
    ),
    # compute: the shielded block present, vTPM switched off
    Violation(
        "gcp-compute-shielded-vm",
        lambda: template(shielded_instance_config={**SHIELDED, "enable_vtpm": False}),
        "app",
        "vtpm-off",
    ),
    # compute: the OS Login key present, switched off
    Violation(
        "gcp-compute-os-login", lambda: template(metadata={"enable-oslogin": "FALSE"}), "app", "off"
    ),
    # queues: a dead-letter policy without a topic
    Violation(
        "gcp-pubsub-subscription-dead-letter",
        lambda: gcp.pubsub.Subscription(
            "jobs", topic="jobs", labels=L, dead_letter_policy={"max_delivery_attempts": 5}
        ),
        "jobs",
        "no-topic",
    ),
    # queues: dead letters sent back to the subscription's own topic
    Violation(
        "gcp-pubsub-subscription-dead-letter",
        lambda: pubsub(dead_letter_to_self=True),
        "jobs",
        "own-topic",
    ),
    # queues: a dead-letter topic nobody subscribes to (Pub/Sub drops what it receives)
    Violation(
        "gcp-pubsub-subscription-dead-letter",
        lambda: pubsub(dead_letter_subscription=False),
        "jobs-dead",
        "unsubscribed-dead-letter-topic",
    ),
    # load balancers: the redirect map present, but a path matcher serves /api over HTTP
    Violation(
        "gcp-lb-http-redirects-to-https",
        lambda: load_balancer(redirect_paths=True),
        "web-http",
        "path-matcher-forwards",
    ),
    # load balancers: the redirect present, switched off
    Violation(
        "gcp-lb-http-redirects-to-https",
        lambda: gcp.compute.TargetHttpProxy(
            "web-http",
            url_map=gcp.compute.URLMap(
                "web-redirect", default_url_redirect={"https_redirect": False}
            ).id,
        ),
        "web-http",
        "redirect-off",
    ),
    # load balancers: the regional load balancer's resources (another type, the same mistakes)
    Violation("gcp-lb-http-redirects-to-https", _regional_http_forwards, "web-http", "regional"),
    Violation("gcp-lb-modern-tls-policy", _regional_http_forwards, "web", "regional-no-policy"),
    # load balancers: a MODERN policy with the minimum version left to its default (TLS 1.0)
    Violation("gcp-lb-modern-tls-policy", lambda: load_balancer(tls=None), "modern", "default"),
    # load balancers: a modern policy declared, the proxy naming another by a literal string
    Violation(
        "gcp-lb-modern-tls-policy", lambda: load_balancer(literal_policy=True), "web", "literal"
    ),
    # identity: owner in a whole project IAM policy resource
    Violation(
        "gcp-iam-no-primitive-roles",
        lambda: gcp.projects.IAMPolicy(
            "project",
            project="p",
            policy_data=json.dumps(
                {"bindings": [{"role": "roles/owner", "members": ["user:a@example.com"]}]}
            ),
        ),
        "project",
        "policy-resource",
    ),
    Violation(
        "gcp-iam-no-primitive-roles",
        lambda: gcp.projects.IAMBinding(
            "editors", project="p", role="roles/editor", members=["group:dev@example.com"]
        ),
        "editors",
        "binding",
    ),
    # identity: an HMAC key is a long-lived key for a service account too
    Violation(
        "gcp-iam-no-service-account-keys",
        lambda: gcp.storage.HmacKey(
            "s3-compat", service_account_email="app@p.iam.gserviceaccount.com"
        ),
        "s3-compat",
        "hmac",
    ),
    # governance: env spelt another way, owner left blank
    Violation(
        "gcp-resource-required-labels",
        lambda: bucket(labels={**L, "env": "production"}),
        "docs",
        "env-spelling",
    ),
    Violation(
        "gcp-resource-required-labels",
        lambda: bucket(labels={**L, "owner": " "}),
        "docs",
        "blank-owner",
    ),
    Violation(
        "gcp-sql-required-labels",
        lambda: sql(settings={"user_labels": {**L, "cost-center": ""}}),
        "db",
        "blank",
    ),
    # cost: the machine type written as its URL
    Violation(
        "gcp-compute-machine-type-allowed",
        lambda: template(machine_type="zones/europe-west1-b/machineTypes/a2-ultragpu-8g"),
        "app",
        "url",
    ),
    # cost: a fixed-size group with no autoscaler: its target size is the maximum
    Violation(
        "gcp-compute-autoscaler-max-capped",
        lambda: gcp.compute.RegionInstanceGroupManager(
            "fixed",
            base_instance_name="app",
            region="europe-west1",
            target_size=50,
            versions=[{"instance_template": template().id}],
        ),
        "fixed",
        "fixed-size",
    ),
    # reliability: regional in name, pinned to one zone
    Violation(
        "gcp-compute-mig-multi-zone-prod",
        lambda: gcp.compute.RegionInstanceGroupManager(
            "pinned",
            base_instance_name="app",
            region="europe-west1",
            target_size=3,
            distribution_policy_zones=["europe-west1-b"],
            versions=[{"instance_template": template().id}],
        ),
        "pinned",
        "one-zone",
    ),
    # reliability: availability type never written (ZONAL by default)
    Violation(
        "gcp-sql-high-availability-prod",
        lambda: sql(settings={"availability_type": None}),
        "db",
        "default",
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


def test_sharpened_rules_leave_the_safe_forms_alone():
    """ACLs and whole IAM policies naming only real principals, and a path matcher that
    redirects too, are not mistakes."""

    def program():
        gcp.storage.BucketACL("docs-acl", bucket="docs", role_entities=["OWNER:project-owners-1"])
        gcp.projects.IAMPolicy(
            "project",
            project="p",
            policy_data=json.dumps(
                {"bindings": [{"role": "roles/logging.logWriter", "members": ["group:a@b.c"]}]}
            ),
        )
        redirect = {"https_redirect": True}
        redirect_map = gcp.compute.URLMap(
            "web-redirect",
            default_url_redirect=redirect,
            host_rules=[{"hosts": ["*"], "path_matcher": "all"}],
            path_matchers=[{"name": "all", "default_url_redirect": redirect}],
        )
        gcp.compute.TargetHttpProxy("web-http", url_map=redirect_map.id)
        gcp.compute.TargetHttpsProxy(
            "web",
            url_map="web",
            ssl_policy=gcp.compute.SSLPolicy(
                "modern", min_tls_version="TLS_1_2", profile="MODERN"
            ).id,
            ssl_certificates=["cert"],
        )

    assert [r for r in run(program) if r["policy"].startswith("gcp-")] == []
