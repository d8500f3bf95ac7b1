"""Network: a custom-mode VPC with one regional subnet, Cloud NAT for egress, SSH only via IAP."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_gcp as gcp

from stacks.common.args import NetworkArgs
from stacks.gcp.common import IAP_TCP_RANGE, labels, physical

FIREWALL_LOGS = {"metadata": "INCLUDE_ALL_METADATA"}


class Network(pulumi.ComponentResource):
    """VMs get private addresses only; they reach the internet (apt, ansible-pull) through Cloud
    NAT on reserved addresses, so outside allow-lists (e.g. the SMTP relay) can name them.

    The address range is split: the first half is the hosts' subnet, the third quarter is kept
    for private services access (Cloud SQL), created only when a database asks for it."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:Network", name, None, opts)
        context = args.context
        settings = context.settings
        child = pulumi.ResourceOptions(parent=self)
        cidr = ipaddress.ip_network(args.cidr)
        hosts_range = next(cidr.subnets(new_prefix=cidr.prefixlen + 1))
        self._services_range = list(cidr.subnets(new_prefix=cidr.prefixlen + 2))[2]
        self._child = child
        self._context = context
        self._private_services: gcp.servicenetworking.Connection | None = None

        self.region = settings.region
        self.zones = settings.zones
        self.vm_tag = physical(context, "vm")
        """Network tag on every VM; the IAP SSH rule targets it."""

        self.vpc = gcp.compute.Network(
            "vpc",
            name=physical(context, "vpc"),
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description=f"tierstack {context.prefix}",
            opts=child,
        )
        self.subnet = gcp.compute.Subnetwork(
            "hosts",
            name=physical(context, "hosts"),
            network=self.vpc.id,
            region=settings.region,
            ip_cidr_range=str(hosts_range),
            private_ip_google_access=True,
            log_config={
                "aggregation_interval": "INTERVAL_5_SEC",
                "flow_sampling": 0.5,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=child,
        )
        self.router = gcp.compute.Router(
            "router",
            name=physical(context, "router"),
            network=self.vpc.id,
            region=settings.region,
            opts=child,
        )
        nat_ip_count = 2 if settings.is_prod else 1
        self.egress_addresses = [
            gcp.compute.Address(
                f"nat-ip-{index}",
                name=physical(context, f"nat-{index}"),
                region=settings.region,
                address_type="EXTERNAL",
                labels=labels(context),
                opts=child,
            )
            for index in range(nat_ip_count)
        ]
        self.nat = gcp.compute.RouterNat(
            "nat",
            name=physical(context, "nat"),
            router=self.router.name,
            region=settings.region,
            nat_ip_allocate_option="MANUAL_ONLY",
            nat_ips=[address.self_link for address in self.egress_addresses],
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[{"name": self.subnet.id, "source_ip_ranges_to_nats": ["ALL_IP_RANGES"]}],
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )
        self.iap_ssh = gcp.compute.Firewall(
            "allow-iap-ssh",
            name=physical(context, "allow-iap-ssh"),
            network=self.vpc.id,
            direction="INGRESS",
            priority=1000,
            source_ranges=[IAP_TCP_RANGE],
            target_tags=[self.vm_tag],
            allows=[{"protocol": "tcp", "ports": ["22"]}],
            log_config=FIREWALL_LOGS,
            description="SSH only through Identity-Aware Proxy (OS Login decides who)",
            opts=child,
        )
        self.register_outputs(
            {
                "vpc": self.vpc.id,
                "subnet": self.subnet.id,
                "egress_addresses": [a.address for a in self.egress_addresses],
            }
        )

    def private_services_access(self) -> gcp.servicenetworking.Connection:
        """The peering that gives Cloud SQL a private address in this VPC; made once, on first
        use, because a VPC has one such connection per service producer."""
        if self._private_services is None:
            reserved = gcp.compute.GlobalAddress(
                "private-services-range",
                name=physical(self._context, "private-services"),
                purpose="VPC_PEERING",
                address_type="INTERNAL",
                address=str(self._services_range.network_address),
                prefix_length=self._services_range.prefixlen,
                network=self.vpc.id,
                labels=labels(self._context),
                opts=self._child,
            )
            self._private_services = gcp.servicenetworking.Connection(
                "private-services",
                network=self.vpc.id,
                service="servicenetworking.googleapis.com",
                reserved_peering_ranges=[reserved.name],
                # Deleting the peering fails while Cloud SQL's producer side still holds it; a
                # destroy abandons it instead and removes the network.
                deletion_policy="ABANDON",
                opts=self._child,
            )
        return self._private_services
