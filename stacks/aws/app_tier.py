"""AppTier: stateless app servers in the private subnets behind the load balancer, an
autoscaling group over all zones with a CPU target-tracking policy."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from stacks.aws.common import asg_tags, child, tags
from stacks.aws.hosts import (
    host_security_group,
    launch_template,
    open_database_access,
    template_version,
)
from stacks.common.args import AppTierArgs
from stacks.common.tier import TierComponent

HEALTH_CHECK_GRACE_SECONDS = 300
"""Time for cloud-init and the first ansible-pull before the ALB health check counts."""


class AppTier(TierComponent):
    """Reachable only from the load balancer's security group, on the app port."""

    security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: AppTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:AppTier", name, args, opts)
        context, spec, network, sizing = args.context, args.spec, args.network, self.sizing
        group = host_security_group(
            self, name, context, network, f"{spec.name} app servers: app port from the ALB only"
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-from-lb",
            security_group_id=group.id,
            referenced_security_group_id=args.load_balancer.security_group_id,
            ip_protocol="tcp",
            from_port=spec.port,
            to_port=spec.port,
            description="app port from the load balancer",
            tags=tags(context, f"{name}-from-lb"),
            opts=child(self),
        )
        open_database_access(self, name, context, args.identity, group)
        template = launch_template(
            self, name, context, sizing.app_size, args.identity, group, args.bootstrap
        )
        autoscaling_group = aws.autoscaling.Group(
            name,
            name=f"{context.prefix}-{name}",
            vpc_zone_identifiers=network.private_subnet_ids,
            min_size=sizing.app_min,
            max_size=sizing.app_max,
            launch_template={"id": template.id, "version": template_version(template)},
            target_group_arns=[args.load_balancer.target_group_arn],
            health_check_type="ELB",
            health_check_grace_period=HEALTH_CHECK_GRACE_SECONDS,
            instance_refresh={"strategy": "Rolling", "preferences": {"min_healthy_percentage": 90}},
            tags=asg_tags(context, name),
            opts=child(self, depends_on=network.egress_ready),
        )
        aws.autoscaling.Policy(
            f"{name}-cpu",
            autoscaling_group_name=autoscaling_group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration={
                "predefined_metric_specification": {
                    "predefined_metric_type": "ASGAverageCPUUtilization"
                },
                "target_value": float(spec.target_cpu_percent),
            },
            opts=child(self),
        )
        self.group_name = autoscaling_group.name
        self.security_group_id = group.id
        self.register_outputs({"group_name": self.group_name})
