"""Alarms: Cloud Monitoring alert policies on the load balancer's 5xx rate, queue backlog age,
dead letters and tier CPU, sent to a Pub/Sub topic (and an e-mail address when configured)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from stacks.common.args import AlarmsArgs, StackContext
from stacks.gcp.common import labels, physical, service_agent

SERVER_ERRORS_PER_SECOND = 1.0
BACKLOG_AGE_SECONDS = 900
CPU_UTILIZATION = 0.85


def threshold(
    name: str, metric_filter: str, value: float, aligner: str, reducer: str, duration: str
) -> dict[str, Any]:
    """One threshold condition: aligned per minute, reduced across series, sustained."""
    return {
        "display_name": name,
        "condition_threshold": {
            "filter": metric_filter,
            "comparison": "COMPARISON_GT",
            "threshold_value": value,
            "duration": duration,
            "aggregations": [
                {
                    "alignment_period": "60s",
                    "per_series_aligner": aligner,
                    "cross_series_reducer": reducer,
                }
            ],
            "trigger": {"count": 1},
        },
    }


class Alarms(pulumi.ComponentResource):
    """Alerts go to the Notifications topic given, else to a topic of the stack's own; Cloud
    Monitoring's service agent may publish to that topic and nothing else."""

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:Alarms", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        self._context = context
        if args.notify is not None:
            topic_id = args.notify.topic.id
        else:
            topic_id = gcp.pubsub.Topic(
                "alerts",
                name=physical(context, "alerts"),
                message_storage_policy={"allowed_persistence_regions": [context.settings.region]},
                labels=labels(context),
                opts=child,
            ).id
        topic_channel = gcp.monitoring.NotificationChannel(
            "alerts-topic",
            type="pubsub",
            display_name=f"{context.prefix} alerts topic",
            labels={"topic": topic_id},
            user_labels=labels(context),
            opts=child,
        )
        # Monitoring creates its notification service agent with the project's first Pub/Sub
        # channel: granting it before that channel exists fails on a new project.
        gcp.pubsub.TopicIAMMember(
            "alerts-publisher",
            topic=topic_id,
            role="roles/pubsub.publisher",
            member=service_agent(context, "gcp-sa-monitoring-notification", self),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[topic_channel]),
        )
        channels = [topic_channel]
        if context.settings.alert_email:
            channels.append(
                gcp.monitoring.NotificationChannel(
                    "alerts-email",
                    type="email",
                    display_name=f"{context.prefix} alerts e-mail",
                    labels={"email_address": context.settings.alert_email},
                    user_labels=labels(context),
                    opts=child,
                )
            )
        self._channels = [channel.name for channel in channels]
        self.policies: list[gcp.monitoring.AlertPolicy] = []

        if args.load_balancer is not None:
            url_map = args.load_balancer.url_map_name
            self._policy(
                "server-errors",
                "load balancer 5xx rate",
                threshold(
                    f"5xx responses above {SERVER_ERRORS_PER_SECOND}/s",
                    'metric.type = "loadbalancing.googleapis.com/https/request_count" AND '
                    'resource.type = "https_lb_rule" AND '
                    f'resource.label.url_map_name = "{url_map}" AND '
                    "metric.label.response_code_class = 500",
                    SERVER_ERRORS_PER_SECOND,
                    "ALIGN_RATE",
                    "REDUCE_SUM",
                    "300s",
                ),
            )
        for queue in args.queues:
            subscription = queue.subscription_name
            self._policy(
                f"{queue.logical_name}-backlog-age",
                f"queue {queue.logical_name}: oldest message waits too long",
                threshold(
                    f"oldest unacked message older than {BACKLOG_AGE_SECONDS}s",
                    'metric.type = "pubsub.googleapis.com/subscription/oldest_unacked_message_age"'
                    ' AND resource.type = "pubsub_subscription" AND '
                    f'resource.label.subscription_id = "{subscription}"',
                    BACKLOG_AGE_SECONDS,
                    "ALIGN_MAX",
                    "REDUCE_MAX",
                    "300s",
                ),
            )
            self._policy(
                f"{queue.logical_name}-dead-letters",
                f"queue {queue.logical_name}: messages in the dead-letter queue",
                threshold(
                    "dead-letter queue not empty",
                    'metric.type = "pubsub.googleapis.com/subscription/num_undelivered_messages"'
                    ' AND resource.type = "pubsub_subscription" AND '
                    f'resource.label.subscription_id = "{queue.dead_letter_subscription_name}"',
                    0,
                    "ALIGN_MAX",
                    "REDUCE_MAX",
                    "60s",
                ),
            )
        for tier in args.tiers:
            self._policy(
                f"{tier.logical_name}-cpu",
                f"tier {tier.logical_name}: CPU high",
                threshold(
                    f"mean CPU above {CPU_UTILIZATION:.0%}",
                    'metric.type = "compute.googleapis.com/instance/cpu/utilization" AND '
                    'resource.type = "gce_instance" AND '
                    f'metadata.user_labels."app" = "{context.settings.app}" AND '
                    f'metadata.user_labels."env" = "{context.settings.env}" AND '
                    f'metadata.user_labels."tier" = "{tier.logical_name}"',
                    CPU_UTILIZATION,
                    "ALIGN_MEAN",
                    "REDUCE_MEAN",
                    "600s",
                ),
            )
        self.register_outputs({"policies": [policy.name for policy in self.policies]})

    def _policy(self, name: str, title: str, condition: dict[str, Any]) -> None:
        context: StackContext = self._context
        self.policies.append(
            gcp.monitoring.AlertPolicy(
                name,
                display_name=f"{context.prefix}: {title}",
                combiner="OR",
                conditions=[condition],
                notification_channels=self._channels,
                alert_strategy={"auto_close": "1800s"},
                severity="ERROR",
                documentation={
                    "content": f"tierstack stack {context.stack}: {title}.",
                    "mime_type": "text/markdown",
                },
                user_labels=labels(context),
                opts=pulumi.ResourceOptions(parent=self),
            )
        )
