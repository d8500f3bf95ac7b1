"""Alarms: an Azure Monitor action group (e-mail to `tierstack:alertEmail` when set) and metric
alerts on gateway 5xx responses, queue backlog and dead letters, and scale-set CPU."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import monitor

from stacks.azure.common import child, component_opts, network_of
from stacks.common.args import AlarmsArgs

FIVE_XX_PER_5_MIN = 10.0
QUEUE_BACKLOG = 1000.0
CPU_PERCENT = 85.0
SERVICE_BUS = "Microsoft.ServiceBus/namespaces"


class Alarms(pulumi.ComponentResource):
    """Exposes action_group_id and alert_names (one metric alert per watched signal)."""

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:Alarms", name, None, component_opts(opts))
        context = args.context
        net = network_of(args, name)
        self._context = context
        self._network = net
        email = context.settings.alert_email
        self.action_group = monitor.ActionGroup(
            f"{name}-action-group",
            action_group_name=f"{context.prefix}-alerts",
            resource_group_name=net.resource_group_name,
            location="global",
            group_short_name=context.prefix.replace("-", "")[:12],
            enabled=True,
            email_receivers=[
                {"name": "operators", "email_address": email, "use_common_alert_schema": True}
            ]
            if email
            else None,
            tags=context.tags,
            opts=child(self),
        )
        self.action_group_id: pulumi.Output[str] = self.action_group.id
        self.alert_names: list[str] = []
        if args.load_balancer is not None:
            self._alert(
                "gateway-5xx",
                "The application gateway answered with 5xx responses.",
                args.load_balancer.gateway_id,
                "Microsoft.Network/applicationGateways",
                "ResponseStatus",
                "Total",
                FIVE_XX_PER_5_MIN,
                dimensions=[{"name": "HttpStatusGroup", "operator": "Include", "values": ["5xx"]}],
                severity=1,
            )
        for queue in args.queues:
            this_queue = [
                {"name": "EntityName", "operator": "Include", "values": [queue.queue_name]}
            ]
            self._alert(
                f"{queue.queue_name}-backlog",
                f"Queue {queue.queue_name} has a growing backlog.",
                queue.namespace_id,
                SERVICE_BUS,
                "ActiveMessages",
                "Average",
                QUEUE_BACKLOG,
                dimensions=this_queue,
                severity=2,
            )
            self._alert(
                f"{queue.queue_name}-dead-letters",
                f"Messages of {queue.queue_name} are dead-lettered.",
                queue.namespace_id,
                SERVICE_BUS,
                "DeadletteredMessages",
                "Maximum",
                0.0,
                dimensions=this_queue,
                severity=2,
            )
        for tier in args.tiers:
            tier_name = tier.logical_name
            self._alert(
                f"{tier_name}-cpu",
                f"Scale set {tier_name} runs hot.",
                tier.scale_set_id,
                "Microsoft.Compute/virtualMachineScaleSets",
                "Percentage CPU",
                "Average",
                CPU_PERCENT,
                severity=2,
                window="PT15M",
            )
        self.register_outputs({"action_group_id": self.action_group_id})

    def _alert(
        self,
        alert: str,
        description: str,
        scope: pulumi.Input[str],
        resource_type: str,
        metric: str,
        aggregation: str,
        threshold: float,
        *,
        dimensions: list[dict] | None = None,
        severity: int = 2,
        window: str = "PT5M",
    ) -> monitor.MetricAlert:
        context, net = self._context, self._network
        self.alert_names.append(alert)
        return monitor.MetricAlert(
            f"{context.prefix}-{alert}",
            rule_name=f"{context.prefix}-{alert}",
            resource_group_name=net.resource_group_name,
            location="global",
            description=description,
            severity=severity,
            enabled=True,
            scopes=[scope],
            target_resource_type=resource_type,
            target_resource_region=net.location,
            evaluation_frequency="PT1M",
            window_size=window,
            auto_mitigate=True,
            # A union type: plain dicts would reach ARM with snake_case keys, so use the classes.
            criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[
                    monitor.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion",
                        name=metric.replace(" ", ""),
                        metric_name=metric,
                        metric_namespace=resource_type,
                        operator="GreaterThan",
                        threshold=threshold,
                        time_aggregation=aggregation,
                        dimensions=[monitor.MetricDimensionArgs(**d) for d in dimensions or []],
                    )
                ],
            ),
            actions=[{"action_group_id": self.action_group_id}],
            tags=context.tags,
            opts=child(self),
        )
