"""WorkerTier: queue consumers in the private subnets, an autoscaling group that tracks the
backlog per instance (visible messages / in-service instances) of the queue it drains."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from stacks.aws.common import asg_tags, child
from stacks.aws.hosts import (
    host_security_group,
    launch_template,
    open_database_access,
    template_version,
)
from stacks.common.args import WorkerTierArgs
from stacks.common.tier import TierComponent

BACKLOG_EXPRESSION = "IF(running > 0, visible / running, visible)"
"""Backlog per instance; with no instance running the whole backlog counts, so 0 scales out."""


class WorkerTier(TierComponent):
    """No ingress at all: workers only pull from the queue and call AWS APIs."""

    security_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: WorkerTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:WorkerTier", name, args, opts)
        context, spec, network, sizing = args.context, args.spec, args.network, self.sizing
        group_name = f"{context.prefix}-{name}"
        group = host_security_group(
            self, name, context, network, f"{spec.name} workers: no ingress"
        )
        open_database_access(self, name, context, args.identity, group)
        template = launch_template(
            self, name, context, sizing.worker_size, args.identity, group, args.bootstrap
        )
        autoscaling_group = aws.autoscaling.Group(
            name,
            name=group_name,
            vpc_zone_identifiers=network.private_subnet_ids,
            min_size=sizing.worker_min,
            max_size=sizing.worker_max if args.queue else sizing.worker_min,
            launch_template={"id": template.id, "version": template_version(template)},
            health_check_type="EC2",
            enabled_metrics=["GroupInServiceInstances"],
            metrics_granularity="1Minute",
            instance_refresh={"strategy": "Rolling", "preferences": {"min_healthy_percentage": 50}},
            tags=asg_tags(context, name),
            opts=child(self, depends_on=network.egress_ready),
        )
        if args.queue is None:  # a producer: a fixed group, never scaled on the queue it fills
            self.group_name = autoscaling_group.name
            self.security_group_id = group.id
            self.register_outputs({"group_name": self.group_name})
            return
        aws.autoscaling.Policy(
            f"{name}-backlog",
            autoscaling_group_name=autoscaling_group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration={
                "target_value": float(spec.backlog_per_instance),
                "customized_metric_specification": {
                    "metrics": [
                        {
                            "id": "visible",
                            "return_data": False,
                            "metric_stat": {
                                "metric": {
                                    "namespace": "AWS/SQS",
                                    "metric_name": "ApproximateNumberOfMessagesVisible",
                                    "dimensions": [
                                        {"name": "QueueName", "value": args.queue.physical_name}
                                    ],
                                },
                                "stat": "Sum",
                            },
                        },
                        {
                            "id": "running",
                            "return_data": False,
                            "metric_stat": {
                                "metric": {
                                    "namespace": "AWS/AutoScaling",
                                    "metric_name": "GroupInServiceInstances",
                                    "dimensions": [
                                        {"name": "AutoScalingGroupName", "value": group_name}
                                    ],
                                },
                                "stat": "Average",
                            },
                        },
                        {
                            "id": "backlog",
                            "label": "messages per in-service instance",
                            "expression": BACKLOG_EXPRESSION,
                            "return_data": True,
                        },
                    ]
                },
            },
            opts=child(self),
        )
        self.group_name = autoscaling_group.name
        self.security_group_id = group.id
        self.register_outputs({"group_name": self.group_name})
