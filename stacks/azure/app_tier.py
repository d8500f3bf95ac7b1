"""AppTier: the app's scale set in the app subnet, in the gateway's backend pool, health-checked
on the app's health path (rolling upgrades, automatic repairs), autoscaled on CPU."""

from __future__ import annotations

import pulumi

from stacks.azure.common import component_opts
from stacks.azure.scale_set import ScaleSetSpec, autoscale, scale_rule, scale_set
from stacks.common.args import AppTierArgs

SCALE_IN_MARGIN = 25  # percent below the target before instances are removed


class AppTier(pulumi.ComponentResource):
    """Exposes group_name (the scale set's name, whose CPU the Alarms component watches)."""

    def __init__(
        self, name: str, args: AppTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:AppTier", name, None, component_opts(opts))
        self.logical_name = name
        context, spec, net = args.context, args.spec, args.network
        sizing = context.settings.sizing
        # The tier opens its own subnet to the gateway, as the AWS tier opens its security group
        # to the load balancer's. (The rule was the LoadBalancer's child before: the alias keeps
        # existing stacks from replacing it.)
        net.add_inbound_rule(
            "app",
            "allow-app-from-gateway",
            100,
            "Allow",
            net.subnet_prefixes["gateway"],
            [str(spec.port)],
            parent=self,
            aliases=[pulumi.Alias(parent=args.load_balancer)],
        )
        self.scale_set = scale_set(
            self,
            context,
            net,
            ScaleSetSpec(
                name=name,
                tier=spec.name,
                subnet_id=net.subnet_ids["app"],
                identity_id=args.identity.identity_id,
                bootstrap=args.bootstrap,
                size=sizing.app_size,
                instances=max(sizing.app_min, 1),
                backend_pool_id=args.load_balancer.backend_pool_id,
                health_port=spec.port,
                health_path=spec.health_path,
            ),
        )
        self.scale_set_id: pulumi.Output[str] = self.scale_set.id
        self.scale_set_name: pulumi.Output[str] = self.scale_set.name
        self.group_name: pulumi.Output[str] = self.scale_set.name
        target = float(spec.target_cpu_percent)
        autoscale(
            self,
            context,
            net,
            name,
            self.scale_set,
            sizing.app_min,
            sizing.app_max,
            [
                scale_rule("Percentage CPU", self.scale_set.id, "GreaterThan", target, "Increase"),
                scale_rule(
                    "Percentage CPU",
                    self.scale_set.id,
                    "LessThan",
                    max(target - SCALE_IN_MARGIN, 5.0),
                    "Decrease",
                    cooldown="PT10M",
                ),
            ],
        )
        self.register_outputs({"group_name": self.group_name, "scale_set_id": self.scale_set_id})
