"""GCP policies (pulumi-gcp 10 resource types; inputs use the provider's camelCase wire names).

Not checked because GCP gives no choice: encryption at rest (Cloud Storage, disks, Pub/Sub and
Cloud SQL always encrypt) and TLS-only bucket access (Cloud Storage serves HTTPS only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyResource, Severity

from .common import (
    ADMIN_PORTS,
    ENV_SCHEMA,
    PUBLIC_CIDRS,
    REQUIRED_TAGS_SCHEMA,
    UNKNOWN,
    Meta,
    cap_exceeded,
    cap_schema,
    elements,
    env_of,
    falsy,
    linked_urns,
    number,
    of_type,
    required_tags_check,
    resource_policy,
    scalars,
    size_allowed,
    sizes_schema,
    stack_env,
    stack_policy,
    tags_of,
    truthy,
    value,
)

MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL

BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_IAM_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
BUCKET_IAM_BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
FIREWALL = "gcp:compute/firewall:Firewall"
TEMPLATES = (
    "gcp:compute/instanceTemplate:InstanceTemplate",
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
)
INSTANCE = "gcp:compute/instance:Instance"
HOSTS = (*TEMPLATES, INSTANCE)
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
BACKEND_SERVICES = (
    "gcp:compute/backendService:BackendService",
    "gcp:compute/regionBackendService:RegionBackendService",
)
SQL_INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"
URL_MAP = "gcp:compute/uRLMap:URLMap"
SSL_POLICY = "gcp:compute/sSLPolicy:SSLPolicy"
PROJECT_IAM = (
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:folder/iAMMember:IAMMember",
    "gcp:folder/iAMBinding:IAMBinding",
    "gcp:organizations/iAMMember:IAMMember",
    "gcp:organizations/iAMBinding:IAMBinding",
)
SERVICE_ACCOUNT_KEY = "gcp:serviceaccount/key:Key"
AUTOSCALERS = ("gcp:compute/regionAutoscaler:RegionAutoscaler", "gcp:compute/autoscaler:Autoscaler")
REGIONAL_MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
ZONAL_MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"

LABELED = (
    BUCKET,
    *HOSTS,
    TOPIC,
    SUBSCRIPTION,
    "gcp:compute/disk:Disk",
    "gcp:dataproc/cluster:Cluster",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule",
)
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
PRIMITIVE_ROLES = {"roles/owner", "roles/editor"}
DEFAULT_SIZES = {
    "dev": ["e2-micro", "e2-small", "e2-medium", "e2-standard-2"],
    "prod": [
        "e2-standard-2",
        "e2-standard-4",
        "n2-standard-2",
        "n2-standard-4",
        "t2d-standard-2",
        "t2d-standard-4",
        "c3-standard-4",
    ],
}
DEFAULT_CAPS = {"dev": 4, "prod": 20}


def _meta(
    policy_id: str, family: str, severity: Any, level: Any, description: str, remediation: str
) -> Meta:
    return Meta(policy_id, "gcp", family, severity, level, description, remediation)


def _labels(props: Mapping[str, Any], type_: str) -> Any:
    if type_ == SQL_INSTANCE:
        settings = value(props, "settings")
        return UNKNOWN if settings is UNKNOWN else tags_of(settings or {}, "userLabels")
    return tags_of(props, "labels")


def _env(props: Mapping[str, Any], config: Mapping[str, Any], type_: str) -> str | None:
    return env_of(_labels(props, type_), config)


# --- object storage ---------------------------------------------------------------------------


def _check_public_prevention(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    prevention = value(props, "publicAccessPrevention")
    if prevention not in ("enforced", UNKNOWN):
        yield f"publicAccessPrevention is {prevention or 'inherited'}, not 'enforced'"


def _check_public_members(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    members = scalars(props, "member") + scalars(props, "members")
    for member in members:
        if member in PUBLIC_MEMBERS:
            yield f"grants {value(props, 'role')} to {member}"


def _check_uniform_access(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    uniform = value(props, "uniformBucketLevelAccess")
    if uniform is not UNKNOWN and not truthy(uniform):
        yield "uniformBucketLevelAccess is not true (object ACLs stay possible)"


def _check_versioning(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    enabled = value(props, "versioning", "enabled")
    if enabled is not UNKNOWN and not truthy(enabled):
        yield "versioning is not enabled"


def _check_lifecycle(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    if not elements(props, "lifecycleRules"):
        yield "no lifecycleRules"


# --- network ----------------------------------------------------------------------------------


def _firewall_exposes(allow: Any) -> str | None:
    protocol = value(allow, "protocol")
    if protocol == "all":
        return "all ports"
    ports = elements(allow, "ports")
    if ports is UNKNOWN or protocol not in ("tcp", "udp", "sctp"):
        return None
    if not ports:
        return f"all {protocol} ports"
    for port_range in ports:
        if not isinstance(port_range, str):
            continue
        low, _, high = port_range.partition("-")
        low_port, high_port = number(low), number(high or low)
        if low_port is None or high_port is None:
            continue
        if low_port <= 0 and high_port >= 65535:
            return "all ports"
        for port, name in ADMIN_PORTS.items():
            if low_port <= port <= high_port:
                return f"{name} (port {port})"
    return None


def _check_firewall(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    if value(props, "direction") not in (None, "INGRESS") or truthy(value(props, "disabled")):
        return
    world = next((cidr for cidr in scalars(props, "sourceRanges") if cidr in PUBLIC_CIDRS), None)
    if world is None:
        return
    allows = elements(props, "allows")
    for allow in allows if isinstance(allows, list) else []:
        exposed = _firewall_exposes(allow)
        if exposed:
            yield f"allows {exposed} from {world}"


def _check_no_public_ip(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    interfaces = elements(props, "networkInterfaces")
    for interface in interfaces if isinstance(interfaces, list) else []:
        if elements(interface, "accessConfigs") or elements(interface, "ipv6AccessConfigs"):
            yield "a network interface has an access config (external IP); use Cloud NAT"


def _check_subnet_flow_logs(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    if value(props, "purpose") not in (None, "PRIVATE"):
        return  # proxy-only and PSC subnets carry no VM traffic and cannot log flows
    if value(props, "logConfig") is None:
        yield "VPC flow logs are off (no logConfig)"


def _check_backend_logging(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    enabled = value(props, "logConfig", "enable")
    if enabled is not UNKNOWN and not truthy(enabled):
        yield "load balancer request logging is off (logConfig.enable)"


# --- compute ----------------------------------------------------------------------------------


def _check_shielded(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    shielded = value(props, "shieldedInstanceConfig")
    if shielded is UNKNOWN:
        return
    if not truthy(value(shielded, "enableSecureBoot")):
        yield "shieldedInstanceConfig.enableSecureBoot is not true"
    for flag in ("enableVtpm", "enableIntegrityMonitoring"):
        if falsy(value(shielded, flag)):
            yield f"shieldedInstanceConfig.{flag} is false"


def _check_os_login(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    enabled = value(props, "metadata", "enable-oslogin")
    if enabled is not UNKNOWN and str(enabled).upper() != "TRUE":
        yield "metadata enable-oslogin is not TRUE (SSH keys in metadata stay possible)"


# --- databases --------------------------------------------------------------------------------


def _check_sql_public(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    ipv4 = value(props, "settings", "ipConfiguration", "ipv4Enabled")
    if ipv4 is not UNKNOWN and not falsy(ipv4):
        yield "a public IPv4 address is enabled (set ipConfiguration.ipv4Enabled false)"


def _check_sql_ssl(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    mode = value(props, "settings", "ipConfiguration", "sslMode")
    if mode not in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED", UNKNOWN):
        yield f"sslMode is {mode or 'unset'}: unencrypted connections are accepted"


def _check_sql_backups(props: Mapping[str, Any], config: Mapping[str, Any], type_: str):
    backup = value(props, "settings", "backupConfiguration")
    if backup is UNKNOWN:
        return
    if not truthy(value(backup, "enabled")):
        yield "automated backups are not enabled"
        return
    if _env(props, config, type_) != "prod":
        return
    retained = number(value(backup, "backupRetentionSettings", "retainedBackups"))
    if retained is not None and retained < config["minRetentionDays"]:
        yield f"keeps {retained:g} daily backups, below {config['minRetentionDays']} in prod"
    if (
        falsy(value(backup, "pointInTimeRecoveryEnabled"))
        or value(backup, "pointInTimeRecoveryEnabled") is None
    ):
        yield "point-in-time recovery is not enabled in prod"


def _check_sql_deletion(props: Mapping[str, Any], config: Mapping[str, Any], type_: str):
    if _env(props, config, type_) == "prod" and falsy(value(props, "deletionProtection")):
        yield "deletionProtection is false in prod"


def _check_sql_ha(props: Mapping[str, Any], config: Mapping[str, Any], type_: str):
    availability = value(props, "settings", "availabilityType")
    if _env(props, config, type_) == "prod" and availability not in ("REGIONAL", UNKNOWN):
        yield f"availabilityType is {availability or 'ZONAL'}, not REGIONAL, in prod"


def _check_sql_labels(props: Mapping[str, Any], config: Mapping[str, Any], type_: str):
    settings = value(props, "settings")
    if settings is not UNKNOWN:
        yield from required_tags_check("userLabels", "labels")(settings or {}, config, type_)


# --- queues -----------------------------------------------------------------------------------


def _check_dead_letter(resources: list[PolicyResource], _config: Mapping[str, Any]):
    """Subscriptions dead-letter, except those on a topic that is itself a dead-letter topic."""
    subscriptions = of_type(resources, SUBSCRIPTION)
    dead_letter_topics: set[str] = set()
    for subscription in subscriptions:
        dead_letter_topics |= linked_urns(subscription, "deadLetterPolicy")
    for subscription in subscriptions:
        if linked_urns(subscription, "topic") & dead_letter_topics:
            continue
        if value(subscription.props, "deadLetterPolicy", "deadLetterTopic") is None:
            yield (
                f"subscription {subscription.name} has no deadLetterPolicy.deadLetterTopic",
                subscription.urn,
            )


# --- load balancers ---------------------------------------------------------------------------


def _check_https_proxy(resources: list[PolicyResource], _config: Mapping[str, Any]):
    if of_type(resources, HTTP_PROXY, URL_MAP) and not of_type(resources, HTTPS_PROXY):
        for proxy in of_type(resources, HTTP_PROXY):
            yield f"HTTP proxy {proxy.name} exists but the stack has no HTTPS proxy", proxy.urn


def _check_http_redirect(resources: list[PolicyResource], _config: Mapping[str, Any]):
    redirecting = {
        url_map.urn
        for url_map in of_type(resources, URL_MAP)
        if value(url_map.props, "defaultUrlRedirect", "httpsRedirect") in (True, UNKNOWN)
    }
    for proxy in of_type(resources, HTTP_PROXY):
        if not linked_urns(proxy, "urlMap") <= redirecting or not linked_urns(proxy, "urlMap"):
            yield (
                f"HTTP proxy {proxy.name} does not point at a URL map whose "
                "defaultUrlRedirect.httpsRedirect is true",
                proxy.urn,
            )


def _check_tls_policy(resources: list[PolicyResource], config: Mapping[str, Any]):
    modern: set[str] = set()
    for ssl_policy in of_type(resources, SSL_POLICY):
        version = value(ssl_policy.props, "minTlsVersion")
        profile = value(ssl_policy.props, "profile")
        if version in ("TLS_1_2", "TLS_1_3", UNKNOWN) and profile in (
            *config["allowedProfiles"],
            UNKNOWN,
        ):
            modern.add(ssl_policy.urn)
        else:
            yield (
                f"SSL policy {ssl_policy.name} allows {version or 'TLS_1_0'} with profile "
                f"{profile or 'COMPATIBLE'}",
                ssl_policy.urn,
            )
    for proxy in of_type(resources, HTTPS_PROXY):
        if not linked_urns(proxy, "sslPolicy") & modern:
            yield (
                f"HTTPS proxy {proxy.name} has no sslPolicy with TLS 1.2+ from this stack "
                "(the default allows TLS 1.0)",
                proxy.urn,
            )


# --- identity ---------------------------------------------------------------------------------


def _check_primitive_roles(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    role = value(props, "role")
    if role in PRIMITIVE_ROLES:
        yield f"grants the primitive role {role}; grant predefined or custom roles instead"


def _check_sa_keys(_props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    yield "creates a long-lived service account key; use attached service accounts or WIF"


# --- cost and reliability ---------------------------------------------------------------------


def _check_machine_type(props: Mapping[str, Any], config: Mapping[str, Any], type_: str):
    machine = value(props, "machineType")
    if isinstance(machine, str):
        machine = machine.rsplit("/", 1)[-1]
    message = size_allowed(machine, _env(props, config, type_), config)
    if message:
        yield message


def _check_autoscaler_cap(resources: list[PolicyResource], config: Mapping[str, Any]):
    env = stack_env(resources, config)
    for autoscaler in of_type(resources, *AUTOSCALERS):
        message = cap_exceeded(
            value(autoscaler.props, "autoscalingPolicy", "maxReplicas"), env, config
        )
        if message:
            yield f"autoscaler {autoscaler.name}: {message}", autoscaler.urn


def _check_mig_zones(resources: list[PolicyResource], config: Mapping[str, Any]):
    if stack_env(resources, config) != "prod":
        return
    minimum_by_target: dict[str, float] = {}
    for autoscaler in of_type(resources, *AUTOSCALERS):
        minimum = number(value(autoscaler.props, "autoscalingPolicy", "minReplicas"))
        for urn in linked_urns(autoscaler, "target"):
            minimum_by_target[urn] = minimum if minimum is not None else 1
    for mig in of_type(resources, ZONAL_MIG):
        yield f"instance group {mig.name} is zonal; use a regional MIG in prod", mig.urn
    for mig in of_type(resources, REGIONAL_MIG):
        size = minimum_by_target.get(mig.urn, number(value(mig.props, "targetSize")))
        if size is not None and size < 2:
            yield f"instance group {mig.name} runs fewer than 2 instances in prod", mig.urn
        zones = elements(mig.props, "distributionPolicyZones")
        if isinstance(zones, list) and len(zones) == 1:
            yield f"instance group {mig.name} is pinned to a single zone", mig.urn


POLICIES = [
    resource_policy(
        _meta(
            "gcp-storage-bucket-public-access-prevented",
            "object-storage",
            CRITICAL,
            MANDATORY,
            "Cloud Storage buckets enforce public access prevention.",
            "Set public_access_prevention='enforced'.",
        ),
        [BUCKET],
        _check_public_prevention,
    ),
    resource_policy(
        _meta(
            "gcp-storage-bucket-no-public-members",
            "object-storage",
            CRITICAL,
            MANDATORY,
            "No bucket IAM grant to allUsers or allAuthenticatedUsers.",
            "Grant roles to specific service accounts or groups; serve public content via a CDN.",
        ),
        (BUCKET_IAM_MEMBER, BUCKET_IAM_BINDING),
        _check_public_members,
    ),
    resource_policy(
        _meta(
            "gcp-storage-bucket-uniform-access",
            "object-storage",
            HIGH,
            MANDATORY,
            "Cloud Storage buckets use uniform bucket-level access (IAM only, no object ACLs).",
            "Set uniform_bucket_level_access=True.",
        ),
        [BUCKET],
        _check_uniform_access,
    ),
    resource_policy(
        _meta(
            "gcp-storage-bucket-versioning-enabled",
            "object-storage",
            MEDIUM,
            MANDATORY,
            "Cloud Storage buckets keep object versions.",
            "Set versioning={'enabled': True}.",
        ),
        [BUCKET],
        _check_versioning,
    ),
    resource_policy(
        _meta(
            "gcp-storage-bucket-lifecycle-configured",
            "object-storage",
            LOW,
            ADVISORY,
            "Cloud Storage buckets have lifecycle rules.",
            "Add lifecycle_rules (e.g. delete noncurrent versions after 30 days).",
        ),
        [BUCKET],
        _check_lifecycle,
    ),
    resource_policy(
        _meta(
            "gcp-compute-firewall-no-public-admin-ingress",
            "network",
            CRITICAL,
            MANDATORY,
            "No firewall rule allows SSH, RDP or all ports from 0.0.0.0/0 or ::/0.",
            "Allow SSH only from IAP (35.235.240.0/20) or a VPN range.",
        ),
        [FIREWALL],
        _check_firewall,
    ),
    resource_policy(
        _meta(
            "gcp-compute-instance-no-public-ip",
            "network",
            HIGH,
            MANDATORY,
            "App and worker instances and templates have no external IP.",
            "Remove access_configs from network_interfaces; reach the internet through Cloud NAT.",
        ),
        HOSTS,
        _check_no_public_ip,
    ),
    resource_policy(
        _meta(
            "gcp-compute-subnet-flow-logs",
            "network",
            MEDIUM,
            MANDATORY,
            "Subnets carrying VM traffic have VPC flow logs on.",
            "Set log_config={'aggregation_interval': 'INTERVAL_5_SEC', 'flow_sampling': 0.5}.",
        ),
        [SUBNETWORK],
        _check_subnet_flow_logs,
    ),
    resource_policy(
        _meta(
            "gcp-compute-backend-logging",
            "network",
            LOW,
            ADVISORY,
            "Load balancer backend services log requests.",
            "Set log_config={'enable': True, 'sample_rate': 1.0}.",
        ),
        BACKEND_SERVICES,
        _check_backend_logging,
    ),
    resource_policy(
        _meta(
            "gcp-compute-shielded-vm",
            "compute",
            HIGH,
            MANDATORY,
            "Instances and templates are Shielded VMs (secure boot, vTPM, integrity monitoring).",
            "Set shielded_instance_config={'enable_secure_boot': True, 'enable_vtpm': True, "
            "'enable_integrity_monitoring': True} on a Shielded-VM image.",
        ),
        HOSTS,
        _check_shielded,
    ),
    resource_policy(
        _meta(
            "gcp-compute-os-login",
            "compute",
            MEDIUM,
            MANDATORY,
            "Instances and templates enable OS Login (IAM-controlled SSH).",
            "Set metadata={'enable-oslogin': 'TRUE', ...}.",
        ),
        HOSTS,
        _check_os_login,
    ),
    resource_policy(
        _meta(
            "gcp-sql-no-public-ip",
            "databases",
            CRITICAL,
            MANDATORY,
            "Cloud SQL instances have no public IP (private IP only).",
            "Set settings.ip_configuration={'ipv4_enabled': False, 'private_network': vpc.id}.",
        ),
        [SQL_INSTANCE],
        _check_sql_public,
    ),
    resource_policy(
        _meta(
            "gcp-sql-ssl-enforced",
            "databases",
            HIGH,
            MANDATORY,
            "Cloud SQL accepts encrypted connections only.",
            "Set settings.ip_configuration.ssl_mode='ENCRYPTED_ONLY'.",
        ),
        [SQL_INSTANCE],
        _check_sql_ssl,
    ),
    resource_policy(
        _meta(
            "gcp-sql-backups-enabled",
            "databases",
            MEDIUM,
            MANDATORY,
            "Cloud SQL backups are on; prod keeps minRetentionDays (7) backups and PITR.",
            "Set settings.backup_configuration={'enabled': True, "
            "'point_in_time_recovery_enabled': True, 'backup_retention_settings': "
            "{'retained_backups': 7}}.",
        ),
        [SQL_INSTANCE],
        _check_sql_backups,
        {
            "minRetentionDays": {
                "type": "integer",
                "minimum": 1,
                "default": 7,
                "description": "Least number of daily backups kept in prod.",
            },
            **ENV_SCHEMA,
        },
    ),
    resource_policy(
        _meta(
            "gcp-sql-deletion-protection",
            "databases",
            MEDIUM,
            MANDATORY,
            "Prod Cloud SQL instances keep deletion protection.",
            "Leave deletion_protection True (the default).",
        ),
        [SQL_INSTANCE],
        _check_sql_deletion,
        ENV_SCHEMA,
    ),
    stack_policy(
        _meta(
            "gcp-pubsub-subscription-dead-letter",
            "queues",
            MEDIUM,
            MANDATORY,
            "Pub/Sub subscriptions dead-letter, except subscriptions on a dead-letter topic.",
            "Set dead_letter_policy={'dead_letter_topic': dlq_topic.id, "
            "'max_delivery_attempts': 5}.",
        ),
        _check_dead_letter,
    ),
    stack_policy(
        _meta(
            "gcp-lb-https-proxy",
            "load-balancers",
            HIGH,
            MANDATORY,
            "A load balancer with an HTTP proxy also has an HTTPS proxy.",
            "Add gcp.compute.TargetHttpsProxy with a managed certificate and a forwarding rule "
            "on port 443.",
        ),
        _check_https_proxy,
    ),
    stack_policy(
        _meta(
            "gcp-lb-http-redirects-to-https",
            "load-balancers",
            HIGH,
            MANDATORY,
            "HTTP proxies only serve a URL map that redirects to HTTPS.",
            "Point the HTTP proxy at a URLMap with default_url_redirect={'https_redirect': True}.",
        ),
        _check_http_redirect,
    ),
    stack_policy(
        _meta(
            "gcp-lb-modern-tls-policy",
            "load-balancers",
            MEDIUM,
            MANDATORY,
            "HTTPS proxies use an SSL policy with TLS 1.2+ and a MODERN or RESTRICTED profile.",
            "Add gcp.compute.SSLPolicy(min_tls_version='TLS_1_2', profile='MODERN') and set "
            "ssl_policy=policy.id on the proxy.",
        ),
        _check_tls_policy,
        {
            "allowedProfiles": {
                "type": "array",
                "items": {"type": "string"},
                "default": ["MODERN", "RESTRICTED"],
                "description": "SSL policy profiles allowed.",
            }
        },
    ),
    resource_policy(
        _meta(
            "gcp-iam-no-primitive-roles",
            "identity",
            CRITICAL,
            MANDATORY,
            "No project, folder or organization grant of roles/owner or roles/editor.",
            "Grant predefined roles scoped to the need (e.g. roles/storage.objectAdmin).",
        ),
        PROJECT_IAM,
        _check_primitive_roles,
    ),
    resource_policy(
        _meta(
            "gcp-iam-no-service-account-keys",
            "identity",
            HIGH,
            MANDATORY,
            "No long-lived service account keys are created.",
            "Remove gcp.serviceaccount.Key; attach the service account to the VM, or use "
            "workload identity federation for CI.",
        ),
        [SERVICE_ACCOUNT_KEY],
        _check_sa_keys,
    ),
    resource_policy(
        _meta(
            "gcp-resource-required-labels",
            "governance",
            MEDIUM,
            MANDATORY,
            "Labelled resources carry the labels project, env (dev|prod), owner and cost-center.",
            "Pass labels={'project': ..., 'env': 'dev'|'prod', 'owner': ..., 'cost-center': ...} "
            "(settings.user_labels on Cloud SQL).",
        ),
        LABELED,
        required_tags_check("labels", "labels"),
        REQUIRED_TAGS_SCHEMA,
    ),
    resource_policy(
        _meta(
            "gcp-sql-required-labels",
            "governance",
            MEDIUM,
            MANDATORY,
            "Cloud SQL instances carry the required labels in settings.userLabels.",
            "Set settings.user_labels={'project': ..., 'env': ..., 'owner': ..., "
            "'cost-center': ...}.",
        ),
        [SQL_INSTANCE],
        lambda props, config, type_: required_tags_check("userLabels", "labels")(
            value(props, "settings") or {}, config, type_
        ),
        REQUIRED_TAGS_SCHEMA,
    ),
    resource_policy(
        _meta(
            "gcp-compute-machine-type-allowed",
            "cost",
            MEDIUM,
            MANDATORY,
            "Machine types are on the allowed list for the environment.",
            "Pick an allowed machine type for the env, or extend allowedSizes in policy config.",
        ),
        HOSTS,
        _check_machine_type,
        sizes_schema(DEFAULT_SIZES),
    ),
    stack_policy(
        _meta(
            "gcp-compute-autoscaler-max-capped",
            "cost",
            MEDIUM,
            MANDATORY,
            "Autoscaler maxReplicas stays within the environment's cap.",
            "Lower autoscaling_policy.max_replicas, or raise maxSizeCap in policy config.",
        ),
        _check_autoscaler_cap,
        cap_schema(DEFAULT_CAPS),
    ),
    stack_policy(
        _meta(
            "gcp-compute-mig-multi-zone-prod",
            "reliability",
            HIGH,
            MANDATORY,
            "Prod instance groups are regional and run at least 2 instances.",
            "Use RegionInstanceGroupManager (several zones) with autoscaler min_replicas >= 2.",
        ),
        _check_mig_zones,
        ENV_SCHEMA,
    ),
    resource_policy(
        _meta(
            "gcp-sql-high-availability-prod",
            "reliability",
            HIGH,
            MANDATORY,
            "Prod Cloud SQL instances are regional (HA with a standby in another zone).",
            "Set settings.availability_type='REGIONAL'.",
        ),
        [SQL_INSTANCE],
        _check_sql_ha,
        ENV_SCHEMA,
    ),
]
