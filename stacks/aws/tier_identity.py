"""TierIdentity: the IAM role and instance profile of one tier, granted exactly what the tier
uses (each data component states its own least-privilege statements) and nothing else. Operators
reach hosts through an EC2 Instance Connect Endpoint (stacks/aws/network.py), which needs no
agent and no permission on the host's role: Debian's AMIs ship no SSM agent, so Session Manager
calls granted here would only widen the role."""

from __future__ import annotations

import itertools
from typing import Any

import pulumi
import pulumi_aws as aws

from stacks.aws.common import assume_role_policy, child, policy_json, tags
from stacks.common.args import Grant, TierIdentityArgs
from stacks.common.contracts import Principal


class TierIdentity(pulumi.ComponentResource):
    """Role + instance profile; the inline policy lists this stack's resource ARNs only."""

    role_name: pulumi.Output[str]
    instance_profile_arn: pulumi.Output[str]
    grants: list[Grant]

    def __init__(
        self, name: str, args: TierIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:TierIdentity", name, None, opts)
        context = args.context
        self.grants = list(args.grants)
        role = aws.iam.Role(
            name,
            name=f"{context.prefix}-{args.tier}",
            description=f"Hosts of the {args.tier} tier of {context.prefix}",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=tags(context, args.tier),
            opts=child(self),
        )
        if self.grants:
            principal = Principal(args.tier, role.name, self)
            statements = pulumi.Output.all(
                *(grant.component.grant(principal, grant.access) for grant in self.grants)
            ).apply(lambda groups: list(itertools.chain.from_iterable(groups)))
            aws.iam.RolePolicy(
                f"{name}-grants",
                name="grants",
                role=role.id,
                policy=statements.apply(_document),
                opts=child(self),
            )
        profile = aws.iam.InstanceProfile(
            name,
            name=f"{context.prefix}-{args.tier}",
            role=role.name,
            tags=tags(context, args.tier),
            opts=child(self),
        )
        self.role_name = role.name
        self.instance_profile_arn = profile.arn
        self.register_outputs(
            {"role_name": self.role_name, "instance_profile_arn": self.instance_profile_arn}
        )


def _document(statements: list[dict[str, Any]]) -> str:
    numbered = [{"Sid": f"Grant{index}", **s} for index, s in enumerate(statements)]
    return policy_json(numbered)
