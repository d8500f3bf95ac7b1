"""Alarms: CloudWatch alarms on load balancer 5xx, queue age and dead letters, and tier CPU,
sent to an alert topic encrypted with a key CloudWatch may use."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from stacks.aws.common import arn_part, child, policy_json, tags
from stacks.common.args import AlarmsArgs

PERIOD_SECONDS = 300
CPU_PERCENT = 85
TARGET_5XX_PER_PERIOD = 10
OLDEST_MESSAGE_SECONDS = 900


class Alarms(pulumi.ComponentResource):
    """Every alarm notifies on ALARM and on OK, so operators also see recovery."""

    topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:Alarms", name, None, opts)
        context = args.context
        self.topic_arn = args.notify.arn if args.notify else self._alert_topic(name, args)

        def alarm(label: str, **settings: object) -> None:
            aws.cloudwatch.MetricAlarm(
                f"{name}-{label}",
                name=f"{context.prefix}-{label}",
                period=PERIOD_SECONDS,
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic_arn],
                ok_actions=[self.topic_arn],
                tags=tags(context, label),
                opts=child(self),
                **settings,
            )

        if args.load_balancer is not None:
            alarm(
                "lb-target-5xx",
                alarm_description="The app servers answer with 5xx errors",
                namespace="AWS/ApplicationELB",
                metric_name="HTTPCode_Target_5XX_Count",
                dimensions={"LoadBalancer": args.load_balancer.arn_suffix},
                statistic="Sum",
                comparison_operator="GreaterThanThreshold",
                threshold=TARGET_5XX_PER_PERIOD,
                evaluation_periods=1,
            )
        for queue in args.queues:
            label = queue.logical_name
            alarm(
                f"{label}-oldest-message",
                alarm_description=f"Messages wait too long in {label}: workers fall behind",
                namespace="AWS/SQS",
                metric_name="ApproximateAgeOfOldestMessage",
                dimensions={"QueueName": queue.physical_name},
                statistic="Maximum",
                comparison_operator="GreaterThanThreshold",
                threshold=OLDEST_MESSAGE_SECONDS,
                evaluation_periods=2,
            )
            alarm(
                f"{label}-dead-letters",
                alarm_description=f"Messages of {label} failed and moved to the dead-letter queue",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions={"QueueName": queue.dead_letter_name},
                statistic="Maximum",
                comparison_operator="GreaterThanThreshold",
                threshold=0,
                evaluation_periods=1,
            )
        for tier in args.tiers:
            alarm(
                f"{tier.logical_name}-cpu",
                alarm_description=f"The {tier.logical_name} tier runs hot despite autoscaling",
                namespace="AWS/EC2",
                metric_name="CPUUtilization",
                dimensions={"AutoScalingGroupName": tier.group_name},
                statistic="Average",
                comparison_operator="GreaterThanThreshold",
                threshold=CPU_PERCENT,
                evaluation_periods=3,
            )
        self.register_outputs({"topic_arn": self.topic_arn})

    def _alert_topic(self, name: str, args: AlarmsArgs) -> pulumi.Output[str]:
        """CloudWatch cannot publish to a topic under the AWS-managed SNS key, so the alert
        topic has its own key whose policy admits the account and CloudWatch only."""
        context = args.context
        key = aws.kms.Key(
            f"{name}-topic",
            description=f"Alert topic encryption of {context.prefix}",
            enable_key_rotation=True,
            deletion_window_in_days=30 if context.settings.is_prod else 7,
            tags=tags(context, f"{name}-topic"),
            opts=child(self),
        )
        aws.kms.KeyPolicy(
            f"{name}-topic",
            key_id=key.id,
            policy=key.arn.apply(_key_policy),
            opts=child(self),
        )
        topic = aws.sns.Topic(
            name,
            name=f"{context.prefix}-alerts",
            kms_master_key_id=key.arn,
            tags=tags(context, "alerts"),
            opts=child(self),
        )
        if context.settings.alert_email:
            aws.sns.TopicSubscription(
                f"{name}-email",
                topic=topic.arn,
                protocol="email",
                endpoint=context.settings.alert_email,
                opts=child(self),
            )
        return topic.arn


def _key_policy(key_arn: str) -> str:
    """The account administers the key (the default); CloudWatch may only encrypt with it."""
    account = arn_part(key_arn, 4)
    return policy_json(
        [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchPublishes",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
        ]
    )
