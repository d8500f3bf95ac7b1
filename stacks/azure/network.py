"""Network: the stack's resource group, VNet, one subnet per tier, NSGs, NAT egress, and the
stack-wide services every other component plugs into (Log Analytics workspace, Key Vault,
private DNS zones).

Every Azure component receives it in its Args (`args.network`).
"""

from __future__ import annotations

import ipaddress

import pulumi
from pulumi_azure_native import keyvault, network, operationalinsights, privatedns, resources

from stacks.azure.common import child, client_ids, component_opts, dashed_name
from stacks.common.args import NetworkArgs

# Tier subnets in carving order: (name, service endpoints).
SUBNETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gateway", ("Microsoft.KeyVault",)),  # Application Gateway only
    ("app", ("Microsoft.KeyVault",)),
    ("worker", ("Microsoft.KeyVault",)),
    ("data", ()),  # delegated to PostgreSQL Flexible Server
    ("endpoints", ()),  # private endpoints (Cosmos DB)
    ("mapreduce", ()),  # HDInsight
)
EGRESS_SUBNETS = ("app", "worker", "mapreduce")
DENY_REMOTE_ADMIN_PORTS = ["22", "3389"]


class Network(pulumi.ComponentResource):
    """Private-by-default network: nothing admits traffic from the internet except the
    Application Gateway subnet on 80/443; hosts reach out only through the NAT gateway."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:Network", name, None, component_opts(opts))
        context = args.context
        settings = context.settings
        tags = context.tags
        self.context = context
        self.location = settings.region
        self._dns_zones: dict[str, privatedns.PrivateZone] = {}
        self.dns_zone_links: dict[str, privatedns.VirtualNetworkLink] = {}
        ids = client_ids()
        self.subscription_id: pulumi.Output[str] = ids["subscription_id"]
        self.tenant_id: pulumi.Output[str] = ids["tenant_id"]

        self.resource_group = resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=f"{context.prefix}-rg",
            location=self.location,
            tags=tags,
            opts=child(self),
        )
        self.resource_group_name: pulumi.Output[str] = self.resource_group.name

        self.workspace = operationalinsights.Workspace(
            f"{name}-logs",
            workspace_name=f"{context.prefix}-logs",
            resource_group_name=self.resource_group_name,
            location=self.location,
            sku={"name": "PerGB2018"},
            retention_in_days=max(30, settings.sizing.log_retention_days),
            tags=tags,
            opts=child(self),
        )
        self.workspace_id: pulumi.Output[str] = self.workspace.id

        blocks = list(ipaddress.ip_network(args.cidr).subnets(new_prefix=24))
        self.subnet_prefixes: dict[str, str] = {
            subnet: str(blocks[index]) for index, (subnet, _) in enumerate(SUBNETS)
        }

        self.nat_ip = network.PublicIPAddress(
            f"{name}-nat-ip",
            public_ip_address_name=f"{context.prefix}-nat-ip",
            resource_group_name=self.resource_group_name,
            location=self.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            tags=tags,
            opts=child(self),
        )
        self.nat_gateway = network.NatGateway(
            f"{name}-nat",
            nat_gateway_name=f"{context.prefix}-nat",
            resource_group_name=self.resource_group_name,
            location=self.location,
            sku={"name": "Standard"},
            public_ip_addresses=[{"id": self.nat_ip.id}],
            idle_timeout_in_minutes=10,
            tags=tags,
            opts=child(self),
        )

        self.vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=f"{context.prefix}-vnet",
            resource_group_name=self.resource_group_name,
            location=self.location,
            address_space={"address_prefixes": [args.cidr]},
            tags=tags,
            opts=child(self),
        )
        self.vnet_id: pulumi.Output[str] = self.vnet.id

        self.nsgs: dict[str, network.NetworkSecurityGroup] = {}
        self.subnets: dict[str, network.Subnet] = {}
        previous: pulumi.Resource | None = None
        for subnet, service_endpoints in SUBNETS:
            nsg = network.NetworkSecurityGroup(
                f"{name}-{subnet}-nsg",
                network_security_group_name=f"{context.prefix}-{subnet}-nsg",
                resource_group_name=self.resource_group_name,
                location=self.location,
                tags=tags,
                opts=child(self),
            )
            self.nsgs[subnet] = nsg
            # Subnets of one VNet are created one after another: ARM refuses parallel updates.
            self.subnets[subnet] = network.Subnet(
                f"{name}-{subnet}",
                subnet_name=subnet,
                resource_group_name=self.resource_group_name,
                virtual_network_name=self.vnet.name,
                address_prefix=self.subnet_prefixes[subnet],
                network_security_group={"id": nsg.id},
                nat_gateway={"id": self.nat_gateway.id} if subnet in EGRESS_SUBNETS else None,
                # Application Gateway v2 cannot run in a private (no default outbound) subnet.
                default_outbound_access=subnet == "gateway",
                service_endpoints=[{"service": s} for s in service_endpoints] or None,
                delegations=[
                    {
                        "name": "postgres",
                        "service_name": "Microsoft.DBforPostgreSQL/flexibleServers",
                    }
                ]
                if subnet == "data"
                else None,
                private_endpoint_network_policies="Enabled",
                # HDInsight with private link puts its private link services (gateway, SSH)
                # here: ARM refuses them while the subnet enforces network policies on them.
                private_link_service_network_policies=(
                    "Disabled" if subnet == "mapreduce" else "Enabled"
                ),
                opts=child(self, depends_on=[previous] if previous else None),
            )
            previous = self.subnets[subnet]
        self.subnet_ids: dict[str, pulumi.Output[str]] = {
            subnet: resource.id for subnet, resource in self.subnets.items()
        }
        self.nsg_names: dict[str, pulumi.Output[str]] = {
            subnet: nsg.name for subnet, nsg in self.nsgs.items()
        }
        self._security_rules()

        self.vault_name = dashed_name(context, "kv")
        self.vault = keyvault.Vault(
            f"{name}-vault",
            vault_name=self.vault_name,
            resource_group_name=self.resource_group_name,
            location=self.location,
            properties={
                "tenant_id": self.tenant_id,
                "sku": {"family": "A", "name": "standard"},
                "enable_rbac_authorization": True,
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": 90 if settings.is_prod else 7,
                # Purge protection cannot be turned off again, so only prod gets it.
                "enable_purge_protection": True if settings.is_prod else None,
                "public_network_access": "Enabled",
                "network_acls": {
                    "bypass": "AzureServices",
                    "default_action": "Deny",
                    "virtual_network_rules": [
                        {"id": self.subnet_ids[s]} for s in ("gateway", "app", "worker")
                    ],
                },
            },
            tags=tags,
            opts=child(self),
        )
        self.vault_id: pulumi.Output[str] = self.vault.id
        self.vault_uri = f"https://{self.vault_name}.vault.azure.net/"

        self.register_outputs(
            {
                "resource_group_name": self.resource_group_name,
                "vnet_id": self.vnet_id,
                "subnet_ids": self.subnet_ids,
                "workspace_id": self.workspace_id,
                "vault_id": self.vault_id,
            }
        )

    def _security_rules(self) -> None:
        """One rule resource per rule, so components (the gateway) can add their own."""
        prefixes = self.subnet_prefixes
        rules: list[tuple[str, str, int, str, str, list[str], str]] = [
            # subnet, rule, priority, access, source, destination ports, protocol
            ("gateway", "allow-https-internet", 100, "Allow", "Internet", ["80", "443"], "Tcp"),
            (
                "gateway",
                "allow-gateway-manager",
                110,
                "Allow",
                "GatewayManager",
                ["65200-65535"],
                "Tcp",
            ),
            ("gateway", "allow-azure-lb", 120, "Allow", "AzureLoadBalancer", ["*"], "*"),
            ("data", "allow-postgres-app", 100, "Allow", prefixes["app"], ["5432"], "Tcp"),
            ("data", "allow-postgres-worker", 110, "Allow", prefixes["worker"], ["5432"], "Tcp"),
            # Zone-redundant HA replicates between the primary and the standby in this subnet
            # over 5432 and 6432; deny-vnet-inbound would cut them off.
            (
                "data",
                "allow-postgres-ha-subnet",
                120,
                "Allow",
                prefixes["data"],
                ["5432", "6432"],
                "Tcp",
            ),
            ("endpoints", "allow-https-app", 100, "Allow", prefixes["app"], ["443"], "Tcp"),
            ("endpoints", "allow-https-worker", 110, "Allow", prefixes["worker"], ["443"], "Tcp"),
            (
                "mapreduce",
                "allow-cluster-internal",
                100,
                "Allow",
                prefixes["mapreduce"],
                ["*"],
                "*",
            ),
            ("mapreduce", "allow-https-worker", 110, "Allow", prefixes["worker"], ["443"], "Tcp"),
        ]
        for subnet in ("app", "worker", "data", "endpoints", "mapreduce"):
            rules.append((subnet, "allow-azure-lb", 3900, "Allow", "AzureLoadBalancer", ["*"], "*"))
            rules.append(
                (
                    subnet,
                    "deny-remote-admin-internet",
                    4000,
                    "Deny",
                    "Internet",
                    DENY_REMOTE_ADMIN_PORTS,
                    "*",
                )
            )
            # The default rules admit the whole VNet; only the allows above may.
            rules.append((subnet, "deny-vnet-inbound", 4090, "Deny", "VirtualNetwork", ["*"], "*"))
        for subnet, rule, priority, access, source, ports, protocol in rules:
            self.add_inbound_rule(subnet, rule, priority, access, source, ports, protocol)

    def add_inbound_rule(
        self,
        subnet: str,
        rule: str,
        priority: int,
        access: str,
        source: str,
        ports: list[str],
        protocol: str = "Tcp",
        parent: pulumi.Resource | None = None,
        aliases: list[pulumi.Alias] | None = None,
    ) -> network.SecurityRule:
        """An inbound rule on a tier's NSG (the AppTier adds its app-port rule)."""
        return network.SecurityRule(
            f"{self.context.prefix}-{subnet}-{rule}",
            security_rule_name=rule,
            network_security_group_name=self.nsgs[subnet].name,
            resource_group_name=self.resource_group_name,
            direction="Inbound",
            priority=priority,
            access=access,
            protocol=protocol,
            source_address_prefix=source,
            source_port_range="*",
            destination_address_prefix="*",
            destination_port_ranges=ports,
            opts=child(parent or self, aliases=aliases),
        )

    def private_dns_zone(self, zone: str) -> privatedns.PrivateZone:
        """A private DNS zone linked to this VNet, created once per zone name."""
        if zone in self._dns_zones:
            return self._dns_zones[zone]
        label = zone.split(".")[0] if not zone.startswith("privatelink") else zone.split(".")[1]
        private_zone = privatedns.PrivateZone(
            f"{self.context.prefix}-dns-{label}",
            private_zone_name=zone,
            resource_group_name=self.resource_group_name,
            location="global",
            tags=self.context.tags,
            opts=child(self),
        )
        self.dns_zone_links[zone] = privatedns.VirtualNetworkLink(
            f"{self.context.prefix}-dns-{label}-link",
            virtual_network_link_name=f"{self.context.prefix}-vnet",
            private_zone_name=private_zone.name,
            resource_group_name=self.resource_group_name,
            location="global",
            virtual_network={"id": self.vnet_id},
            registration_enabled=False,
            tags=self.context.tags,
            opts=child(private_zone),
        )
        self._dns_zones[zone] = private_zone
        return private_zone
