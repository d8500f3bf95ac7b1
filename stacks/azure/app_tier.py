"""AppTier: the app's scale set in the app subnet, in the gateway's backend pool, health-checked
on the app's health path (rolling upgrades, automatic repairs), autoscaled on CPU."""

from __future__ import annotations

import pulumi

from stacks.azure.common import component_opts
from stacks.azure.scale_set import ScaleSetTier, autoscale, scale_rule
from stacks.common.args import AppTierArgs

SCALE_IN_MARGIN = 25  # percent below the target before instances are removed


class AppTier(ScaleSetTier):
    """Exposes group_name (the scale set's name, whose CPU the Alarms component watches)."""

    def __init__(
        self, name: str, args: AppTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:AppTier", name, args, component_opts(opts))
        context, spec, net, sizing = args.context, args.spec, args.network, self.sizing
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
        health = (args.load_balancer.backend_pool_id, spec.port, spec.health_path)
        self.declare_scale_set(args, "app", sizing.app_size, max(sizing.app_min, 1), health)
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
