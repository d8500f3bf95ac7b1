"""LoadBalancer: an internet-facing ALB in the public subnets — HTTPS with a TLS 1.2+ policy,
HTTP redirected to HTTPS, invalid headers dropped, access logs to its own bucket.

Certificate: the ACM certificate ARN from `tierstack:certificate`; without one (dev only, the
settings refuse prod) a self-signed certificate for the ALB's DNS name is generated with
pulumi-tls and imported into ACM, so even dev traffic is encrypted (browsers will warn)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_tls as tls

from stacks.aws.buckets import bucket_policies, secure_bucket, version_rules
from stacks.aws.common import child, tags
from stacks.common.args import LoadBalancerArgs

SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
DEV_CERTIFICATE_HOURS = 365 * 24
ANYWHERE = "0.0.0.0/0"
LOG_PREFIX = "alb"
# Regions opened before August 2022 deliver ALB logs from these ELB accounts; newer regions use
# the log-delivery service principal, which the policy always names too.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "ca-central-1": "985666609251",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "ap-south-1": "718504428378",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "sa-east-1": "507241528517",
}


class LoadBalancer(pulumi.ComponentResource):
    """The only component reachable from the internet, and only on 80 (redirect) and 443."""

    url: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    arn_suffix: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:LoadBalancer", name, None, opts)
        self.logical_name = name
        context, network = args.context, args.network
        settings = context.settings
        # ALB log delivery supports SSE-S3 only, so the ALB keeps its own AES256 log bucket
        # (args.log_store is not used on AWS: object stores are SSE-KMS).
        logs = secure_bucket(
            self,
            f"{name}-logs",
            context,
            sse_algorithm="AES256",
            lifecycle_rules=version_rules(7, None, settings.sizing.log_retention_days),
            extra_statements=lambda arn: _log_delivery_statements(arn, settings.region),
        )
        group = aws.ec2.SecurityGroup(
            name,
            name=f"{context.prefix}-{name}",
            description="Load balancer: HTTPS and the HTTP redirect from anywhere",
            vpc_id=network.vpc_id,
            revoke_rules_on_delete=True,
            tags=tags(context, name),
            opts=child(self),
        )
        for port in (80, 443):
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-in-{port}",
                security_group_id=group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=ANYWHERE,
                description=f"port {port} from the internet",
                tags=tags(context, f"{name}-in-{port}"),
                opts=child(self),
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-out-app",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=args.app_port,
            to_port=args.app_port,
            cidr_ipv4=network.cidr,
            description="to the app servers inside the VPC",
            tags=tags(context, f"{name}-out-app"),
            opts=child(self),
        )
        balancer = aws.lb.LoadBalancer(
            name,
            name=f"{context.prefix}-{name}"[:32].rstrip("-"),
            load_balancer_type="application",
            internal=False,
            security_groups=[group.id],
            subnets=network.public_subnet_ids,
            drop_invalid_header_fields=True,
            enable_deletion_protection=settings.sizing.deletion_protection,
            access_logs={"bucket": logs.bucket, "prefix": LOG_PREFIX, "enabled": True},
            tags=tags(context, name),
            # ELB writes a test object when logging is enabled: without the bucket policy that
            # admits log delivery, a first deploy fails with Access Denied.
            opts=child(self, depends_on=[bucket_policies[logs]]),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-app",
            port=args.app_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=network.vpc_id,
            deregistration_delay=30,
            health_check={
                "path": args.health_path,
                "protocol": "HTTP",
                "matcher": "200",
                "interval": 15,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            tags=tags(context, f"{name}-app"),
            opts=child(self),
        )
        certificate_arn = (
            pulumi.Output.from_input(settings.certificate)
            if settings.certificate
            else self._dev_certificate(name, context, balancer.dns_name)
        )
        aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=SSL_POLICY,
            certificate_arn=certificate_arn,
            default_actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            tags=tags(context, f"{name}-https"),
            opts=child(self),
        )
        aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "redirect",
                    "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
                }
            ],
            tags=tags(context, f"{name}-http"),
            opts=child(self),
        )
        self.dns_name = balancer.dns_name
        self.url = balancer.dns_name.apply(lambda dns: f"https://{dns}")
        self.dns_target = balancer.dns_name
        """What a CNAME (or Route 53 alias) for the app's domain points at."""
        self.arn_suffix = balancer.arn_suffix
        self.security_group_id = group.id
        self.target_group_arn = target_group.arn
        self.register_outputs(
            {"url": self.url, "dns_target": self.dns_target, "arn_suffix": self.arn_suffix}
        )

    def _dev_certificate(
        self, name: str, context: Any, dns_name: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """Self-signed, for the ALB's own DNS name; the key stays a secret in Pulumi state."""
        key = tls.PrivateKey(
            f"{name}-dev-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child(self)
        )
        certificate = tls.SelfSignedCert(
            f"{name}-dev-cert",
            private_key_pem=key.private_key_pem,
            subject={"common_name": f"{context.prefix}.dev", "organization": "tierstack dev"},
            dns_names=[dns_name],
            validity_period_hours=DEV_CERTIFICATE_HOURS,
            early_renewal_hours=30 * 24,
            allowed_uses=["key_encipherment", "digital_signature", "server_auth"],
            opts=child(self),
        )
        imported = aws.acm.Certificate(
            f"{name}-dev-cert",
            private_key=key.private_key_pem,
            certificate_body=certificate.cert_pem,
            tags=tags(context, f"{name}-dev-cert"),
            opts=child(self),
        )
        return imported.arn


def _log_delivery_statements(bucket_arn: str, region: str) -> list[dict[str, Any]]:
    """Lets the ELB log delivery write under alb/ and nothing else."""
    principals: dict[str, Any] = {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    account = ELB_LOG_ACCOUNTS.get(region)
    if account:
        principals["AWS"] = f"arn:aws:iam::{account}:root"
    return [
        {
            "Sid": "AllowLoadBalancerLogDelivery",
            "Effect": "Allow",
            "Principal": principals,
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{LOG_PREFIX}/*",
        }
    ]
