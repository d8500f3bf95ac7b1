"""WorkerTier: queue consumers in a regional managed instance group, scaled on the backlog of the
Pub/Sub subscription they drain."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.common.args import WorkerTierArgs
from stacks.common.tier import TierComponent
from stacks.gcp.common import physical
from stacks.gcp.instances import tier_hosts

BACKLOG_METRIC = "pubsub.googleapis.com/subscription/num_undelivered_messages"


class WorkerTier(TierComponent):
    """Workers take no inbound traffic (no firewall rule admits them anything but IAP SSH); the
    autoscaler keeps about `backlog_per_instance` undelivered messages per VM."""

    def __init__(
        self, name: str, args: WorkerTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:WorkerTier", name, args, opts)
        context, spec, sizing = args.context, args.spec, self.sizing
        self.template, self.group = tier_hosts(
            self,
            name,
            args,
            size=sizing.worker_size,
            target_size=sizing.worker_min if args.queue is None else None,
        )
        self.group_name: pulumi.Output[str] = self.group.name
        if args.queue is None:  # a producer: a fixed group, never scaled on the queue it fills
            self.register_outputs(
                {"group_name": self.group_name, "instance_group": self.group.instance_group}
            )
            return
        backlog_filter = (
            "resource.type = pubsub_subscription AND "
            f'resource.labels.subscription_id = "{args.queue.subscription_name}"'
        )
        self.autoscaler = gcp.compute.RegionAutoscaler(
            f"{name}-autoscaler",
            name=physical(context, name),
            region=context.settings.region,
            target=self.group.id,
            autoscaling_policy={
                "min_replicas": sizing.worker_min,
                "max_replicas": sizing.worker_max,
                "cooldown_period": 120,
                "mode": "ON",
                "metrics": [
                    {
                        "name": BACKLOG_METRIC,
                        "filter": backlog_filter,
                        "single_instance_assignment": spec.backlog_per_instance,
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {"group_name": self.group_name, "instance_group": self.group.instance_group}
        )
