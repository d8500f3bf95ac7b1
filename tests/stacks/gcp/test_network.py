"""Network: the stack's private network, resolved."""

from __future__ import annotations

from stacks.common.args import NetworkArgs, StackContext
from stacks.gcp import Network
from tests.stacks.gcp.conftest import run


def test_network_is_private_with_nat_and_iap_only_ssh(context: StackContext) -> None:
    def program() -> None:
        network = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        network.private_services_access()
        network.private_services_access()  # a second caller reuses the one connection

    result = run(program)
    vpc = result.one("gcp:compute/network:Network")
    assert vpc.inputs["autoCreateSubnetworks"] is False
    subnet = result.one("gcp:compute/subnetwork:Subnetwork").inputs
    assert subnet["ipCidrRange"] == "10.40.0.0/17"
    assert subnet["network"] == "vpc-id"
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["logConfig"]["flowSampling"] == 0.5
    nat = result.one("gcp:compute/routerNat:RouterNat").inputs
    address = result.one("gcp:compute/address:Address")
    assert nat["natIpAllocateOption"] == "MANUAL_ONLY"
    assert nat["natIps"] == [address.outputs["selfLink"]]
    assert nat["subnetworks"] == [{"name": "hosts-id", "sourceIpRangesToNats": ["ALL_IP_RANGES"]}]
    (firewall,) = result.of_type("gcp:compute/firewall:Firewall")
    assert firewall.inputs["sourceRanges"] == ["35.235.240.0/20"]
    assert firewall.inputs["allows"] == [{"protocol": "tcp", "ports": ["22"]}]
    assert firewall.inputs["targetTags"] == ["image-processing-dev-vm"]
    reserved = result.one("gcp:compute/globalAddress:GlobalAddress").inputs
    assert (reserved["address"], reserved["prefixLength"]) == ("10.40.128.0", 18)
    assert reserved["purpose"] == "VPC_PEERING"
    connection = result.one("gcp:servicenetworking/connection:Connection").inputs
    assert connection["reservedPeeringRanges"] == ["image-processing-dev-private-services"]
