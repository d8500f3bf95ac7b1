"""Network: the stack's private network, resolved."""

from __future__ import annotations

import ipaddress

import pytest

from stacks.azure import Network, Queue
from stacks.blueprints.model import Queue as QueueSpec
from stacks.common.args import NetworkArgs, QueueArgs
from tests.stacks.azure.conftest import PROD, make_context

TAGS = {
    "project": "tierstack",
    "app": "image-processing",
    "env": "dev",
    "owner": "platform-team",
    "cost-center": "unassigned",
}


def network_only(context):
    return lambda: Network("network", NetworkArgs(context, "10.40.0.0/16")).resource_group_name


def test_network_resource_group_subnets_and_nat(run_azure):
    run = run_azure(network_only(make_context()))
    group = run.one("azure-native:resources:ResourceGroup")
    assert group.inputs["resourceGroupName"] == "image-processing-dev-rg"
    assert group.inputs["location"] == "westeurope"
    assert group.inputs["tags"] == TAGS
    assert run.result == "image-processing-dev-rg"
    subnets = {s.inputs["subnetName"]: s.inputs for s in run.of_type("azure-native:network:Subnet")}
    assert set(subnets) == {"gateway", "app", "worker", "data", "endpoints", "mapreduce"}
    blocks = [ipaddress.ip_network(s["addressPrefix"]) for s in subnets.values()]
    assert all(b.subnet_of(ipaddress.ip_network("10.40.0.0/16")) for b in blocks)
    assert len(set(blocks)) == 6
    nat = "network-nat-id"  # the harness's id for the resource named network-nat
    with_nat = {name for name, s in subnets.items() if s.get("natGateway", {}).get("id") == nat}
    assert with_nat == {"app", "worker", "mapreduce"}
    private = {name for name, s in subnets.items() if s["defaultOutboundAccess"] is False}
    assert private == {"app", "worker", "data", "endpoints", "mapreduce"}
    assert subnets["data"]["delegations"] == [
        {"name": "postgres", "serviceName": "Microsoft.DBforPostgreSQL/flexibleServers"}
    ]
    assert all("networkSecurityGroup" in s for s in subnets.values())


def _rules(run):
    return [r.inputs for r in run.of_type("azure-native:network:SecurityRule")]


def _ports(rule):
    return set(rule.get("destinationPortRanges") or [rule.get("destinationPortRange")])


def test_no_nsg_admits_ssh_or_rdp_from_the_internet(run_azure):
    run = run_azure(network_only(make_context()))
    rules = _rules(run)
    internet = {"Internet", "*", "0.0.0.0/0", "Any"}
    for rule in rules:
        if rule["access"] == "Allow" and rule["sourceAddressPrefix"] in internet:
            assert rule["destinationPortRanges"] == ["80", "443"], rule
    # Only the gateway subnet admits the internet at all.
    internet_allows = {
        r["networkSecurityGroupName"]
        for r in rules
        if r["access"] == "Allow" and r["sourceAddressPrefix"] == "Internet"
    }
    assert internet_allows == {"image-processing-dev-gateway-nsg"}
    denies = {
        r["networkSecurityGroupName"]
        for r in rules
        if r["access"] == "Deny"
        and r["sourceAddressPrefix"] == "Internet"
        and _ports(r) == {"22", "3389"}
    }
    assert {"image-processing-dev-app-nsg", "image-processing-dev-worker-nsg"} <= denies


def test_tier_subnets_deny_the_rest_of_the_vnet(run_azure):
    run = run_azure(network_only(make_context()))
    by_nsg: dict[str, list[dict]] = {}
    for rule in _rules(run):
        by_nsg.setdefault(rule["networkSecurityGroupName"].split("-dev-")[1], []).append(rule)
    for subnet in ("app", "worker", "data", "endpoints", "mapreduce"):
        deny = [r for r in by_nsg[f"{subnet}-nsg"] if r["sourceAddressPrefix"] == "VirtualNetwork"]
        assert deny and deny[0]["access"] == "Deny" and deny[0]["priority"] == 4090
    worker_allows = [
        r
        for r in by_nsg["worker-nsg"]
        if r["access"] == "Allow" and r["sourceAddressPrefix"] != "AzureLoadBalancer"
    ]
    assert worker_allows == []  # workers take no inbound connections
    postgres = [r for r in by_nsg["data-nsg"] if r["access"] == "Allow" and _ports(r) == {"5432"}]
    assert {r["sourceAddressPrefix"] for r in postgres} == {"10.40.1.0/24", "10.40.2.0/24"}


@pytest.mark.parametrize(("env", "purge", "soft_delete"), [("dev", None, 7), ("prod", True, 90)])
def test_key_vault_is_rbac_only_and_firewalled(run_azure, env, purge, soft_delete):
    extra = PROD if env == "prod" else {}
    run = run_azure(network_only(make_context(**extra)))
    vault = run.one("azure-native:keyvault:Vault").inputs["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault.get("enablePurgeProtection") == purge
    assert vault["softDeleteRetentionInDays"] == soft_delete
    assert vault["tenantId"] == "99999999-8888-7777-6666-555555555555"
    acls = vault["networkAcls"]
    assert acls["defaultAction"] == "Deny"
    assert {rule["id"] for rule in acls["virtualNetworkRules"]} == {
        "network-gateway-id",
        "network-app-id",
        "network-worker-id",
    }
    workspace = run.one("azure-native:operationalinsights:Workspace").inputs
    assert workspace["retentionInDays"] == (90 if env == "prod" else 30)


def test_components_without_a_network_say_what_to_do(run_azure):
    context = make_context()

    def program():
        Queue("jobs", QueueArgs(context, QueueSpec("jobs", "work")))

    with pytest.raises(Exception, match=r"jobs: Azure components need the stack's Network"):
        run_azure(program)
