"""Operator access on AWS: no Session Manager (Debian's AMIs ship no SSM agent), and with
`sshKeyPair` an EC2 Instance Connect Endpoint in a private subnet as the only SSH source.

Provider constraints cited: "Security groups for EC2 Instance Connect Endpoint" (Amazon EC2
User Guide, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/eice-security-groups.html):
the endpoint's group must allow SSH out to the instances (their group or the VPC range), the
instances' group must admit SSH from the endpoint's group; inbound rules on the endpoint's group
are not needed. CreateInstanceConnectEndpoint (EC2 API reference): PreserveClientIp defaults to
true, so it is set to false for the hosts to see the endpoint's own address."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import stacks.aws
from stacks.blueprints.settings import SettingsError, parse_settings
from tests.stacks.aws.conftest import computed, make_context
from tests.stacks.aws.support import user_data
from tests.stacks.harness import run_stack, stack_names

ENDPOINT = "aws:ec2transitgateway/instanceConnectEndpoint:InstanceConnectEndpoint"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
KEY_PAIR = {"tierstack:sshKeyPair": "ops-2026"}
STACKS = stack_names("aws")


def _ssh_rules(run) -> list[dict]:
    return [
        r.inputs for r in run.of_type(INGRESS) if r.inputs["fromPort"] <= 22 <= r.inputs["toPort"]
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_no_tier_role_carries_session_manager_calls(stack):
    run = run_stack(stack, computed=computed)
    for policy in run.of_type("aws:iam/rolePolicy:RolePolicy"):
        assert not policy.name.endswith("-session-manager"), policy.name
        actions = [a for s in json.loads(policy.inputs["policy"])["Statement"] for a in s["Action"]]
        assert not [a for a in actions if a.split(":")[0] in ("ssm", "ssmmessages")], policy.name
    # Nothing takes the place of the inline policy: no managed policy (SSM core) is attached.
    assert run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == [] or all(
        "SSM" not in a.inputs["policyArn"]
        for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    )


def test_without_a_key_pair_there_is_no_endpoint_and_no_ssh_anywhere():
    run = run_stack("aws-mapreduce", computed=computed)
    assert run.of_type(ENDPOINT) == []
    assert _ssh_rules(run) == []
    for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        assert "keyName" not in template.inputs


@pytest.mark.parametrize("stack", ["aws-mapreduce", "aws-cloud-drive"])
def test_the_endpoint_is_the_only_ssh_source_of_every_host(stack):
    run = run_stack(stack, computed=computed, overrides=KEY_PAIR)
    endpoint = run.one(ENDPOINT).inputs
    # In a private subnet (the hosts' own), behind its own group, hosts see its address.
    assert endpoint["subnetId"] == "network-private-0-id"
    assert endpoint["securityGroupIds"] == ["network-operator-access-id"]
    assert endpoint["preserveClientIp"] is False
    group = run.one("aws:ec2/securityGroup:SecurityGroup", "network-operator-access").inputs
    assert group["vpcId"] == "network-vpc-id" and not group.get("ingress")
    # The endpoint's group: SSH out to the VPC's range only, no rule admits anything in.
    assert [
        (r.inputs["fromPort"], r.inputs["toPort"], r.inputs["cidrIpv4"])
        for r in run.of_type(EGRESS)
        if r.inputs["securityGroupId"] == "network-operator-access-id"
    ] == [(22, 22, "10.40.0.0/16")]
    assert not [
        r
        for r in run.of_type(INGRESS)
        if r.inputs["securityGroupId"] == "network-operator-access-id"
    ]
    # Every host group (each launch template's) admits SSH from that group and from nothing else.
    templates = run.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    host_groups = {t.inputs["networkInterfaces"][0]["securityGroups"][0] for t in templates}
    assert len(host_groups) == len(templates) >= 1
    ssh = _ssh_rules(run)
    assert sorted(r["securityGroupId"] for r in ssh) == sorted(host_groups)
    for rule in ssh:
        assert (rule["fromPort"], rule["toPort"], rule["ipProtocol"]) == (22, 22, "tcp")
        assert rule["referencedSecurityGroupId"] == "network-operator-access-id"
        assert "cidrIpv4" not in rule and "cidrIpv6" not in rule
    # Never from the internet, on any port range that covers 22.
    assert all(
        r.inputs.get("cidrIpv4") != "0.0.0.0/0"
        for r in run.of_type(INGRESS)
        if r.inputs["fromPort"] <= 22 <= r.inputs["toPort"]
    )
    # The key pair reaches every host (cloud-init authorises it for Debian's `admin` user),
    # and the user data is otherwise unchanged by it.
    assert {t.inputs["keyName"] for t in templates} == {"ops-2026"}
    for template in templates:
        assert "ops-2026" not in user_data(template)[1]


def test_ssh_key_pair_is_refused_outside_aws():
    with pytest.raises(SettingsError, match="tierstack:sshKeyPair"):
        parse_settings({"tierstack:cloud": "gcp", "tierstack:app": "mapreduce", **KEY_PAIR})
    assert make_context(sshKeyPair="ops").settings.ssh_key_pair == "ops"
    assert make_context().settings.ssh_key_pair == ""


def test_readme_promises_no_session_manager_access():
    """The README's operator instructions match the code above: no SSM agent and no `ssm:` grant
    on the hosts, so it must not send operators to Session Manager, and its first-deploy section
    says how to reach a host through the Instance Connect Endpoint."""
    readme = (Path(stacks.aws.__file__).parent / "README.md").read_text()
    first_deploy = readme.split("## First deploy", 1)[1].split("\n## ", 1)[0]
    assert "--connection-type eice" in first_deploy
    claims = [
        line
        for line in readme.splitlines()
        if re.search(r"(?<!resolve:)\bssm(messages)?:[A-Z*]|AmazonSSMManagedInstanceCore", line)
        or ("Session Manager" in line and not re.search(r"\b(no|not)\b", line))
    ]
    assert claims == []
