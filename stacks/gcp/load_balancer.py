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
    """The front door. A GCP backend service lists its instance groups, so the app tier calls
    `serve(group)` to complete the balancer (backend service, URL maps, proxies, forwarding
    rules); until then only the address, certificate, TLS policy, health check and the firewall
    rule for Google's front ends exist."""

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:LoadBalancer", name, None, opts)
        self.logical_name = name
        context = args.context
        self._context = context
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        self._served = False
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
            opts=self._child,
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
            opts=self._child,
        )
        self.tls_policy = gcp.compute.SSLPolicy(
            "tls-policy",
            name=physical(context, f"{name}-tls"),
            profile="MODERN",
            min_tls_version="TLS_1_2",
            opts=self._child,
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
            opts=self._child,
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
            opts=self._child,
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
            opts=self._child,
        )
        self.url = self.domain.apply(lambda domain: f"https://{domain}")
        self.dns_target: pulumi.Output[str] = self.address.address
        """The A record's address: the managed certificate is issued once the domain resolves
        to it."""
        self.register_outputs(
            {"url": self.url, "dns_target": self.dns_target, "address": self.address.address}
        )

    def serve(self, instance_group: pulumi.Input[str]) -> None:
        """Routes all HTTPS traffic to `instance_group` (its named port `http`)."""
        if self._served:
            raise ValueError(f"load balancer {self._name} already serves an instance group")
        self._served = True
        context, child = self._context, self._child
        self.backend = gcp.compute.BackendService(
            "backend",
            name=physical(context, f"{self._name}-backend"),
            protocol="HTTP",
            port_name="http",
            load_balancing_scheme="EXTERNAL_MANAGED",
            timeout_sec=30,
            connection_draining_timeout_sec=30,
            health_checks=self.health_check.id,
            backends=[
                {
                    "group": instance_group,
                    "balancing_mode": "UTILIZATION",
                    "max_utilization": 0.8,
                    "capacity_scaler": 1.0,
                }
            ],
            log_config={"enable": True, "sample_rate": 1.0},
            security_policy=self.edge_policy.id,
            opts=child,
        )
        self.url_map = gcp.compute.URLMap(
            "https-routes",
            name=self.url_map_name,
            default_service=self.backend.id,
            opts=child,
        )
        self.https_proxy = gcp.compute.TargetHttpsProxy(
            "https-proxy",
            name=physical(context, f"{self._name}-https-proxy"),
            url_map=self.url_map.id,
            ssl_certificates=[self.certificate.id],
            ssl_policy=self.tls_policy.id,
            opts=child,
        )
        self.https_rule = gcp.compute.GlobalForwardingRule(
            "https",
            name=physical(context, f"{self._name}-https"),
            ip_address=self.address.address,
            ip_protocol="TCP",
            port_range="443",
            target=self.https_proxy.id,
            load_balancing_scheme="EXTERNAL_MANAGED",
            labels=labels(context),
            opts=child,
        )
        self.redirect_map = gcp.compute.URLMap(
            "http-redirect",
            name=physical(context, f"{self._name}-redirect"),
            default_url_redirect={
                "https_redirect": True,
                "strip_query": False,
                "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT",
            },
            opts=child,
        )
        self.http_proxy = gcp.compute.TargetHttpProxy(
            "http-proxy",
            name=physical(context, f"{self._name}-http-proxy"),
            url_map=self.redirect_map.id,
            opts=child,
        )
        self.http_rule = gcp.compute.GlobalForwardingRule(
            "http",
            name=physical(context, f"{self._name}-http"),
            ip_address=self.address.address,
            ip_protocol="TCP",
            port_range="80",
            target=self.http_proxy.id,
            load_balancing_scheme="EXTERNAL_MANAGED",
            labels=labels(context),
            opts=child,
        )
