"""AppSecret: a generated value (e.g. the app's session-signing key) kept in Secrets Manager,
so every host of a tier reads the same value with its own role and user data carries none."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from stacks.aws.common import StatementGrants, allow, child, tags
from stacks.common.args import AppSecretArgs

REF_SCHEME = "aws-secretsmanager://"
"""The reference format the reference apps resolve (reference_apps/backends/secrets.py)."""


class AppSecret(StatementGrants, pulumi.ComponentResource):
    """One value for all hosts (sessions survive the load balancer picking another instance);
    the hosts get `ref`, never the value, and are granted "read" on this secret only."""

    physical_name: pulumi.Output[str]
    arn: pulumi.Output[str]
    ref: pulumi.Output[str]
    value: pulumi.Output[str]

    def __init__(
        self, name: str, args: AppSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:AppSecret", name, None, opts)
        self.logical_name = name
        context = args.context

        generated = random.RandomPassword(name, length=args.length, special=False, opts=child(self))
        self.value = pulumi.Output.secret(generated.result)

        secret = aws.secretsmanager.Secret(
            name,
            name=f"tierstack/{context.prefix}/{name}",
            description=args.purpose,
            recovery_window_in_days=7 if context.settings.is_prod else 0,
            tags=tags(context, name),
            opts=child(self),
        )
        version = aws.secretsmanager.SecretVersion(
            name, secret_id=secret.id, secret_string=self.value, opts=child(self)
        )
        self.physical_name = secret.name
        self.arn = secret.arn
        # Resolves once the value is stored, so no host boots before it can read it.
        self.ref = pulumi.Output.all(secret.arn, version.id).apply(
            lambda values: f"{REF_SCHEME}{values[0]}"
        )
        self.register_outputs(
            {
                "physical_name": self.physical_name,
                "arn": self.arn,
                "ref": self.ref,
                "value": self.value,
            }
        )

    def policy_statements(self, access: str) -> pulumi.Output[list[dict[str, Any]]]:
        """Reading this one secret's value ("read"); nothing else is ever granted."""
        if access != "read":
            raise ValueError(f"AppSecret grants only 'read' access, not {access!r}")
        return self.arn.apply(
            lambda arn: [
                allow(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], [arn])
            ]
        )
