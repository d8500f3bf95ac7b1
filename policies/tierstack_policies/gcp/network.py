"""GCP network: firewall ingress, external IPs on hosts, subnet flow logs, LB request logs."""

from __future__ import annotations

from typing import Any

from ..registry import Config, Family, Findings, Props
from ..shared import flag_check, is_world, range_exposure
from ..values import UNKNOWN, elements, scalars, truthy, value
from .types import BACKEND_SERVICES, FIREWALL, HOSTS, SUBNETWORK

family = Family("gcp", "network")


def _firewall_exposes(allow: Any) -> str | None:
    protocol = value(allow, "protocol")
    if protocol == "all":
        return "all ports"
    ports = elements(allow, "ports")
    if ports is UNKNOWN or protocol not in ("tcp", "udp", "sctp"):
        return None
    if not ports:
        return f"all {protocol} ports"
    return next(filter(None, map(range_exposure, ports)), None)


@family.resource(
    "gcp-compute-firewall-no-public-admin-ingress",
    severity="critical",
    level="mandatory",
    types=[FIREWALL],
    description="No firewall rule allows SSH, RDP or all ports from 0.0.0.0/0 or ::/0.",
    remediation="Allow SSH only from IAP (35.235.240.0/20) or a VPN range.",
)
def _check_firewall(props: Props, _config: Config, _type: str) -> Findings:
    if value(props, "direction") not in (None, "INGRESS") or truthy(value(props, "disabled")):
        return
    world = next((cidr for cidr in scalars(props, "sourceRanges") if is_world(cidr)), None)
    if world is None:
        return
    allows = elements(props, "allows")
    for allow in allows if isinstance(allows, list) else []:
        exposed = _firewall_exposes(allow)
        if exposed:
            yield f"allows {exposed} from {world}"


@family.resource(
    "gcp-compute-instance-no-public-ip",
    severity="high",
    level="mandatory",
    types=HOSTS,
    description="App and worker instances and templates have no external IP.",
    remediation="Remove access_configs from network_interfaces; reach the internet through "
    "Cloud NAT.",
)
def _check_no_public_ip(props: Props, _config: Config, _type: str) -> Findings:
    interfaces = elements(props, "networkInterfaces")
    for interface in interfaces if isinstance(interfaces, list) else []:
        if elements(interface, "accessConfigs") or elements(interface, "ipv6AccessConfigs"):
            yield "a network interface has an access config (external IP); use Cloud NAT"


@family.resource(
    "gcp-compute-subnet-flow-logs",
    severity="medium",
    level="mandatory",
    types=[SUBNETWORK],
    description="Subnets carrying VM traffic have VPC flow logs on.",
    remediation="Set log_config={'aggregation_interval': 'INTERVAL_5_SEC', 'flow_sampling': 0.5}.",
)
def _check_subnet_flow_logs(props: Props, _config: Config, _type: str) -> Findings:
    if value(props, "purpose") not in (None, "PRIVATE"):
        return  # proxy-only and PSC subnets carry no VM traffic and cannot log flows
    if value(props, "logConfig") is None:
        yield "VPC flow logs are off (no logConfig)"


family.resource(
    "gcp-compute-backend-logging",
    severity="low",
    level="advisory",
    types=BACKEND_SERVICES,
    description="Load balancer backend services log requests.",
    remediation="Set log_config={'enable': True, 'sample_rate': 1.0}.",
)(flag_check(["logConfig", "enable"], "load balancer request logging is off (logConfig.enable)"))
