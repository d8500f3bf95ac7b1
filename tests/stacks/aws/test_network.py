"""Network: the stack's private network, resolved."""

from __future__ import annotations

from tests.stacks.aws.conftest import ACCOUNT, REGION, computed
from tests.stacks.aws.support import document, network
from tests.stacks.harness import run_pulumi

SUBNET = "aws:ec2/subnet:Subnet"


def test_network_spans_two_zones_with_private_subnets_nat_and_flow_logs(context):
    run = run_pulumi(lambda: network(context), computed=computed)
    subnets = {r.name: r.inputs for r in run.of_type(SUBNET)}
    assert {name: (s["cidrBlock"], s["availabilityZone"]) for name, s in subnets.items()} == {
        "network-public-0": ("10.40.0.0/20", "eu-west-1a"),
        "network-public-1": ("10.40.16.0/20", "eu-west-1b"),
        "network-private-0": ("10.40.32.0/20", "eu-west-1a"),
        "network-private-1": ("10.40.48.0/20", "eu-west-1b"),
    }
    assert all(s["mapPublicIpOnLaunch"] is False for s in subnets.values())
    assert len(run.of_type("aws:ec2/natGateway:NatGateway")) == 1  # dev: one NAT
    private_routes = [
        r for r in run.of_type("aws:ec2/routeTable:RouteTable") if "private" in r.name
    ]
    assert [r.inputs["routes"] for r in private_routes] == [
        [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "network-nat-0-id"}]
    ] * 2
    flow_log = run.one("aws:ec2/flowLog:FlowLog").inputs
    assert (flow_log["vpcId"], flow_log["trafficType"]) == ("network-vpc-id", "ALL")
    group_arn = (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/tierstack/image-processing-dev/vpc-flow-logs"
    )
    [statement, describe] = document(run.one("aws:iam/rolePolicy:RolePolicy"))["Statement"]
    assert statement["Resource"] == [group_arn, f"{group_arn}:*"]
    # Flow logs check that the group exists: a listing, on the account's log groups only.
    assert describe["Action"] == ["logs:DescribeLogGroups"]
    assert describe["Resource"] == [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"]
    default_group = run.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup").inputs
    assert not default_group.get("ingress") and not default_group.get("egress")


def test_prod_network_has_a_nat_gateway_per_zone(prod_context):
    run = run_pulumi(lambda: network(prod_context), computed=computed)
    nats = run.of_type("aws:ec2/natGateway:NatGateway")
    assert sorted(n.inputs["subnetId"] for n in nats) == [
        "network-public-0-id",
        "network-public-1-id",
    ]
