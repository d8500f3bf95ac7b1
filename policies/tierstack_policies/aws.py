"""AWS policies (pulumi-aws 7 resource types; inputs use the provider's camelCase wire names)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyResource, Severity

from .common import (
    ADMIN_PORTS,
    ENV_SCHEMA,
    PUBLIC_CIDRS,
    REQUIRED_TAGS_SCHEMA,
    UNKNOWN,
    Meta,
    as_list,
    cap_exceeded,
    cap_schema,
    elements,
    env_of,
    falsy,
    json_document,
    linked_urns,
    number,
    of_type,
    required_tags_check,
    resource_policy,
    scalars,
    size_allowed,
    sizes_schema,
    stack_policy,
    tags_of,
    truthy,
    value,
)

MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKETS = (BUCKET, BUCKET_V2)
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONING = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
LIFECYCLE = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACLS = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_CLUSTER_INSTANCE = "aws:rds/clusterInstance:ClusterInstance"
DYNAMODB_TABLE = "aws:dynamodb/table:Table"
SQS_QUEUE = "aws:sqs/queue:Queue"
SQS_REDRIVE = "aws:sqs/redrivePolicy:RedrivePolicy"
IAM_DOCUMENTS = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)
IAM_ATTACHMENTS = (
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
)
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
ASG = "aws:autoscaling/group:Group"

# Resources that must carry the governance tags even when the program passes none.
TAGGED = (
    *BUCKETS,
    VPC,
    "aws:ec2/subnet:Subnet",
    SECURITY_GROUP,
    LAUNCH_TEMPLATE,
    EC2_INSTANCE,
    EBS_VOLUME,
    *LOAD_BALANCERS,
    "aws:lb/targetGroup:TargetGroup",
    RDS_INSTANCE,
    RDS_CLUSTER,
    DYNAMODB_TABLE,
    SQS_QUEUE,
    "aws:sns/topic:Topic",
    "aws:emr/cluster:Cluster",
    "aws:iam/role:Role",
    "aws:kms/key:Key",
    "aws:ec2/natGateway:NatGateway",
)

PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
MODERN_SSL_POLICIES = [
    "ELBSecurityPolicy-TLS13-1-2-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
]
DEFAULT_SIZES = {
    "dev": ["t3.micro", "t3.small", "t3.medium", "t4g.micro", "t4g.small", "t4g.medium"],
    "prod": [
        "t3.medium",
        "t3.large",
        "m6i.large",
        "m6i.xlarge",
        "m7g.large",
        "m7g.xlarge",
        "c6i.large",
        "c6i.xlarge",
        "c7g.large",
        "c7g.xlarge",
    ],
}
DEFAULT_CAPS = {"dev": 4, "prod": 20}


def _meta(
    policy_id: str, family: str, severity: Any, level: Any, description: str, remediation: str
) -> Meta:
    return Meta(policy_id, "aws", family, severity, level, description, remediation)


def _env(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    return env_of(tags_of(props), config)


# --- object storage ---------------------------------------------------------------------------


def _buckets_without(
    resources: list[PolicyResource],
    companion_types: Iterable[str],
    is_good: Any,
    inline: Any,
    what: str,
) -> Iterable[tuple[str, str | None]]:
    """Buckets with no linked companion resource (through its `bucket` input) passing is_good."""
    covered: set[str] = set()
    for companion in of_type(resources, *companion_types):
        if is_good(companion.props):
            covered |= linked_urns(companion, "bucket")
    for bucket in of_type(resources, *BUCKETS):
        if bucket.urn not in covered and not inline(bucket.props):
            yield f"bucket {bucket.name} has no {what}", bucket.urn


def _public_access_block_ok(props: Mapping[str, Any]) -> bool:
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    return all(truthy(value(props, flag)) or value(props, flag) is UNKNOWN for flag in flags)


def _check_public_access(resources: list[PolicyResource], _config: Mapping[str, Any]):
    yield from _buckets_without(
        resources,
        [PUBLIC_ACCESS_BLOCK],
        _public_access_block_ok,
        lambda _props: False,
        "public access block with all four settings true",
    )


def _check_public_acl(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    acl = value(props, "acl")
    if acl in PUBLIC_ACLS:
        yield f"canned ACL {acl} makes objects public"
    grants = elements(props, "accessControlPolicy", "grants")
    for grant in grants if isinstance(grants, list) else []:
        uri = value(grant, "grantee", "uri")
        if isinstance(uri, str) and uri.endswith(("/global/AllUsers", "/AuthenticatedUsers")):
            yield f"ACL grant to {uri} makes objects public"


def _check_encrypted(resources: list[PolicyResource], _config: Mapping[str, Any]):
    yield from _buckets_without(
        resources,
        SSE,
        lambda props: bool(elements(props, "rules")),
        lambda props: (
            value(props, "serverSideEncryptionConfiguration") not in (None, UNKNOWN)
            or value(props, "serverSideEncryptionConfiguration") is UNKNOWN
        ),
        "server-side encryption configuration",
    )


def _versioning_ok(props: Mapping[str, Any]) -> bool:
    status = value(props, "versioningConfiguration", "status")
    return status in ("Enabled", UNKNOWN)


def _check_versioning(resources: list[PolicyResource], _config: Mapping[str, Any]):
    yield from _buckets_without(
        resources,
        VERSIONING,
        _versioning_ok,
        lambda props: value(props, "versioning", "enabled") in (True, UNKNOWN),
        "versioning resource with status Enabled",
    )


def _check_lifecycle(resources: list[PolicyResource], _config: Mapping[str, Any]):
    yield from _buckets_without(
        resources,
        LIFECYCLE,
        lambda props: bool(elements(props, "rules")),
        lambda props: bool(elements(props, "lifecycleRules")),
        "lifecycle rules",
    )


def _denies_insecure_transport(props: Mapping[str, Any]) -> bool:
    document = json_document(value(props, "policy"))
    if document is UNKNOWN:
        return True  # built from outputs (the bucket ARN): not knowable at preview
    if not isinstance(document, dict):
        return False
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        secure = (statement.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
        if str(secure).lower() == "false":
            return True
    return False


def _check_tls_only(resources: list[PolicyResource], _config: Mapping[str, Any]):
    yield from _buckets_without(
        resources,
        [BUCKET_POLICY],
        _denies_insecure_transport,
        lambda _props: False,
        "bucket policy denying requests without TLS (aws:SecureTransport false)",
    )


# --- network ----------------------------------------------------------------------------------


def _open_to_world(cidrs: Iterable[Any]) -> str | None:
    for cidr in cidrs:
        if cidr in PUBLIC_CIDRS:
            return cidr
    return None


def _exposed(protocol: Any, from_port: Any, to_port: Any) -> str | None:
    """What an ingress rule opens that must not face the internet, or None."""
    if str(protocol) in ("-1", "all"):
        return "all ports"
    low, high = number(from_port), number(to_port)
    if low is None or high is None:
        return None
    if low <= 0 and high >= 65535:
        return "all ports"
    for port, name in ADMIN_PORTS.items():
        if low <= port <= high:
            return f"{name} (port {port})"
    return None


def _ingress_findings(rule: Any, cidr_keys: tuple[str, ...]) -> Iterable[str]:
    cidrs = [cidr for key in cidr_keys for cidr in scalars(rule, key)]
    world = _open_to_world(cidrs)
    protocol = value(rule, "protocol")
    if protocol is None:
        protocol = value(rule, "ipProtocol")
    exposed = _exposed(protocol, value(rule, "fromPort"), value(rule, "toPort"))
    if world and exposed:
        yield f"ingress opens {exposed} to {world}"


def _check_admin_ingress(props: Mapping[str, Any], _config: Mapping[str, Any], type_: str):
    if type_ == SECURITY_GROUP:
        rules = elements(props, "ingress")
        for rule in rules if isinstance(rules, list) else []:
            yield from _ingress_findings(rule, ("cidrBlocks", "ipv6CidrBlocks"))
    elif type_ == SG_RULE:
        if value(props, "type") == "ingress":
            yield from _ingress_findings(props, ("cidrBlocks", "ipv6CidrBlocks"))
    else:
        yield from _ingress_findings(props, ("cidrIpv4", "cidrIpv6"))


def _check_no_public_ip(props: Mapping[str, Any], _config: Mapping[str, Any], type_: str):
    if type_ == EC2_INSTANCE:
        if truthy(value(props, "associatePublicIpAddress")):
            yield "associatePublicIpAddress is true; app and worker hosts stay in private subnets"
        return
    interfaces = elements(props, "networkInterfaces")
    for interface in interfaces if isinstance(interfaces, list) else []:
        if truthy(value(interface, "associatePublicIpAddress")):
            yield "a network interface sets associatePublicIpAddress; hosts stay private"


def _check_flow_logs(resources: list[PolicyResource], _config: Mapping[str, Any]):
    covered: set[str] = set()
    for flow_log in of_type(resources, FLOW_LOG):
        covered |= linked_urns(flow_log, "vpcId")
    for vpc in of_type(resources, VPC):
        if vpc.urn not in covered:
            yield f"VPC {vpc.name} has no flow log attached through its vpcId", vpc.urn


def _check_lb_logs(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    enabled = value(props, "accessLogs", "enabled")
    if enabled is not UNKNOWN and not truthy(enabled):
        yield "access logs are not enabled (accessLogs.enabled)"


# --- compute ----------------------------------------------------------------------------------


def _check_imdsv2(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    tokens = value(props, "metadataOptions", "httpTokens")
    if tokens not in ("required", UNKNOWN):
        yield f"metadataOptions.httpTokens is {tokens!r}, not 'required' (IMDSv2)"


def _check_disks(props: Mapping[str, Any], _config: Mapping[str, Any], type_: str):
    if type_ == EBS_VOLUME:
        if not truthy(value(props, "encrypted")) and value(props, "encrypted") is not UNKNOWN:
            yield "volume is not encrypted"
        return
    if type_ == EC2_INSTANCE:
        disks = [value(props, "rootBlockDevice")]
        extra = elements(props, "ebsBlockDevices")
        disks += extra if isinstance(extra, list) else []
        for disk in disks:
            encrypted = value(disk, "encrypted")
            if encrypted is not UNKNOWN and not truthy(encrypted):
                yield "a block device is not encrypted (set encrypted: true)"
        return
    mappings = elements(props, "blockDeviceMappings")
    if mappings is UNKNOWN:
        return
    if not mappings:
        yield "no blockDeviceMappings: the root volume is not declared encrypted"
    for mapping in mappings:
        encrypted = value(mapping, "ebs", "encrypted")
        if encrypted is not UNKNOWN and not truthy(encrypted):
            yield f"block device {value(mapping, 'deviceName')} is not encrypted"


# --- databases --------------------------------------------------------------------------------


def _check_rds_public(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    if truthy(value(props, "publiclyAccessible")):
        yield "publiclyAccessible is true"


def _check_rds_encrypted(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    encrypted = value(props, "storageEncrypted")
    if encrypted is not UNKNOWN and not truthy(encrypted):
        yield "storageEncrypted is not true"


def _check_rds_backups(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    retention = value(props, "backupRetentionPeriod")
    if retention is UNKNOWN:
        return
    days = number(retention)
    if days == 0:
        yield "automated backups are disabled (backupRetentionPeriod 0)"
    elif _env(props, config) == "prod" and (days is None or days < config["minRetentionDays"]):
        shown = "unset (1 day)" if days is None else f"{days:g} days"
        yield f"backup retention {shown} is below {config['minRetentionDays']} days in prod"


def _check_rds_deletion(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    protected = value(props, "deletionProtection")
    if _env(props, config) == "prod" and protected is not UNKNOWN and not truthy(protected):
        yield "deletionProtection is not true in prod"


def _check_dynamodb_pitr(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    enabled = value(props, "pointInTimeRecovery", "enabled")
    if enabled is not UNKNOWN and not truthy(enabled):
        yield "point-in-time recovery is not enabled"


def _check_rds_multi_az(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    multi_az = value(props, "multiAz")
    if _env(props, config) == "prod" and multi_az is not UNKNOWN and not truthy(multi_az):
        yield "multiAz is not true in prod"


# --- queues -----------------------------------------------------------------------------------


def _check_dead_letter(resources: list[PolicyResource], _config: Mapping[str, Any]):
    """Every queue has a redrive policy, except queues that are some queue's dead-letter queue."""
    dead_letter_queues: set[str] = set()
    redriven: set[str] = set()
    for queue in of_type(resources, SQS_QUEUE):
        dead_letter_queues |= linked_urns(queue, "redrivePolicy")
    for redrive in of_type(resources, SQS_REDRIVE):
        dead_letter_queues |= linked_urns(redrive, "redrivePolicy")
        redriven |= linked_urns(redrive, "queueUrl")
    for queue in of_type(resources, SQS_QUEUE):
        policy = value(queue.props, "redrivePolicy")
        if policy is None and queue.urn not in dead_letter_queues | redriven:
            yield f"queue {queue.name} has no redrivePolicy to a dead-letter queue", queue.urn


def _check_sqs_encrypted(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    if falsy(value(props, "sqsManagedSseEnabled")) and value(props, "kmsMasterKeyId") is None:
        yield "server-side encryption is switched off (sqsManagedSseEnabled false, no KMS key)"


# --- load balancers ---------------------------------------------------------------------------


def _check_https_listener(resources: list[PolicyResource], _config: Mapping[str, Any]):
    with_https: set[str] = set()
    for listener in of_type(resources, *LISTENERS):
        if value(listener.props, "protocol") in ("HTTPS", UNKNOWN):
            with_https |= linked_urns(listener, "loadBalancerArn")
    for balancer in of_type(resources, *LOAD_BALANCERS):
        kind = value(balancer.props, "loadBalancerType")
        if kind in (None, "application") and balancer.urn not in with_https:
            yield f"load balancer {balancer.name} has no HTTPS listener", balancer.urn


def _check_http_redirect(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    if value(props, "protocol") != "HTTP":
        return
    actions = elements(props, "defaultActions")
    if actions is UNKNOWN:
        return
    redirects = [
        action
        for action in actions
        if value(action, "type") == "redirect"
        and value(action, "redirect", "protocol") in ("HTTPS", UNKNOWN)
    ]
    if not actions or len(redirects) != len(actions):
        yield "HTTP listener does not only redirect to HTTPS"


def _check_tls_policy(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    if value(props, "protocol") != "HTTPS":
        return
    ssl_policy = value(props, "sslPolicy")
    if ssl_policy is UNKNOWN or ssl_policy in config["allowedSslPolicies"]:
        return
    shown = ssl_policy or "unset (defaults to ELBSecurityPolicy-2016-08, TLS 1.0)"
    yield f"sslPolicy {shown} is not a TLS 1.2+ policy"


# --- identity ---------------------------------------------------------------------------------


def _check_wildcard_admin(props: Mapping[str, Any], _config: Mapping[str, Any], type_: str):
    if type_ in IAM_ATTACHMENTS:
        if value(props, "policyArn") == ADMIN_POLICY_ARN:
            yield "attaches AdministratorAccess"
        return
    document = json_document(value(props, "policy"))
    if not isinstance(document, dict):
        return
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "*" in as_list(statement.get("Action")) and "*" in as_list(statement.get("Resource")):
            yield "a statement allows Action * on Resource *"


def _check_access_keys(_props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    yield "creates a long-lived IAM access key; use roles (instance profiles, OIDC) instead"


# --- cost and reliability ---------------------------------------------------------------------


def _check_instance_type(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    message = size_allowed(value(props, "instanceType"), _env(props, config), config)
    if message:
        yield message


def _check_asg_cap(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    message = cap_exceeded(value(props, "maxSize"), _env(props, config), config)
    if message:
        yield message


def _check_asg_multi_az(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    if _env(props, config) != "prod":
        return
    minimum = number(value(props, "minSize"))
    if minimum is not None and minimum < 2:
        yield f"minSize {minimum:g} is below 2 in prod"
    subnets = elements(props, "vpcZoneIdentifiers")
    zones = elements(props, "availabilityZones")
    if subnets is UNKNOWN or zones is UNKNOWN:
        return
    if max(len(subnets), len(zones)) < 2:
        yield "spans fewer than 2 subnets/availability zones in prod"


POLICIES = [
    stack_policy(
        _meta(
            "aws-s3-bucket-public-access-blocked",
            "object-storage",
            CRITICAL,
            MANDATORY,
            "Every S3 bucket has a public access block with all four settings true.",
            "Add aws.s3.BucketPublicAccessBlock(bucket=bucket.id, block_public_acls=True, "
            "block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True).",
        ),
        _check_public_access,
    ),
    resource_policy(
        _meta(
            "aws-s3-bucket-no-public-acl",
            "object-storage",
            CRITICAL,
            MANDATORY,
            "S3 buckets and bucket ACLs grant nothing to AllUsers or AuthenticatedUsers.",
            "Remove public canned ACLs (public-read, public-read-write, authenticated-read) and "
            "grants to global groups; serve public content through a CDN instead.",
        ),
        (*BUCKETS, *BUCKET_ACLS),
        _check_public_acl,
    ),
    stack_policy(
        _meta(
            "aws-s3-bucket-encrypted",
            "object-storage",
            HIGH,
            MANDATORY,
            "Every S3 bucket declares default server-side encryption.",
            "Add aws.s3.BucketServerSideEncryptionConfiguration(bucket=bucket.id, rules=[...]) "
            "with aws:kms or AES256.",
        ),
        _check_encrypted,
    ),
    stack_policy(
        _meta(
            "aws-s3-bucket-versioning-enabled",
            "object-storage",
            MEDIUM,
            MANDATORY,
            "Every S3 bucket has versioning enabled.",
            "Add aws.s3.BucketVersioning(bucket=bucket.id, versioning_configuration="
            "{'status': 'Enabled'}).",
        ),
        _check_versioning,
    ),
    stack_policy(
        _meta(
            "aws-s3-bucket-lifecycle-configured",
            "object-storage",
            LOW,
            ADVISORY,
            "Every S3 bucket has lifecycle rules (expiry of old versions, tiering).",
            "Add aws.s3.BucketLifecycleConfiguration(bucket=bucket.id, rules=[...]).",
        ),
        _check_lifecycle,
    ),
    stack_policy(
        _meta(
            "aws-s3-bucket-tls-only",
            "object-storage",
            HIGH,
            MANDATORY,
            "Every S3 bucket has a bucket policy that denies requests made without TLS.",
            "Add aws.s3.BucketPolicy(bucket=bucket.id, policy=...) with a Deny statement on "
            "Condition Bool aws:SecureTransport 'false'.",
        ),
        _check_tls_only,
    ),
    resource_policy(
        _meta(
            "aws-ec2-no-public-admin-ingress",
            "network",
            CRITICAL,
            MANDATORY,
            "No security group rule opens SSH, RDP or all ports to 0.0.0.0/0 or ::/0.",
            "Restrict the rule's CIDR to a bastion or VPN range, or use SSM Session Manager "
            "instead of SSH.",
        ),
        (SECURITY_GROUP, SG_RULE, SG_INGRESS_RULE),
        _check_admin_ingress,
    ),
    resource_policy(
        _meta(
            "aws-ec2-app-instance-no-public-ip",
            "network",
            HIGH,
            MANDATORY,
            "App and worker instances get no public IP address.",
            "Set associate_public_ip_address False and place instances in private subnets "
            "behind the load balancer and a NAT gateway.",
        ),
        (LAUNCH_TEMPLATE, EC2_INSTANCE),
        _check_no_public_ip,
    ),
    stack_policy(
        _meta(
            "aws-vpc-flow-logs-enabled",
            "network",
            MEDIUM,
            MANDATORY,
            "Every VPC has a flow log.",
            "Add aws.ec2.FlowLog(vpc_id=vpc.id, traffic_type='ALL', ...) to CloudWatch Logs or S3.",
        ),
        _check_flow_logs,
    ),
    resource_policy(
        _meta(
            "aws-lb-access-logs-enabled",
            "network",
            LOW,
            ADVISORY,
            "Load balancers write access logs.",
            "Set access_logs={'bucket': logs_bucket.id, 'enabled': True} on the load balancer.",
        ),
        LOAD_BALANCERS,
        _check_lb_logs,
    ),
    resource_policy(
        _meta(
            "aws-ec2-imdsv2-required",
            "compute",
            HIGH,
            MANDATORY,
            "Instances and launch templates require IMDSv2 (session tokens).",
            "Set metadata_options={'http_tokens': 'required', 'http_endpoint': 'enabled'}.",
        ),
        (LAUNCH_TEMPLATE, EC2_INSTANCE),
        _check_imdsv2,
    ),
    resource_policy(
        _meta(
            "aws-ec2-disk-encrypted",
            "compute",
            HIGH,
            MANDATORY,
            "EBS volumes of instances and launch templates are encrypted.",
            "Declare block_device_mappings with ebs.encrypted 'true' (launch templates), "
            "root_block_device.encrypted True (instances), encrypted=True (volumes).",
        ),
        (LAUNCH_TEMPLATE, EC2_INSTANCE, EBS_VOLUME),
        _check_disks,
    ),
    resource_policy(
        _meta(
            "aws-rds-not-public",
            "databases",
            CRITICAL,
            MANDATORY,
            "RDS databases are not publicly accessible.",
            "Set publicly_accessible=False and keep the DB in private subnets.",
        ),
        (RDS_INSTANCE, RDS_CLUSTER_INSTANCE),
        _check_rds_public,
    ),
    resource_policy(
        _meta(
            "aws-rds-storage-encrypted",
            "databases",
            HIGH,
            MANDATORY,
            "RDS storage is encrypted.",
            "Set storage_encrypted=True (optionally kms_key_id).",
        ),
        (RDS_INSTANCE, RDS_CLUSTER),
        _check_rds_encrypted,
    ),
    resource_policy(
        _meta(
            "aws-rds-backup-retention",
            "databases",
            MEDIUM,
            MANDATORY,
            "RDS automated backups are on, and kept at least minRetentionDays (7) in prod.",
            "Set backup_retention_period to 7 or more (35 max).",
        ),
        (RDS_INSTANCE, RDS_CLUSTER),
        _check_rds_backups,
        {
            "minRetentionDays": {
                "type": "integer",
                "minimum": 1,
                "default": 7,
                "description": "Least backup retention in prod, in days.",
            },
            **ENV_SCHEMA,
        },
    ),
    resource_policy(
        _meta(
            "aws-rds-deletion-protection",
            "databases",
            MEDIUM,
            MANDATORY,
            "Prod RDS databases have deletion protection.",
            "Set deletion_protection=True.",
        ),
        (RDS_INSTANCE, RDS_CLUSTER),
        _check_rds_deletion,
        ENV_SCHEMA,
    ),
    resource_policy(
        _meta(
            "aws-dynamodb-pitr-enabled",
            "databases",
            MEDIUM,
            ADVISORY,
            "DynamoDB tables have point-in-time recovery (continuous backups).",
            "Set point_in_time_recovery={'enabled': True}.",
        ),
        [DYNAMODB_TABLE],
        _check_dynamodb_pitr,
    ),
    stack_policy(
        _meta(
            "aws-sqs-dead-letter-configured",
            "queues",
            MEDIUM,
            MANDATORY,
            "Every SQS queue that is not itself a dead-letter queue has a redrive policy.",
            "Create a dead-letter queue and set redrive_policy with its ARN and maxReceiveCount "
            "(derived from dlq.arn so the link is visible).",
        ),
        _check_dead_letter,
    ),
    resource_policy(
        _meta(
            "aws-sqs-encrypted",
            "queues",
            HIGH,
            MANDATORY,
            "SQS queues keep server-side encryption on.",
            "Leave sqs_managed_sse_enabled True or set kms_master_key_id.",
        ),
        [SQS_QUEUE],
        _check_sqs_encrypted,
    ),
    stack_policy(
        _meta(
            "aws-lb-https-listener",
            "load-balancers",
            HIGH,
            MANDATORY,
            "Every application load balancer has an HTTPS listener.",
            "Add aws.lb.Listener(load_balancer_arn=lb.arn, protocol='HTTPS', port=443, "
            "certificate_arn=..., ssl_policy=...).",
        ),
        _check_https_listener,
    ),
    resource_policy(
        _meta(
            "aws-lb-http-redirects-to-https",
            "load-balancers",
            HIGH,
            MANDATORY,
            "HTTP listeners only redirect to HTTPS.",
            "Make the HTTP listener's default action {'type': 'redirect', 'redirect': "
            "{'protocol': 'HTTPS', 'port': '443', 'status_code': 'HTTP_301'}}.",
        ),
        LISTENERS,
        _check_http_redirect,
    ),
    resource_policy(
        _meta(
            "aws-lb-modern-tls-policy",
            "load-balancers",
            MEDIUM,
            MANDATORY,
            "HTTPS listeners use a TLS 1.2+ security policy.",
            "Set ssl_policy='ELBSecurityPolicy-TLS13-1-2-2021-06' (or another allowed policy).",
        ),
        LISTENERS,
        _check_tls_policy,
        {
            "allowedSslPolicies": {
                "type": "array",
                "items": {"type": "string"},
                "default": MODERN_SSL_POLICIES,
                "description": "ELB security policies allowed on HTTPS.",
            }
        },
    ),
    resource_policy(
        _meta(
            "aws-iam-no-wildcard-admin",
            "identity",
            CRITICAL,
            MANDATORY,
            "No IAM policy allows Action * on Resource *, and AdministratorAccess is not attached.",
            "Grant the specific actions on the specific resource ARNs the workload needs.",
        ),
        (*IAM_DOCUMENTS, *IAM_ATTACHMENTS),
        _check_wildcard_admin,
    ),
    resource_policy(
        _meta(
            "aws-iam-no-access-keys",
            "identity",
            HIGH,
            MANDATORY,
            "No long-lived IAM user access keys are created.",
            "Remove aws.iam.AccessKey; give hosts an instance profile and CI an OIDC role.",
        ),
        [ACCESS_KEY],
        _check_access_keys,
    ),
    resource_policy(
        _meta(
            "aws-resource-required-tags",
            "governance",
            MEDIUM,
            MANDATORY,
            "Taggable resources carry the tags project, env (dev|prod), owner and cost-center.",
            "Pass tags={'project': ..., 'env': 'dev'|'prod', 'owner': ..., 'cost-center': ...}.",
        ),
        TAGGED,
        required_tags_check("tags", "tags"),
        REQUIRED_TAGS_SCHEMA,
    ),
    resource_policy(
        _meta(
            "aws-ec2-instance-type-allowed",
            "cost",
            MEDIUM,
            MANDATORY,
            "EC2 instance types are on the allowed list for the environment.",
            "Pick an instance type allowed for the env, or extend allowedSizes in policy config.",
        ),
        (LAUNCH_TEMPLATE, EC2_INSTANCE),
        _check_instance_type,
        sizes_schema(DEFAULT_SIZES),
    ),
    resource_policy(
        _meta(
            "aws-autoscaling-max-size-capped",
            "cost",
            MEDIUM,
            MANDATORY,
            "Autoscaling group maxSize stays within the environment's cap.",
            "Lower max_size, or raise maxSizeCap in policy config after a cost review.",
        ),
        [ASG],
        _check_asg_cap,
        cap_schema(DEFAULT_CAPS),
    ),
    resource_policy(
        _meta(
            "aws-autoscaling-multi-az-prod",
            "reliability",
            HIGH,
            MANDATORY,
            "Prod autoscaling groups run at least 2 instances across at least 2 zones.",
            "Set min_size >= 2 and vpc_zone_identifiers to subnets in two or more AZs.",
        ),
        [ASG],
        _check_asg_multi_az,
        ENV_SCHEMA,
    ),
    resource_policy(
        _meta(
            "aws-rds-multi-az-prod",
            "reliability",
            HIGH,
            MANDATORY,
            "Prod RDS instances are Multi-AZ.",
            "Set multi_az=True.",
        ),
        [RDS_INSTANCE],
        _check_rds_multi_az,
        ENV_SCHEMA,
    ),
]
