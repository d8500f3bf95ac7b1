"""AWS policies: one compliant prod program passes them all; each violation fires its exact id."""

import json

import pulumi
import pulumi_aws as aws
import pytest

from tests.policies.helpers import PACK, Violation, assert_violation, fired, run, tags
from tierstack.policy_engine import describe
from tierstack.preview.engine import record_resources
from tierstack.records import UNKNOWN

IDS = [item["policy"] for item in describe(PACK) if item["tags"][0] == "aws"]
T = tags("prod")
TLS_ONLY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::docs", "arn:aws:s3:::docs/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
)
LEAST_PRIVILEGE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::docs/*"}
        ],
    }
)
WILDCARD = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


def statement(**fields) -> str:
    """A one-statement Allow policy document."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **fields}]})


PUBLIC_READ = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            *json.loads(TLS_ONLY)["Statement"],
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::docs/*",
            },
        ],
    }
)
DENY_PLAIN_UPLOADS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {**json.loads(TLS_ONLY)["Statement"][0], "Action": "s3:PutObject"},
        ],
    }
)

MODERN_TLS = "ELBSecurityPolicy-TLS13-1-2-2021-06"
FORWARD = [{"type": "forward", "target_group_arn": "arn:tg"}]
REDIRECT = [
    {
        "type": "redirect",
        "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
    }
]


def bucket_with(
    name: str = "docs",
    *,
    versioning: str = "Enabled",
    policy: str = TLS_ONLY,
    block_policy: bool = True,
    lifecycle_status: str = "Enabled",
    **bucket_args,
) -> aws.s3.Bucket:
    bucket = aws.s3.Bucket(name, tags=T, **bucket_args)
    aws.s3.BucketPublicAccessBlock(
        f"{name}-pab",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=block_policy,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-sse",
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}}],
    )
    aws.s3.BucketVersioning(
        f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": versioning}
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.id,
        rules=[
            {
                "id": "old-versions",
                "status": lifecycle_status,
                "noncurrent_version_expiration": {"noncurrent_days": 30},
            }
        ],
    )
    aws.s3.BucketPolicy(f"{name}-tls", bucket=bucket.id, policy=policy)
    return bucket


def launch_template(name: str = "app", **overrides) -> aws.ec2.LaunchTemplate:
    args = {
        "instance_type": "t3.medium",
        "metadata_options": {"http_tokens": "required", "http_endpoint": "enabled"},
        "block_device_mappings": [
            {"device_name": "/dev/xvda", "ebs": {"encrypted": "true", "volume_size": 20}}
        ],
        "network_interfaces": [{"associate_public_ip_address": "false"}],
        "tags": T,
    }
    args.update(overrides)
    return aws.ec2.LaunchTemplate(name, **args)


def database(
    name: str = "db", *, log_statement: str | None = "ddl", **overrides
) -> aws.rds.Instance:
    """A compliant PostgreSQL instance; `log_statement=None` leaves the default parameter group."""
    args = {
        "engine": "postgres",
        "instance_class": "db.t4g.medium",
        "allocated_storage": 20,
        "publicly_accessible": False,
        "storage_encrypted": True,
        "backup_retention_period": 7,
        "deletion_protection": True,
        "multi_az": True,
        "tags": T,
    }
    if log_statement is not None:
        group = aws.rds.ParameterGroup(
            f"{name}-pg",
            family="postgres16",
            parameters=[
                {"name": "rds.force_ssl", "value": "1"},
                {"name": "log_statement", "value": log_statement},
            ],
            tags=T,
        )
        args["parameter_group_name"] = group.name
    args.update(overrides)
    return aws.rds.Instance(name, **args)


def asg(name: str = "app", *, env: str = "prod", **overrides) -> aws.autoscaling.Group:
    args = {
        "min_size": 2,
        "max_size": 6,
        "vpc_zone_identifiers": ["subnet-a", "subnet-b"],
        "tags": [
            {"key": key, "value": value, "propagate_at_launch": True}
            for key, value in tags(env).items()
        ],
    }
    args.update(overrides)
    return aws.autoscaling.Group(name, **args)


def load_balancer(
    https: bool = True,
    ssl_policy: str | None = MODERN_TLS,
    http_actions: list | None = None,
    http_protocol: str | None = "HTTP",
) -> aws.lb.LoadBalancer:
    """A compliant ALB; `ssl_policy=None` and `http_protocol=None` leave them to the defaults."""
    balancer = aws.lb.LoadBalancer(
        "web",
        load_balancer_type="application",
        tags=T,
        access_logs={"bucket": "logs", "enabled": True},
    )
    if https:
        aws.lb.Listener(
            "https",
            load_balancer_arn=balancer.arn,
            protocol="HTTPS",
            port=443,
            certificate_arn="arn:aws:acm:us-east-1:1:certificate/x",
            ssl_policy=ssl_policy,
            default_actions=[{"type": "forward", "target_group_arn": "arn:tg"}],
        )
    aws.lb.Listener(
        "http",
        load_balancer_arn=balancer.arn,
        protocol=http_protocol,
        port=80,
        default_actions=http_actions or REDIRECT,
    )
    return balancer


def compliant() -> None:
    bucket = bucket_with()
    aws.s3.BucketAcl("docs-acl", bucket=bucket.id, acl="private")
    vpc = aws.ec2.Vpc("main", cidr_block="10.0.0.0/16", tags=T)
    aws.ec2.FlowLog(
        "main-flow",
        vpc_id=vpc.id,
        traffic_type="ALL",
        log_destination_type="s3",
        log_destination="arn:aws:s3:::flow-logs",
    )
    group = aws.ec2.SecurityGroup(
        "web",
        vpc_id=vpc.id,
        tags=T,
        ingress=[
            {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}
        ],
    )
    aws.ec2.SecurityGroupRule(
        "ssh-from-vpn",
        type="ingress",
        protocol="tcp",
        from_port=22,
        to_port=22,
        cidr_blocks=["10.8.0.0/16"],
        security_group_id=group.id,
    )
    aws.vpc.SecurityGroupIngressRule(
        "https6",
        security_group_id=group.id,
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        cidr_ipv6="::/0",
    )
    load_balancer()
    template = launch_template()
    asg(launch_template={"id": template.id})
    aws.ec2.Instance(
        "ops",
        ami="ami-123",
        instance_type="t3.medium",
        metadata_options={"http_tokens": "required"},
        root_block_device={"encrypted": True},
        associate_public_ip_address=False,
        tags=T,
    )
    aws.ebs.Volume("data", availability_zone="us-east-1a", size=10, encrypted=True, tags=T)
    database()
    aws.dynamodb.Table(
        "status",
        hash_key="id",
        attributes=[{"name": "id", "type": "S"}],
        billing_mode="PAY_PER_REQUEST",
        point_in_time_recovery={"enabled": True},
        tags=T,
    )
    dead_letter = aws.sqs.Queue("jobs-dlq", tags=T)
    redrive = dead_letter.arn.apply(
        lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
    )
    aws.sqs.Queue("jobs", tags=T, sqs_managed_sse_enabled=True, redrive_policy=redrive)
    aws.iam.Policy("app", policy=LEAST_PRIVILEGE, tags=T)
    role = aws.iam.Role("app", assume_role_policy=json.dumps({"Version": "2012-10-17"}), tags=T)
    aws.iam.RolePolicyAttachment(
        "app-ssm", role=role.name, policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    )


@pytest.fixture(scope="module")
def compliant_results():
    return run(compliant)


@pytest.mark.parametrize("policy_id", IDS)
def test_compliant_program_passes(policy_id, compliant_results):
    assert fired(compliant_results, policy_id) == []


def test_compliant_program_passes_every_aws_policy(compliant_results):
    assert [r for r in compliant_results if r["policy"].startswith("aws-")] == []


def _public_sg():
    aws.ec2.SecurityGroup(
        "open",
        tags=T,
        ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["0.0.0.0/0"]}],
    )


def _http_rule_forwards(rule_actions: list | None = None) -> None:
    """A redirecting HTTP listener with a path rule of its own (forwarding, unless given)."""
    balancer = aws.lb.LoadBalancer("web", tags=T, access_logs={"bucket": "logs", "enabled": True})
    http = aws.lb.Listener(
        "http",
        load_balancer_arn=balancer.arn,
        protocol="HTTP",
        port=80,
        default_actions=REDIRECT,
    )
    aws.lb.ListenerRule(
        "api-over-http",
        listener_arn=http.arn,
        priority=10,
        actions=rule_actions or FORWARD,
        conditions=[{"path_pattern": {"values": ["/api/*"]}}],
    )


VIOLATIONS = [
    Violation(
        "aws-s3-bucket-public-access-blocked",
        lambda: aws.s3.Bucket("bare", tags=T),
        "bare",
        "no-block",
    ),
    Violation(
        "aws-s3-bucket-public-access-blocked",
        lambda: bucket_with("half", block_policy=False),
        "half",
        "flag-false",
    ),
    Violation(
        "aws-s3-bucket-no-public-acl", lambda: bucket_with("site", acl="public-read"), "site"
    ),
    Violation("aws-s3-bucket-encrypted", lambda: aws.s3.Bucket("bare", tags=T), "bare"),
    Violation(
        "aws-s3-bucket-versioning-enabled",
        lambda: bucket_with("paused", versioning="Suspended"),
        "paused",
    ),
    Violation("aws-s3-bucket-lifecycle-configured", lambda: aws.s3.Bucket("bare", tags=T), "bare"),
    Violation(
        "aws-s3-bucket-tls-only", lambda: bucket_with("plain", policy=LEAST_PRIVILEGE), "plain"
    ),
    Violation("aws-ec2-no-public-admin-ingress", _public_sg, "open", "ssh-inline"),
    Violation(
        "aws-ec2-no-public-admin-ingress",
        lambda: aws.vpc.SecurityGroupIngressRule(
            "rdp",
            security_group_id="sg-1",
            ip_protocol="tcp",
            from_port=3389,
            to_port=3389,
            cidr_ipv6="::/0",
        ),
        "rdp",
        "rdp-ipv6",
    ),
    Violation(
        "aws-ec2-no-public-admin-ingress",
        lambda: aws.ec2.SecurityGroupRule(
            "all",
            type="ingress",
            protocol="-1",
            from_port=0,
            to_port=0,
            cidr_blocks=["0.0.0.0/0"],
            security_group_id="sg-1",
        ),
        "all",
        "all-ports",
    ),
    # the rule as its own resource, the world written as two halves
    Violation(
        "aws-ec2-no-public-admin-ingress",
        lambda: [
            aws.vpc.SecurityGroupIngressRule(
                f"ssh-{half}",
                security_group_id="sg-1",
                ip_protocol="tcp",
                from_port=22,
                to_port=22,
                cidr_ipv4=f"{half}.0.0.0/1",
            )
            for half in (0, 128)
        ],
        "ssh-0",
        "ssh-halves",
    ),
    Violation(
        "aws-ec2-app-instance-no-public-ip",
        lambda: launch_template(network_interfaces=[{"associate_public_ip_address": "true"}]),
        "app",
    ),
    Violation(
        "aws-vpc-flow-logs-enabled",
        lambda: aws.ec2.Vpc("quiet", cidr_block="10.0.0.0/16", tags=T),
        "quiet",
    ),
    Violation("aws-lb-access-logs-enabled", lambda: aws.lb.LoadBalancer("dark", tags=T), "dark"),
    Violation(
        "aws-ec2-imdsv2-required",
        lambda: launch_template(metadata_options={"http_tokens": "optional"}),
        "app",
    ),
    Violation(
        "aws-ec2-disk-encrypted",
        lambda: launch_template(
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {"encrypted": "false"}}]
        ),
        "app",
        "template",
    ),
    Violation(
        "aws-ec2-disk-encrypted",
        lambda: aws.ebs.Volume("raw", availability_zone="us-east-1a", size=10, tags=T),
        "raw",
        "volume",
    ),
    Violation("aws-rds-not-public", lambda: database(publicly_accessible=True), "db"),
    Violation("aws-rds-storage-encrypted", lambda: database(storage_encrypted=False), "db"),
    # settings left to defaults the program never wrote: unencrypted storage, IMDSv1, a plain EBS
    Violation(
        "aws-rds-storage-encrypted", lambda: database(storage_encrypted=None), "db", "default"
    ),
    Violation(
        "aws-ec2-imdsv2-required", lambda: launch_template(metadata_options=None), "app", "default"
    ),
    Violation(
        "aws-ec2-disk-encrypted",
        lambda: launch_template(
            block_device_mappings=[{"device_name": "/dev/xvda", "ebs": {"volume_size": 20}}]
        ),
        "app",
        "default",
    ),
    Violation("aws-rds-backup-retention", lambda: database(backup_retention_period=3), "db"),
    Violation("aws-rds-deletion-protection", lambda: database(deletion_protection=False), "db"),
    # the engine's default parameter group, which the program never wrote: log_statement none
    Violation("aws-rds-statement-logging", lambda: database(log_statement=None), "db", "default"),
    # a parameter group present, with the setting switched off
    Violation("aws-rds-statement-logging", lambda: database(log_statement="none"), "db", "off"),
    # a good group declared, but the instance names another one by a literal string
    Violation(
        "aws-rds-statement-logging",
        lambda: database(parameter_group_name="default.postgres16"),
        "db",
        "literal-group",
    ),
    Violation(
        "aws-dynamodb-pitr-enabled",
        lambda: aws.dynamodb.Table(
            "status", hash_key="id", attributes=[{"name": "id", "type": "S"}], tags=T
        ),
        "status",
    ),
    Violation("aws-sqs-dead-letter-configured", lambda: aws.sqs.Queue("lonely", tags=T), "lonely"),
    Violation(
        "aws-sqs-encrypted",
        lambda: aws.sqs.Queue("clear", tags=T, sqs_managed_sse_enabled=False),
        "clear",
    ),
    Violation("aws-lb-https-listener", lambda: load_balancer(https=False), "web"),
    Violation(
        "aws-lb-http-redirects-to-https",
        lambda: load_balancer(http_actions=[{"type": "forward", "target_group_arn": "arn:tg"}]),
        "http",
    ),
    Violation(
        "aws-lb-modern-tls-policy",
        lambda: load_balancer(ssl_policy="ELBSecurityPolicy-2016-08"),
        "https",
    ),
    Violation(
        "aws-iam-no-wildcard-admin",
        lambda: aws.iam.Policy("admin", policy=WILDCARD),
        "admin",
        "document",
    ),
    Violation(
        "aws-iam-no-wildcard-admin",
        lambda: aws.iam.RolePolicyAttachment(
            "admin", role="app", policy_arn="arn:aws:iam::aws:policy/AdministratorAccess"
        ),
        "admin",
        "attachment",
    ),
    Violation("aws-iam-no-access-keys", lambda: aws.iam.AccessKey("ci", user="ci"), "ci"),
    Violation(
        "aws-resource-required-tags",
        lambda: aws.sqs.Queue("untagged", tags={"project": "tierstack", "env": "prod"}),
        "untagged",
        "missing",
    ),
    Violation("aws-resource-required-tags", lambda: aws.s3.Bucket("nothing"), "nothing", "no-tags"),
    Violation(
        "aws-ec2-instance-type-allowed",
        lambda: launch_template(instance_type="p4d.24xlarge"),
        "app",
    ),
    Violation("aws-autoscaling-max-size-capped", lambda: asg(max_size=50), "app"),
    Violation("aws-autoscaling-multi-az-prod", lambda: asg(min_size=1), "app", "one-instance"),
    Violation(
        "aws-autoscaling-multi-az-prod",
        lambda: asg(vpc_zone_identifiers=["subnet-a"]),
        "app",
        "one-zone",
    ),
    Violation("aws-rds-multi-az-prod", lambda: database(multi_az=False), "db"),
    # --- the way real mistakes look, family by family --------------------------------------
    # storage: a public access block present, but pointing at the bucket by a literal name
    Violation(
        "aws-s3-bucket-public-access-blocked",
        lambda: (
            aws.s3.Bucket("lit", tags=T),
            aws.s3.BucketPublicAccessBlock(
                "lit-pab",
                bucket="lit",
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
        ),
        "lit",
        "literal-bucket",
    ),
    # storage: the grant to everyone as its own bucket-policy resource, Principal {"AWS": ["*"]}
    Violation(
        "aws-s3-bucket-no-public-acl",
        lambda: bucket_with("site", policy=PUBLIC_READ),
        "site-tls",
        "policy-resource",
    ),
    # storage: the same grant written inline on the bucket, Principal "*"
    Violation(
        "aws-s3-bucket-no-public-acl",
        lambda: aws.s3.Bucket("inline", tags=T, policy=PUBLIC_READ),
        "inline",
        "inline-policy",
    ),
    # storage: versioning written inline and switched off
    Violation(
        "aws-s3-bucket-versioning-enabled",
        lambda: aws.s3.Bucket("inline", tags=T, versioning={"enabled": False}),
        "inline",
        "inline-off",
    ),
    # storage: the encryption configuration present, naming the bucket by a literal string
    Violation(
        "aws-s3-bucket-encrypted",
        lambda: (
            aws.s3.Bucket("lit", tags=T),
            aws.s3.BucketServerSideEncryptionConfiguration(
                "lit-sse",
                bucket="lit",
                rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            ),
        ),
        "lit",
        "literal-bucket",
    ),
    # storage: a lifecycle configuration present, its only rule switched off
    Violation(
        "aws-s3-bucket-lifecycle-configured",
        lambda: bucket_with("idle", lifecycle_status="Disabled"),
        "idle",
        "rule-disabled",
    ),
    # storage: a TLS deny present, but for uploads only (reads still work over plain HTTP)
    Violation(
        "aws-s3-bucket-tls-only",
        lambda: bucket_with("half", policy=DENY_PLAIN_UPLOADS),
        "half",
        "deny-one-action",
    ),
    # compute: metadata options present, the token setting left to its default (optional)
    Violation(
        "aws-ec2-imdsv2-required",
        lambda: aws.ec2.Instance(
            "ops",
            ami="ami-123",
            instance_type="t3.medium",
            metadata_options={"http_endpoint": "enabled"},
            root_block_device={"encrypted": True},
            tags=T,
        ),
        "ops",
        "instance-default",
    ),
    # compute: the root device declared, encryption switched off
    Violation(
        "aws-ec2-disk-encrypted",
        lambda: aws.ec2.Instance(
            "ops",
            ami="ami-123",
            instance_type="t3.medium",
            metadata_options={"http_tokens": "required"},
            root_block_device={"encrypted": False, "volume_size": 20},
            tags=T,
        ),
        "ops",
        "instance-root-off",
    ),
    # queues: a redrive policy with a receive count but no target queue
    Violation(
        "aws-sqs-dead-letter-configured",
        lambda: aws.sqs.Queue("jobs", tags=T, redrive_policy=json.dumps({"maxReceiveCount": 5})),
        "jobs",
        "no-target",
    ),
    # queues: the dead-letter side's setting (redrive allow policy) written on the source queue
    Violation(
        "aws-sqs-dead-letter-configured",
        lambda: aws.sqs.Queue(
            "jobs", tags=T, redrive_allow_policy=json.dumps({"redrivePermission": "allowAll"})
        ),
        "jobs",
        "allow-policy-instead",
    ),
    # queues: the redrive as its own resource, naming the queue by a literal URL
    Violation(
        "aws-sqs-dead-letter-configured",
        lambda: (
            aws.sqs.Queue("jobs", tags=T),
            aws.sqs.RedrivePolicy(
                "jobs-redrive",
                queue_url="https://sqs.us-east-1.amazonaws.com/1/jobs",
                redrive_policy=json.dumps(
                    {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:dlq", "maxReceiveCount": 5}
                ),
            ),
        ),
        "jobs",
        "literal-queue",
    ),
    # queues: a KMS key declared, SQS-managed encryption off, the key id left blank
    Violation(
        "aws-sqs-encrypted",
        lambda: (
            aws.kms.Key("queues", tags=T),
            aws.sqs.Queue("clear", tags=T, sqs_managed_sse_enabled=False, kms_master_key_id=""),
        ),
        "clear",
        "key-not-referenced",
    ),
    # load balancers: the HTTP listener's protocol written in lower case, forwarding
    Violation(
        "aws-lb-http-redirects-to-https",
        lambda: load_balancer(http_protocol="http", http_actions=FORWARD),
        "http",
        "lowercase-forward",
    ),
    # load balancers: no protocol written: the listener is HTTP by default, and forwards
    Violation(
        "aws-lb-http-redirects-to-https",
        lambda: load_balancer(http_protocol=None, http_actions=FORWARD),
        "http",
        "default-protocol",
    ),
    # load balancers: the listener redirects, but a rule as its own resource forwards /api
    Violation(
        "aws-lb-http-redirects-to-https", _http_rule_forwards, "api-over-http", "rule-forwards"
    ),
    # load balancers: a redirect that leaves the protocol to its default (#{protocol}: HTTP)
    Violation(
        "aws-lb-http-redirects-to-https",
        lambda: load_balancer(
            http_actions=[
                {"type": "redirect", "redirect": {"port": "443", "status_code": "HTTP_301"}}
            ]
        ),
        "http",
        "redirect-keeps-http",
    ),
    # load balancers: no TLS policy written: ELBSecurityPolicy-2016-08 (TLS 1.0) by default
    Violation(
        "aws-lb-modern-tls-policy", lambda: load_balancer(ssl_policy=None), "https", "default"
    ),
    # load balancers: an old policy whose name does not say TLS 1.0
    Violation(
        "aws-lb-modern-tls-policy",
        lambda: load_balancer(ssl_policy="ELBSecurityPolicy-FS-2018-06"),
        "https",
        "old-name",
    ),
    # load balancers: the HTTPS listener attached to the load balancer by a literal ARN
    Violation(
        "aws-lb-https-listener",
        lambda: (
            aws.lb.LoadBalancer("web", tags=T, access_logs={"bucket": "logs", "enabled": True}),
            aws.lb.Listener(
                "https",
                load_balancer_arn="arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web",
                protocol="HTTPS",
                port=443,
                ssl_policy=MODERN_TLS,
                default_actions=FORWARD,
            ),
        ),
        "web",
        "literal-arn",
    ),
    # identity: "*" inside a list, on Resource ["*"]
    Violation(
        "aws-iam-no-wildcard-admin",
        lambda: aws.iam.Policy("admin", policy=statement(Action=["*"], Resource=["*"])),
        "admin",
        "star-in-list",
    ),
    # identity: a whole service on every resource
    Violation(
        "aws-iam-no-wildcard-admin",
        lambda: aws.iam.RolePolicy(
            "s3", role="app", policy=statement(Action=["s3:GetObject", "s3:*"], Resource="*")
        ),
        "s3",
        "service-wildcard",
    ),
    # identity: everything but IAM, written as NotAction
    Violation(
        "aws-iam-no-wildcard-admin",
        lambda: aws.iam.Policy("power", policy=statement(NotAction="iam:*", Resource="*")),
        "power",
        "not-action",
    ),
    # identity: the wildcard policy inline on the role instead of its own resource
    Violation(
        "aws-iam-no-wildcard-admin",
        lambda: aws.iam.Role(
            "app",
            assume_role_policy=json.dumps({"Version": "2012-10-17"}),
            inline_policies=[{"name": "all", "policy": WILDCARD}],
            tags=T,
        ),
        "app",
        "role-inline",
    ),
    # identity: AdministratorAccess through the role's managed policy list
    Violation(
        "aws-iam-no-wildcard-admin",
        lambda: aws.iam.Role(
            "app",
            assume_role_policy=json.dumps({"Version": "2012-10-17"}),
            managed_policy_arns=["arn:aws:iam::aws:policy/AdministratorAccess"],
            tags=T,
        ),
        "app",
        "role-managed-arns",
    ),
    # identity: AdministratorAccess in another partition
    Violation(
        "aws-iam-no-wildcard-admin",
        lambda: aws.iam.RolePolicyAttachment(
            "admin", role="app", policy_arn="arn:aws-us-gov:iam::aws:policy/AdministratorAccess"
        ),
        "admin",
        "other-partition",
    ),
    # identity: a key whose secret is PGP-encrypted is still a long-lived key
    Violation(
        "aws-iam-no-access-keys",
        lambda: aws.iam.AccessKey("ci", user="ci", pgp_key="keybase:ops"),
        "ci",
        "encrypted-secret",
    ),
    # governance: env spelt another way, owner left blank, a key in another case
    Violation(
        "aws-resource-required-tags",
        lambda: aws.sqs.Queue("q", tags={**T, "env": "production"}),
        "q",
        "env-spelling",
    ),
    Violation(
        "aws-resource-required-tags",
        lambda: aws.sqs.Queue("q", tags={**T, "owner": " "}),
        "q",
        "blank-owner",
    ),
    Violation(
        "aws-resource-required-tags",
        lambda: aws.s3.Bucket(
            "b", tags={"project": "tierstack", "env": "prod", "owner": "p", "CostCenter": "42"}
        ),
        "b",
        "key-spelling",
    ),
    # cost: the template is allowed, but the group's mixed-instances override is not
    Violation(
        "aws-ec2-instance-type-allowed",
        lambda: asg(
            mixed_instances_policy={
                "launch_template": {
                    "launch_template_specification": {"launch_template_id": "lt-1"},
                    "overrides": [{"instance_type": "t3.large"}, {"instance_type": "p4d.24xlarge"}],
                }
            }
        ),
        "app",
        "mixed-override",
    ),
    # cost: the maximum read from stack config arrives as a string
    Violation("aws-autoscaling-max-size-capped", lambda: asg(max_size="50"), "app", "string"),
    # reliability: two subnets that are the same subnet written twice
    Violation(
        "aws-autoscaling-multi-az-prod",
        lambda: asg(vpc_zone_identifiers=["subnet-a", "subnet-a"]),
        "app",
        "same-subnet-twice",
    ),
    # reliability: Multi-AZ never written (single-AZ by default)
    Violation("aws-rds-multi-az-prod", lambda: database(multi_az=None), "db", "default"),
]


@pytest.mark.parametrize("violation", VIOLATIONS, ids=lambda v: v.id)
def test_violation_fires_its_policy(violation):
    assert_violation(violation)


def test_every_aws_policy_has_a_violation_case():
    assert {violation.policy for violation in VIOLATIONS} == set(IDS)


def test_dev_environment_relaxes_prod_only_rules():
    def dev_database():
        database(
            tags=tags("dev"),
            multi_az=False,
            deletion_protection=False,
            backup_retention_period=1,
            instance_class="db.t4g.micro",
        )
        asg(env="dev", min_size=1, vpc_zone_identifiers=["subnet-a"])

    results = run(dev_database)
    for policy_id in (
        "aws-rds-multi-az-prod",
        "aws-rds-deletion-protection",
        "aws-rds-backup-retention",
        "aws-autoscaling-multi-az-prod",
    ):
        assert fired(results, policy_id) == []


def test_unknown_values_do_not_fire():
    """A public-IP flag computed from another resource's output is unknown at preview."""

    def program():
        source = aws.s3.Bucket("flag", tags=T)
        launch_template(
            network_interfaces=[{"associate_public_ip_address": source.arn}],
            metadata_options={"http_tokens": source.arn},
        )

    records = record_resources(program)
    template = next(r for r in records if r["name"] == "app")
    assert template["inputs"]["metadataOptions"]["httpTokens"] == UNKNOWN
    results = run(program)
    assert fired(results, "aws-ec2-app-instance-no-public-ip") == []
    assert fired(results, "aws-ec2-imdsv2-required") == []


def test_messages_name_the_resource_and_the_problem():
    results = fired(run(_public_sg), "aws-ec2-no-public-admin-ingress")
    assert [r["message"] for r in results] == ["open: ingress opens SSH (port 22) to 0.0.0.0/0"]
    assert pulumi  # the SDK is what built these records


def test_sharpened_rules_leave_the_safe_forms_alone():
    """A grant to * narrowed by a condition, a redrive as its own linked resource, s3:* on one
    bucket's objects and an HTTPS listener spelt in lower case are not mistakes."""

    def program():
        vpce_only = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    *json.loads(TLS_ONLY)["Statement"],
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::docs/*",
                        "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}},
                    },
                ],
            }
        )
        bucket_with("docs", policy=vpce_only)
        dead_letter = aws.sqs.Queue("jobs-dlq", tags=T)
        jobs = aws.sqs.Queue("jobs", tags=T)
        aws.sqs.RedrivePolicy(
            "jobs-redrive",
            queue_url=jobs.url,
            redrive_policy=dead_letter.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})
            ),
        )
        aws.iam.Policy("docs", policy=statement(Action="s3:*", Resource="arn:aws:s3:::docs/*"))
        balancer = aws.lb.LoadBalancer(
            "web", tags=T, access_logs={"bucket": "logs", "enabled": True}
        )
        aws.lb.Listener(
            "https",
            load_balancer_arn=balancer.arn,
            protocol="https",
            port=443,
            ssl_policy=MODERN_TLS,
            default_actions=FORWARD,
        )

    results = [r for r in run(program) if r["policy"].startswith("aws-")]
    assert results == []
    # a path rule on the HTTP listener that redirects too is fine
    redirecting_rule = run(lambda: _http_rule_forwards(REDIRECT))
    assert fired(redirecting_rule, "aws-lb-http-redirects-to-https") == []
