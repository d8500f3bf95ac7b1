"""TierIdentity: one service account per tier, bound only on the resources the tier uses."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from stacks.common.args import TierIdentityArgs
from stacks.common.contracts import Principal
from stacks.gcp.common import HOST_ROLES, fit


class TierIdentity(pulumi.ComponentResource):
    """Each Grant becomes a binding on that bucket, topic, subscription, secret or database (the
    data component decides the role); the only project-level roles are log and metric writing,
    which have no narrower scope. Never a primitive role."""

    def __init__(
        self, name: str, args: TierIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:TierIdentity", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        self.account = gcp.serviceaccount.Account(
            f"{args.tier}-account",
            account_id=fit(f"{context.prefix}-{args.tier}", 30),
            display_name=f"{context.prefix} {args.tier} tier",
            description="runs the tier's VMs; bound only on the resources the tier uses",
            opts=child,
        )
        self.email: pulumi.Output[str] = self.account.email
        self.member: pulumi.Output[str] = self.account.member
        for role in HOST_ROLES:
            gcp.projects.IAMMember(
                f"{args.tier}-{role.rsplit('.', 1)[-1]}",
                project=context.settings.gcp_project,
                role=role,
                member=self.member,
                opts=child,
            )
        self.bindings: list[pulumi.CustomResource] = []
        principal = Principal(args.tier, self.member, self)
        for grant in args.grants:
            self.bindings += grant.component.grant(principal, grant.access)
        self.register_outputs({"email": self.email})
