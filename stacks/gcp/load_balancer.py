"""LoadBalancer: a global external Application Load Balancer with a Google-managed certificate,
a modern TLS policy, an HTTP→HTTPS redirect, a Cloud Armor rate limit and request logging."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.common.args import LoadBalancerArgs
from stacks.gcp.common import LB_SOURCE_RANGES, labels, physical
from stacks.gcp.network import FIREWALL_LOGS

REQUESTS_PER_MINUTE_PER_CLIENT = 600
"""Cloud Armor answers 429 to a client IP above this rate (brute force, scraping)."""
ALL_IPS = {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}}
DEV_DOMAIN_SUFFIX = "sslip.io"
"""Without a configured domain (dev), the certificate is for `<ip>.sslip.io`, a public DNS name
that resolves to the load balancer's own address, so Google can still issue a real certificate."""


class LoadBalancer(pulumi.ComponentResource):
    """The front door: address, certificate, TLS and edge policies, health check, the firewall
    rule for Google's front ends and the HTTP→HTTPS redirect. A GCP backend service lists its
    instance groups, so the HTTPS route to the app (backend service, URL map, proxy, forwarding
    rule) is the AppTier's, as the AWS tier joins the target group (`stacks/gcp/app_tier.py`)."""

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:LoadBalancer", name, None, opts)
        self.logical_name = name
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        self.app_port = args.app_port
        self.backend_tag = physical(context, f"{name}-backend")
        """Network tag of the VMs behind this balancer; only Google's front ends reach them."""
        self.url_map_name = physical(context, f"{name}-https")

        self.address = gcp.compute.GlobalAddress(
            "address",
            name=physical(context, f"{name}-ip"),
            address_type="EXTERNAL",
            ip_version="IPV4",
            labels=labels(context),
            opts=child,
        )
        self.domain: pulumi.Output[str] = (
            pulumi.Output.from_input(context.settings.certificate)
            if context.settings.certificate
            else self.address.address.apply(lambda ip: f"{ip}.{DEV_DOMAIN_SUFFIX}")
        )
        self.certificate = gcp.compute.ManagedSslCertificate(
            "certificate",
            name=physical(context, f"{name}-cert"),
            managed={"domains": [self.domain]},
            opts=child,
        )
        self.tls_policy = gcp.compute.SSLPolicy(
            "tls-policy",
            name=physical(context, f"{name}-tls"),
            profile="MODERN",
            min_tls_version="TLS_1_2",
            opts=child,
        )
        self.edge_policy = gcp.compute.SecurityPolicy(
            "edge-policy",
            name=physical(context, f"{name}-edge"),
            description="per-client rate limit in front of the app",
            type="CLOUD_ARMOR",
            rules=[
                {
                    "priority": 1000,
                    "action": "throttle",
                    "description": "rate limit per client IP",
                    "match": ALL_IPS,
                    "rate_limit_options": {
                        "conform_action": "allow",
                        "exceed_action": "deny(429)",
                        "enforce_on_key": "IP",
                        "rate_limit_threshold": {
                            "count": REQUESTS_PER_MINUTE_PER_CLIENT,
                            "interval_sec": 60,
                        },
                    },
                },
                {
                    "priority": 2147483647,
                    "action": "allow",
                    "description": "default rule",
                    "match": ALL_IPS,
                },
            ],
            opts=child,
        )
        self.health_check = gcp.compute.HealthCheck(
            "health-check",
            name=physical(context, f"{name}-health"),
            check_interval_sec=10,
            timeout_sec=5,
            healthy_threshold=2,
            unhealthy_threshold=3,
            http_health_check={"port": args.app_port, "request_path": args.health_path},
            log_config={"enable": True},
            opts=child,
        )
        self.firewall = gcp.compute.Firewall(
            "allow-front-ends",
            name=physical(context, f"{name}-allow-front-ends"),
            network=args.network.vpc.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=list(LB_SOURCE_RANGES),
            target_tags=[self.backend_tag],
            allows=[{"protocol": "tcp", "ports": [str(args.app_port)]}],
            log_config=FIREWALL_LOGS,
            description="only Google's load balancer proxies and health checks reach the app port",
            opts=child,
        )
        self.redirect_map = gcp.compute.URLMap(
            "http-redirect",
            name=physical(context, f"{name}-redirect"),
            default_url_redirect={
                "https_redirect": True,
                "strip_query": False,
                "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT",
            },
            opts=child,
        )
        self.http_proxy = gcp.compute.TargetHttpProxy(
            "http-proxy",
            name=physical(context, f"{name}-http-proxy"),
            url_map=self.redirect_map.id,
            opts=child,
        )
        self.http_rule = gcp.compute.GlobalForwardingRule(
            "http",
            name=physical(context, f"{name}-http"),
            ip_address=self.address.address,
            ip_protocol="TCP",
            port_range="80",
            target=self.http_proxy.id,
            load_balancing_scheme="EXTERNAL_MANAGED",
            labels=labels(context),
            opts=child,
        )
        self.url = self.domain.apply(lambda domain: f"https://{domain}")
        self.dns_target: pulumi.Output[str] = self.address.address
        """The A record's address: the managed certificate is issued once the domain resolves
        to it."""
        self.register_outputs(
            {"url": self.url, "dns_target": self.dns_target, "address": self.address.address}
        )
