"""AppTier: stateless app servers in a regional managed instance group behind the load balancer,
autoscaled on CPU."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.common.args import AppTierArgs
from stacks.gcp.common import physical
from stacks.gcp.instances import instance_template, regional_group


class AppTier(pulumi.ComponentResource):
    """The VMs converge with the app's Ansible roles at boot; the load balancer's health check
    also drives auto-healing, so a VM whose app stops answering is replaced."""

    def __init__(
        self, name: str, args: AppTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:AppTier", name, None, opts)
        context, spec = args.context, args.spec
        sizing = context.settings.sizing
        self.logical_name = name
        """The `tier` label on this tier's VMs (alarms select on it)."""

        self.template = instance_template(
            context,
            tier=name,
            size=sizing.app_size,
            subnet=args.network.subnet,
            service_account_email=args.identity.email,
            startup_script=args.bootstrap,
            tags=[args.network.vm_tag, args.load_balancer.backend_tag],
            parent=self,
        )
        self.group = regional_group(
            context,
            tier=name,
            template=self.template,
            named_ports=[{"name": "http", "port": spec.port}],
            health_check=args.load_balancer.health_check,
            egress=[args.network.nat],
            parent=self,
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
        args.load_balancer.serve(self.group.instance_group)
        self.register_outputs(
            {"group_name": self.group_name, "instance_group": self.group.instance_group}
        )
