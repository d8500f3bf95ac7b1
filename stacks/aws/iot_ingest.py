"""IoTIngest: AWS IoT Core for the fog gateways — a thing type, a least-privilege device policy
(connect as its own thing name, publish only to its own topic under the blueprint's filter) and
a topic rule that forwards the filter's messages to the queue."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from stacks.aws.common import allow, arn_part, child, policy_json, service_role, tags
from stacks.common.args import IoTIngestArgs

THING_NAME = "${iot:Connection.Thing.ThingName}"
SQL_VERSION = "2016-03-23"


def device_topic(topic_filter: str) -> str:
    """The IAM topic resource a device may publish to: the filter's first single-level
    wildcard becomes the device's own thing name, any further wildcard matches anything."""
    levels = topic_filter.split("/")
    if "+" in levels:
        levels[levels.index("+")] = THING_NAME
    return "/".join("*" if level in ("+", "#") else level for level in levels)


class IoTIngest(pulumi.ComponentResource):
    """Devices (gateways) authenticate with X.509 certificates attached to things of this type;
    the policy is attached to each certificate when a gateway is registered."""

    policy_name: pulumi.Output[str]
    thing_type_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: IoTIngestArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:IoTIngest", name, None, opts)
        self.logical_name = name
        context, spec, queue = args.context, args.spec, args.queue
        identifier = f"{context.prefix}-{name}"
        thing_type = aws.iot.ThingType(
            name,
            name=identifier,
            properties={"description": spec.purpose[:2028]},
            tags=tags(context, name),
            opts=child(self),
        )
        device_policy = aws.iot.Policy(
            name,
            name=identifier,
            policy=queue.arn.apply(lambda arn: _device_policy(arn, spec.topic_filter)),
            tags=tags(context, name),
            opts=child(self),
        )
        errors = aws.cloudwatch.LogGroup(
            f"{name}-rule-errors",
            name=f"/tierstack/{context.prefix}/{name}-rule-errors",
            retention_in_days=context.settings.sizing.log_retention_days,
            tags=tags(context, f"{name}-rule-errors"),
            opts=child(self),
        )
        rule_role, _ = service_role(
            self,
            context,
            f"{name}-rule",
            service="iot.amazonaws.com",
            policy_name="forward-to-queue",
            policy=pulumi.Output.all(queue.arn, errors.arn).apply(lambda arns: _rule_policy(*arns)),
        )
        aws.iot.TopicRule(
            name,
            name=identifier.replace("-", "_"),
            description=f"{spec.topic_filter} -> queue",
            enabled=True,
            sql=f"SELECT * FROM '{spec.topic_filter}'",
            sql_version=SQL_VERSION,
            sqs=[{"queue_url": queue.url, "role_arn": rule_role.arn, "use_base64": False}],
            error_action={
                "cloudwatch_logs": {"log_group_name": errors.name, "role_arn": rule_role.arn}
            },
            tags=tags(context, name),
            opts=child(self),
        )
        self.policy_name = device_policy.name
        self.thing_type_name = thing_type.name
        self.endpoint: str | None = None
        """Account-wide, not the stack's: `aws iot describe-endpoint --endpoint-type
        iot:Data-ATS`."""
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "policy_name": self.policy_name,
                "thing_type_name": self.thing_type_name,
            }
        )


def _rule_policy(queue_arn: str, errors_arn: str) -> str:
    """The topic rule sends to the queue and logs its errors; the CloudWatch Logs rule action
    needs all three log actions (AWS IoT developer guide, "CloudWatch Logs" rule action)."""
    return policy_json(
        [
            allow("sqs:SendMessage", queue_arn),
            allow(
                ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                f"{errors_arn}:*",
            ),
        ]
    )


def _device_policy(queue_arn: str, topic_filter: str) -> str:
    """Region and account come from the queue ARN, so no lookup is needed."""
    base = f"arn:aws:iot:{arn_part(queue_arn, 3)}:{arn_part(queue_arn, 4)}"
    return policy_json(
        [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": f"{base}:client/{THING_NAME}",
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            },
            allow("iot:Publish", f"{base}:topic/{device_topic(topic_filter)}"),
        ]
    )
