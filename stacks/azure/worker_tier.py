"""WorkerTier: a scale set in the worker subnet (no inbound traffic at all), scaled on the active
message count of its Service Bus queue divided by the instance count."""

from __future__ import annotations

import pulumi

from stacks.azure.common import component_opts
from stacks.azure.scale_set import ScaleSetTier, autoscale, scale_rule
from stacks.common.args import WorkerTierArgs

SERVICE_BUS_NAMESPACE = "Microsoft.ServiceBus/namespaces"


class WorkerTier(ScaleSetTier):
    """Exposes group_name (the scale set's name) and scale_set_id."""

    def __init__(
        self, name: str, args: WorkerTierArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:WorkerTier", name, args, component_opts(opts))
        context, spec, net, queue = args.context, args.spec, args.network, args.queue
        sizing = self.sizing
        self.declare_scale_set(args, "worker", sizing.worker_size, sizing.worker_min)
        if queue is None:  # a producer: a fixed group, never scaled on the queue it fills
            self.register_outputs(
                {"group_name": self.group_name, "scale_set_id": self.scale_set_id}
            )
            return
        backlog = float(spec.backlog_per_instance)
        this_queue = [
            {"dimension_name": "EntityName", "operator": "Equals", "values": [queue.queue_name]}
        ]
        autoscale(
            self,
            context,
            net,
            name,
            self.scale_set,
            sizing.worker_min,
            sizing.worker_max,
            [
                scale_rule(
                    "ActiveMessages",
                    queue.namespace_id,
                    "GreaterThan",
                    backlog,
                    "Increase",
                    namespace=SERVICE_BUS_NAMESPACE,
                    dimensions=this_queue,
                    per_instance=True,
                    cooldown="PT2M",
                ),
                scale_rule(
                    "ActiveMessages",
                    queue.namespace_id,
                    "LessThan",
                    backlog / 2,
                    "Decrease",
                    namespace=SERVICE_BUS_NAMESPACE,
                    dimensions=this_queue,
                    per_instance=True,
                    cooldown="PT10M",
                ),
            ],
        )
        self.register_outputs({"group_name": self.group_name, "scale_set_id": self.scale_set_id})
