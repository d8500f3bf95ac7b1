"""AWS network: security group ingress, public IPs on hosts, VPC flow logs, LB access logs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..crosscloud import companion_required
from ..registry import Config, Family, Findings, Props
from ..shared import flag_check, is_world, port_exposure
from ..values import elements, number, scalars, truthy, value
from .types import (
    EC2_INSTANCE,
    FLOW_LOG,
    LAUNCH_TEMPLATE,
    LOAD_BALANCERS,
    SECURITY_GROUP,
    SG_INGRESS_RULE,
    SG_RULE,
    VPC,
)

family = Family("aws", "network")


def _exposed(protocol: Any, from_port: Any, to_port: Any) -> str | None:
    """What an ingress rule opens that must not face the internet, or None."""
    if str(protocol) in ("-1", "all"):
        return "all ports"
    return port_exposure(number(from_port), number(to_port))


def _ingress_findings(rule: Any, cidr_keys: tuple[str, ...]) -> Iterable[str]:
    cidrs = [cidr for key in cidr_keys for cidr in scalars(rule, key)]
    world = next((cidr for cidr in cidrs if is_world(cidr)), None)
    protocol = value(rule, "protocol")
    if protocol is None:
        protocol = value(rule, "ipProtocol")
    exposed = _exposed(protocol, value(rule, "fromPort"), value(rule, "toPort"))
    if world and exposed:
        yield f"ingress opens {exposed} to {world}"


@family.resource(
    "aws-ec2-no-public-admin-ingress",
    severity="critical",
    level="mandatory",
    types=(SECURITY_GROUP, SG_RULE, SG_INGRESS_RULE),
    description="No security group rule opens SSH, RDP or all ports to 0.0.0.0/0 or ::/0.",
    remediation="Admit SSH only from an EC2 Instance Connect Endpoint's security group "
    "(tierstack:sshKeyPair) or a bastion or VPN range.",
)
def _check_admin_ingress(props: Props, _config: Config, type_: str) -> Findings:
    if type_ == SECURITY_GROUP:
        rules = elements(props, "ingress")
        for rule in rules if isinstance(rules, list) else []:
            yield from _ingress_findings(rule, ("cidrBlocks", "ipv6CidrBlocks"))
    elif type_ == SG_RULE:
        if value(props, "type") == "ingress":
            yield from _ingress_findings(props, ("cidrBlocks", "ipv6CidrBlocks"))
    else:
        yield from _ingress_findings(props, ("cidrIpv4", "cidrIpv6"))


@family.resource(
    "aws-ec2-app-instance-no-public-ip",
    severity="high",
    level="mandatory",
    types=(LAUNCH_TEMPLATE, EC2_INSTANCE),
    description="App and worker instances get no public IP address.",
    remediation="Set associate_public_ip_address False and place instances in private subnets "
    "behind the load balancer and a NAT gateway.",
)
def _check_no_public_ip(props: Props, _config: Config, type_: str) -> Findings:
    if type_ == EC2_INSTANCE:
        if truthy(value(props, "associatePublicIpAddress")):
            yield "associatePublicIpAddress is true; app and worker hosts stay in private subnets"
        return
    interfaces = elements(props, "networkInterfaces")
    for interface in interfaces if isinstance(interfaces, list) else []:
        if truthy(value(interface, "associatePublicIpAddress")):
            yield "a network interface sets associatePublicIpAddress; hosts stay private"


companion_required(
    family,
    "aws-vpc-flow-logs-enabled",
    severity="medium",
    level="mandatory",
    targets=[VPC],
    companions=[FLOW_LOG],
    link="vpcId",
    message="VPC {name} has no flow log attached through its vpcId",
    description="Every VPC has a flow log.",
    remediation="Add aws.ec2.FlowLog(vpc_id=vpc.id, traffic_type='ALL', ...) to CloudWatch Logs "
    "or S3.",
)


family.resource(
    "aws-lb-access-logs-enabled",
    severity="low",
    level="advisory",
    types=LOAD_BALANCERS,
    description="Load balancers write access logs.",
    remediation="Set access_logs={'bucket': logs_bucket.id, 'enabled': True} on the load balancer.",
)(flag_check(["accessLogs", "enabled"], "access logs are not enabled (accessLogs.enabled)"))
