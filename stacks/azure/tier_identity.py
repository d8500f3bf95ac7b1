"""TierIdentity: one user-assigned managed identity per tier, granted exactly the data roles
its blueprint `uses`, each scoped to the one container, queue, table account, secret or mail
resource — never Owner/Contributor, never subscription or resource-group scope."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import managedidentity

from stacks.azure.common import child, component_opts, network_of
from stacks.common.args import TierIdentityArgs
from stacks.common.contracts import Principal


class TierIdentity(pulumi.ComponentResource):
    """Exposes identity_id (for scale sets), principal_id and client_id."""

    def __init__(
        self, name: str, args: TierIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:TierIdentity", name, None, component_opts(opts))
        context = args.context
        net = network_of(args, name)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-mi",
            resource_name_=f"{context.prefix}-{args.tier}-id",
            resource_group_name=net.resource_group_name,
            location=net.location,
            tags=context.tags,
            opts=child(self),
        )
        self.identity_id: pulumi.Output[str] = self.identity.id
        self.principal_id: pulumi.Output[str] = self.identity.principal_id
        self.client_id: pulumi.Output[str] = self.identity.client_id
        self.assignments: list[pulumi.Resource] = []
        principal = Principal(args.tier, self.principal_id, self)
        for grant in args.grants:
            self.assignments += grant.component.grant(principal, grant.access)
        self.register_outputs({"identity_id": self.identity_id, "principal_id": self.principal_id})
