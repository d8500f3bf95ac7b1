"""Notifications: an encrypted SNS topic for fan-out and an SES configuration set for e-mail
(TLS required to the receiving server, reputation metrics on)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from stacks.aws.common import StatementGrants, allow, arn_part, child, tags
from stacks.common.args import NotificationsArgs

SES_SEND_ACTIONS = ["ses:SendEmail", "ses:SendRawEmail"]


class Notifications(StatementGrants, pulumi.ComponentResource):
    """MAIL_URL is ses://<region>; the sender identity (a verified domain) is set up once per
    account, outside the stack, because verifying it needs DNS records."""

    arn: pulumi.Output[str]
    configuration_set_arn: pulumi.Output[str]
    physical_name: pulumi.Output[str]
    backend_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: NotificationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:Notifications", name, None, opts)
        self.logical_name = name
        context, spec = args.context, args.spec
        topic = aws.sns.Topic(
            name,
            name=f"{context.prefix}-{spec.name}",
            kms_master_key_id="alias/aws/sns",
            tags=tags(context, spec.name),
            opts=child(self),
        )
        configuration_set = aws.sesv2.ConfigurationSet(
            name,
            configuration_set_name=f"{context.prefix}-{spec.name}",
            delivery_options={"tls_policy": "REQUIRE"},
            reputation_options={"reputation_metrics_enabled": True},
            tags=tags(context, spec.name),
            opts=child(self),
        )
        self.arn = topic.arn
        self.configuration_set_arn = configuration_set.arn
        self.physical_name = topic.name
        self.backend_url = pulumi.Output.from_input(f"ses://{context.settings.region}")
        self.register_outputs(
            {
                "arn": self.arn,
                "physical_name": self.physical_name,
                "backend_url": self.backend_url,
                "configuration_set_arn": self.configuration_set_arn,
            }
        )

    def policy_statements(self, _access: str) -> pulumi.Output[list[dict[str, Any]]]:
        """Publish to this topic; send mail only through this configuration set."""
        return pulumi.Output.all(self.arn, self.configuration_set_arn).apply(
            lambda arns: [
                allow(["sns:Publish"], [arns[0]]),
                allow(
                    SES_SEND_ACTIONS,
                    [
                        arns[1],
                        f"arn:aws:ses:{arn_part(arns[0], 3)}:{arn_part(arns[0], 4)}:identity/*",
                    ],
                ),
            ]
        )
