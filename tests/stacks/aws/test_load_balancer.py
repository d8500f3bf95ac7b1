"""LoadBalancer: HTTPS front door, redirect, health check, certificates."""

from __future__ import annotations

from stacks.aws import LoadBalancer
from stacks.common.args import LoadBalancerArgs
from tests.stacks.aws.conftest import ACCOUNT, REGION, computed
from tests.stacks.aws.support import document, network
from tests.stacks.harness import run_pulumi


def _load_balancer(context):
    def program():
        lb = LoadBalancer("web-lb", LoadBalancerArgs(context, network(context), 8000, "/healthz"))
        return {"url": lb.url}

    return run_pulumi(program, computed=computed)


def test_load_balancer_https_redirect_health_check_and_logs_with_dev_certificate(context):
    run = _load_balancer(context)
    dns = f"image-processing-dev-web-lb-1234567890.{REGION}.elb.amazonaws.com"
    assert run.result == {"url": f"https://{dns}"}
    https = run.one("aws:lb/listener:Listener", "web-lb-https").inputs
    assert (https["port"], https["protocol"]) == (443, "HTTPS")
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    # dev fallback: the self-signed certificate for the ALB's name, imported into ACM
    assert https["certificateArn"] == f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/self-signed-dev"
    cert = run.one("tls:index/selfSignedCert:SelfSignedCert").inputs
    assert cert["dnsNames"] == [dns]
    assert "server_auth" in cert["allowedUses"]
    imported = run.one("aws:acm/certificate:Certificate").inputs
    assert imported["certificateBody"].startswith("-----BEGIN CERTIFICATE-----")
    http = run.one("aws:lb/listener:Listener", "web-lb-http").inputs
    assert http["defaultActions"] == [
        {
            "type": "redirect",
            "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"},
        }
    ]
    target_group = run.one("aws:lb/targetGroup:TargetGroup").inputs
    assert target_group["port"] == 8000
    assert target_group["healthCheck"]["path"] == "/healthz"
    balancer = run.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert balancer["subnets"] == ["network-public-0-id", "network-public-1-id"]
    assert balancer["dropInvalidHeaderFields"] is True
    log_bucket = "image-processing-dev-web-lb-logs-20260101abcdef"
    assert balancer["accessLogs"] == {"bucket": log_bucket, "prefix": "alb", "enabled": True}
    statements = document(run.one("aws:s3/bucketPolicy:BucketPolicy"))["Statement"]
    delivery = next(s for s in statements if s["Effect"] == "Allow")
    assert delivery["Resource"] == f"arn:aws:s3:::{log_bucket}/alb/*"
    assert delivery["Principal"]["AWS"] == "arn:aws:iam::156460612806:root"  # eu-west-1 ELB
    sse = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "AES256"
    }
    ingress = run.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert sorted((r.inputs["fromPort"], r.inputs["cidrIpv4"]) for r in ingress) == [
        (80, "0.0.0.0/0"),
        (443, "0.0.0.0/0"),
    ]
    [egress] = run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert (egress.inputs["fromPort"], egress.inputs["cidrIpv4"]) == (8000, "10.40.0.0/16")


def test_load_balancer_uses_the_configured_certificate_in_prod(prod_context):
    run = _load_balancer(prod_context)
    https = run.one("aws:lb/listener:Listener", "web-lb-https").inputs
    assert https["certificateArn"] == prod_context.settings.certificate
    assert not run.of_type("tls:index/selfSignedCert:SelfSignedCert")
    assert not run.of_type("aws:acm/certificate:Certificate")
    assert run.one("aws:lb/loadBalancer:LoadBalancer").inputs["enableDeletionProtection"] is True
