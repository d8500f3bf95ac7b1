"""PrivateEndpoint: one private endpoint in the VNet's endpoints subnet on a service's private-link
sub-resource, with its A records kept in the matching private DNS zone (linked to the VNet) by a
zone group. Every Azure service this repo reaches privately (the Cosmos DB Table account, the
HDInsight gateway) is wired this one way, so it is written once here.

The endpoint and its zone group keep the names their owning components gave them before this
component existed; the `aliases` below carry their URNs over from the owner (their former
parent), so existing stacks adopt them in place instead of replacing them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
from pulumi_azure_native import network

from stacks.azure.common import child, component_opts

if TYPE_CHECKING:
    from stacks.azure.network import Network


@dataclass(frozen=True)
class PrivateEndpointArgs:
    """What one private endpoint needs."""

    network: Network
    """The stack's network: resource group, location, the endpoints subnet and the DNS zones."""
    endpoint_name: str
    """The endpoint's ARM name (`<prefix>-<component>-<what>-pe`)."""
    target_id: pulumi.Input[str]
    """The ARM id of the resource the endpoint connects to (the private-link service)."""
    sub_resource: str
    """The private-link sub-resource (group id) on the target, e.g. "Table" or "gateway"."""
    connection_name: str
    """The name of the link-service connection and of the zone group's zone entry."""
    dns_zone: str
    """The private DNS zone Azure documents for that sub-resource (`privatelink....`)."""
    tags: dict[str, str]
    """The stack's tags, set on the endpoint."""


class PrivateEndpoint(pulumi.ComponentResource):
    """Exposes endpoint (the network.PrivateEndpoint) and dns_zone_group; callers that must
    wait until the private name resolves depend on `dns_zone_group` (or its id)."""

    def __init__(
        self, name: str, args: PrivateEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:PrivateEndpoint", name, None, component_opts(opts))
        net = args.network
        # Before this component, both resources were the owner's direct children.
        moved = [pulumi.Alias(parent=opts.parent)] if opts and opts.parent else None
        # Linked to the VNet before the records are written, so they land in a zone the VNet
        # already resolves.
        zone = net.private_dns_zone(args.dns_zone)
        zone_link = net.dns_zone_links[args.dns_zone]
        self.endpoint = network.PrivateEndpoint(
            name,
            private_endpoint_name=args.endpoint_name,
            resource_group_name=net.resource_group_name,
            location=net.location,
            subnet={"id": net.subnet_ids["endpoints"]},
            private_link_service_connections=[
                {
                    "name": args.connection_name,
                    "private_link_service_id": args.target_id,
                    "group_ids": [args.sub_resource],
                }
            ],
            tags=args.tags,
            opts=child(self, aliases=moved),
        )
        self.dns_zone_group = network.PrivateDnsZoneGroup(
            f"{name}-dns",
            private_dns_zone_group_name="default",
            private_endpoint_name=self.endpoint.name,
            resource_group_name=net.resource_group_name,
            private_dns_zone_configs=[
                {"name": args.connection_name, "private_dns_zone_id": zone.id}
            ],
            opts=child(self, aliases=moved, depends_on=[zone_link]),
        )
        self.register_outputs(
            {"endpoint_id": self.endpoint.id, "dns_zone_group_id": self.dns_zone_group.id}
        )
