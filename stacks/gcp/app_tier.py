"""AppTier: stateless app servers in a regional managed instance group behind the load balancer,
autoscaled on CPU, and the load balancer's HTTPS route to them."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.common.args import AppTierArgs, StackContext
from stacks.common.tier import TierComponent
from stacks.gcp.common import labels, physical
from stacks.gcp.instances import tier_hosts
from stacks.gcp.load_balancer import LoadBalancer


class AppTier(TierComponent):
    """The VMs converge with the app's Ansible roles at boot; the load balancer's health check
    also drives auto-healing, so a VM whose app stops answering is replaced."""

    def __init__(
        self, name: str, args: AppTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:AppTier", name, args, opts)
        context, spec, sizing = args.context, args.spec, self.sizing
        self.template, self.group = tier_hosts(
            self,
            name,
            args,
            size=sizing.app_size,
            extra_tags=[args.load_balancer.backend_tag],
            named_ports=[{"name": "http", "port": spec.port}],
            health_check=args.load_balancer.health_check,
        )
        self.group_name: pulumi.Output[str] = self.group.name
        self.autoscaler = gcp.compute.RegionAutoscaler(
            f"{name}-autoscaler",
            name=physical(context, name),
            region=context.settings.region,
            target=self.group.id,
            autoscaling_policy={
                "min_replicas": sizing.app_min,
                "max_replicas": sizing.app_max,
                "cooldown_period": 120,
                "mode": "ON",
                "cpu_utilization": {"target": spec.target_cpu_percent / 100},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.backend = _route_https(self, context, args.load_balancer, self.group.instance_group)
        self.register_outputs(
            {"group_name": self.group_name, "instance_group": self.group.instance_group}
        )


def _route_https(
    tier: AppTier,
    context: StackContext,
    balancer: LoadBalancer,
    instance_group: pulumi.Input[str],
) -> gcp.compute.BackendService:
    """Joins the tier to the balancer, as the AWS tier joins its target group: a GCP backend
    service names its instance groups, so the HTTPS chain (backend service, URL map, proxy,
    forwarding rule) is created here. These were the balancer's children before: the alias keeps
    existing stacks from replacing them."""
    moved = pulumi.ResourceOptions(parent=tier, aliases=[pulumi.Alias(parent=balancer)])
    prefix = balancer.logical_name
    backend = gcp.compute.BackendService(
        "backend",
        name=physical(context, f"{prefix}-backend"),
        protocol="HTTP",
        port_name="http",
        load_balancing_scheme="EXTERNAL_MANAGED",
        timeout_sec=30,
        connection_draining_timeout_sec=30,
        health_checks=balancer.health_check.id,
        backends=[
            {
                "group": instance_group,
                "balancing_mode": "UTILIZATION",
                "max_utilization": 0.8,
                "capacity_scaler": 1.0,
            }
        ],
        log_config={"enable": True, "sample_rate": 1.0},
        security_policy=balancer.edge_policy.id,
        opts=moved,
    )
    url_map = gcp.compute.URLMap(
        "https-routes", name=balancer.url_map_name, default_service=backend.id, opts=moved
    )
    https_proxy = gcp.compute.TargetHttpsProxy(
        "https-proxy",
        name=physical(context, f"{prefix}-https-proxy"),
        url_map=url_map.id,
        ssl_certificates=[balancer.certificate.id],
        ssl_policy=balancer.tls_policy.id,
        opts=moved,
    )
    gcp.compute.GlobalForwardingRule(
        "https",
        name=physical(context, f"{prefix}-https"),
        ip_address=balancer.address.address,
        ip_protocol="TCP",
        port_range="443",
        target=https_proxy.id,
        load_balancing_scheme="EXTERNAL_MANAGED",
        labels=labels(context),
        opts=moved,
    )
    return backend
