"""Azure network: NSG ingress, public IPs on hosts, VNet flow logs, Application Gateway logs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..crosscloud import companion_required
from ..registry import Config, Family, Findings, Props
from ..shared import PUBLIC_CIDRS, is_world, range_exposure
from ..values import elements, scalars, value
from .types import APP_GATEWAY, DIAGNOSTIC_SETTING, FLOW_LOG, NIC, NSG, SECURITY_RULE, VMSS, VNET

family = Family("azure", "network")
PUBLIC_SOURCES = {*PUBLIC_CIDRS, "*", "Internet", "Any", "0.0.0.0"}


def _port_exposes(port_range: Any) -> str | None:
    return "all ports" if port_range == "*" else range_exposure(port_range)


def _rule_findings(rule: Any) -> Iterable[str]:
    if value(rule, "direction") != "Inbound" or value(rule, "access") != "Allow":
        return
    sources = scalars(rule, "sourceAddressPrefix") + scalars(rule, "sourceAddressPrefixes")
    world = next(
        (source for source in sources if source in PUBLIC_SOURCES or is_world(source)), None
    )
    if world is None:
        return
    ports = scalars(rule, "destinationPortRange") + scalars(rule, "destinationPortRanges")
    exposed = next(filter(None, map(_port_exposes, ports)), None)
    if exposed:
        yield f"rule {value(rule, 'name') or ''} allows {exposed} from {world}".replace(
            "rule  ", "rule "
        )


@family.resource(
    "azure-network-nsg-no-public-admin-ingress",
    severity="critical",
    level="mandatory",
    types=(NSG, SECURITY_RULE),
    description="No NSG rule allows SSH, RDP or all ports inbound from the internet.",
    remediation="Restrict source_address_prefix to a VPN or Bastion subnet; use Azure Bastion.",
)
def _check_nsg(props: Props, _config: Config, type_: str) -> Findings:
    if type_ == SECURITY_RULE:
        yield from _rule_findings(props)
        return
    rules = elements(props, "securityRules")
    for rule in rules if isinstance(rules, list) else []:
        yield from _rule_findings(rule)


@family.resource(
    "azure-compute-no-public-ip",
    severity="high",
    level="mandatory",
    types=(VMSS, NIC),
    description="Scale set instances and NICs have no public IP.",
    remediation="Remove public_ip_address_configuration / public_ip_address; front the tier "
    "with Application Gateway and reach the internet through a NAT gateway.",
)
def _check_no_public_ip(props: Props, _config: Config, type_: str) -> Findings:
    if type_ == NIC:
        configs = elements(props, "ipConfigurations")
        for config in configs if isinstance(configs, list) else []:
            if value(config, "publicIPAddress") is not None:
                yield "a NIC IP configuration has a public IP address"
        return
    interfaces = elements(
        props, "virtualMachineProfile", "networkProfile", "networkInterfaceConfigurations"
    )
    for interface in interfaces if isinstance(interfaces, list) else []:
        configs = elements(interface, "ipConfigurations")
        for config in configs if isinstance(configs, list) else []:
            if value(config, "publicIPAddressConfiguration") is not None:
                yield "instances get a public IP (publicIPAddressConfiguration)"


companion_required(
    family,
    "azure-network-flow-logs",
    severity="medium",
    level="advisory",
    targets=[VNET],
    companions=[FLOW_LOG],
    link="targetResourceId",
    message="virtual network {name} has no flow log (targetResourceId)",
    description="Every virtual network has a flow log (Network Watcher).",
    remediation="Add azure_native.network.FlowLog(target_resource_id=vnet.id, storage_id=..., "
    "enabled=True).",
)


companion_required(
    family,
    "azure-network-app-gateway-logging",
    severity="low",
    level="advisory",
    targets=[APP_GATEWAY],
    companions=[DIAGNOSTIC_SETTING],
    link="resourceUri",
    message="application gateway {name} has no diagnostic setting (access logs)",
    description="Every Application Gateway sends its access logs to a diagnostic setting.",
    remediation="Add azure_native.monitor.DiagnosticSetting(resource_uri=gateway.id, logs=[...]).",
)
