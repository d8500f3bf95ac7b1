"""Host <-> cloud network: the nftables rules a cloud VM ends up with admit the cloud's own load
balancer and health checks to the app port, and nothing else new.

Each stack's boot script (the vars.yml it writes) is fed to Ansible itself, which renders the
common role's nftables template with `common_firewall_allow` composed by the very expression in
playbooks/blueprint.yml. The sources admitted are then compared with where the cloud says its
load balancer connects from: on GCP the stack's own firewall rule for Google's front ends
(130.211.0.0/22 and 35.191.0.0/16, "Firewall rules for health checks", cloud.google.com/load-
balancing/docs/health-check-concepts#ip-ranges) and IAP for SSH (35.235.240.0/20, cloud.google.com/
iap/docs/using-tcp-forwarding); on AWS the ALB's subnets and on Azure the Application Gateway's
subnet, which lie inside the network CIDR the hosts already admit.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.playbook_check import boot_vars
from tests.stacks.harness import REPO_ROOT, Run, run_stack

RULE = re.compile(r"^\s*(?:ip6? saddr (?P<source>\S+) )?tcp dport (?P<port>\d+) accept$")
TEMPLATE = REPO_ROOT / "roles" / "common" / "templates" / "nftables.conf.j2"
NETWORK = "10.40.0.0/16"  # the default networkCidr every stack file keeps


@cache
def stack_run(stack: str) -> Run:
    cloud = stack.split("-", 1)[0]
    conftest = __import__(f"tests.stacks.{cloud}.conftest", fromlist=["computed"])
    return run_stack(stack, computed=conftest.computed, invokes=getattr(conftest, "INVOKES", None))


def boot_scripts(run: Run, cloud: str) -> dict[str, str]:
    """Tier resource name -> the boot script its VMs run."""
    if cloud == "aws":
        scripts = {}
        for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
            text = base64.b64decode(template.inputs["userData"]).decode()
            scripts[template.name] = yaml.safe_load(text)["write_files"][0]["content"]
        return scripts
    if cloud == "gcp":
        return {
            t.name: t.inputs["metadata"]["startup-script"]
            for t in run.of_type("gcp:compute/instanceTemplate:InstanceTemplate")
        }
    scripts = {}
    for vmss in run.of_type("azure-native:compute:VirtualMachineScaleSet"):
        custom = vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"]
        scripts[vmss.name] = yaml.safe_load(base64.b64decode(custom).decode())["write_files"][0][
            "content"
        ]
    return scripts


def rendered_rules(hosts: list[dict[str, Any]], workdir: Path) -> list[set[tuple[str, int]]]:
    """Per host vars.yml, the (source, port) pairs its nftables.conf accepts ("any" for no
    source), rendered by Ansible from the role's template and the blueprint playbook's own
    composition; one ansible-playbook run with a play per host."""
    play = yaml.safe_load((REPO_ROOT / "playbooks" / "blueprint.yml").read_text())[0]
    [common] = [role for role in play["roles"] if role["role"] == "common"]
    plays = []
    for index, variables in enumerate(hosts):
        # Last in vars_files: like vars.yml given with -e, the stack's values override defaults.
        (workdir / f"vars{index}.json").write_text(json.dumps(variables))
        plays.append(
            {
                "name": f"Render the firewall of host {index}",
                "hosts": "localhost",
                "gather_facts": False,
                "vars_files": [
                    str(REPO_ROOT / "roles" / "common" / "defaults" / "main.yml"),
                    str(REPO_ROOT / "roles" / "blueprint_host" / "vars" / "main.yml"),
                    str(workdir / f"vars{index}.json"),
                ],
                "tasks": [
                    {
                        "name": "Render",
                        "ansible.builtin.template": {
                            "src": str(TEMPLATE),
                            "dest": str(workdir / f"nftables{index}.conf"),
                            "mode": "0600",
                        },
                        "vars": common["vars"],
                    }
                ],
            }
        )
    (workdir / "render.yml").write_text(yaml.safe_dump(plays))
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            str(workdir / "render.yml"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    rendered = []
    for index in range(len(hosts)):
        lines = (workdir / f"nftables{index}.conf").read_text().splitlines()
        matches = [match for line in lines if (match := RULE.match(line))]
        rendered.append({(m["source"] or "any", int(m["port"])) for m in matches})
    return rendered


def test_gcp_app_port_admits_googles_front_ends_and_ssh_admits_iap(tmp_path: Path) -> None:
    run = stack_run("gcp-image-processing")
    firewall = run.one("gcp:compute/firewall:Firewall", "allow-front-ends").inputs
    [allowed] = firewall["allows"]
    app_port = int(allowed["ports"][0])
    iap = next(
        f.inputs
        for f in run.of_type("gcp:compute/firewall:Firewall")
        if f.inputs.get("allows") == [{"protocol": "tcp", "ports": ["22"]}]
    )
    assert iap["sourceRanges"] == ["35.235.240.0/20"]
    hosts = [boot_vars(script) for script in boot_scripts(run, "gcp").values()]
    tiers = [variables["tierstack_tier"] for variables in hosts]
    rules_by_tier = dict(zip(tiers, rendered_rules(hosts, tmp_path), strict=True))
    assert rules_by_tier["app"] == {
        (NETWORK, 22),
        *((source, 22) for source in iap["sourceRanges"]),
        (NETWORK, app_port),
        *((source, app_port) for source in firewall["sourceRanges"]),
    }
    assert {"130.211.0.0/22", "35.191.0.0/16"} == set(firewall["sourceRanges"])
    # A worker serves nothing: SSH through IAP only, no app port.
    assert rules_by_tier["worker"] == {(NETWORK, 22), ("35.235.240.0/20", 22)}


def test_gcp_hosts_keep_time_with_the_metadata_server() -> None:
    run = stack_run("gcp-image-processing")
    for script in boot_scripts(run, "gcp").values():
        assert boot_vars(script)["common_ntp_servers"] == ["metadata.google.internal"]


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_load_balancer_connects_from_inside_the_network_the_hosts_admit(
    cloud: str, tmp_path: Path
) -> None:
    run = stack_run(f"{cloud}-image-processing")
    network = ipaddress.ip_network(NETWORK)
    if cloud == "aws":
        balancer = run.one("aws:lb/loadBalancer:LoadBalancer").inputs
        subnets = {
            f"{s.name}-id": s.inputs["cidrBlock"] for s in run.of_type("aws:ec2/subnet:Subnet")
        }
        lb_ranges = [subnets[subnet] for subnet in balancer["subnets"]]
    else:
        gateway = run.one("azure-native:network:ApplicationGateway").inputs
        [ip_config] = gateway["gatewayIPConfigurations"]
        subnet_id = ip_config["subnet"]["id"]
        # The harness gives each resource the id "<name>-id".
        lb_ranges = [
            s.inputs["addressPrefix"]
            for s in run.of_type("azure-native:network:Subnet")
            if subnet_id == f"{s.name}-id"
        ]
    assert lb_ranges and all(ipaddress.ip_network(r).subnet_of(network) for r in lb_ranges)
    scripts = {
        boot_vars(s)["tierstack_tier"]: boot_vars(s) for s in boot_scripts(run, cloud).values()
    }
    [rules] = rendered_rules([scripts["app"]], tmp_path)
    port = next(p for _, p in rules if p != 22)
    assert rules == {(NETWORK, 22), (NETWORK, port)}  # nothing from outside the network


def test_aws_hosts_keep_time_with_amazon_time_sync() -> None:
    """The hosts' security groups allow only HTTP(S) out: the Debian pool's UDP 123 would never
    answer. Amazon Time Sync (169.254.169.123) is link-local and needs no rule (EC2 user guide,
    "Set the time for your Linux instance")."""
    run = stack_run("aws-image-processing")
    egress = run.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert not any(rule.inputs.get("ipProtocol") == "udp" for rule in egress)
    for script in boot_scripts(run, "aws").values():
        assert boot_vars(script)["common_ntp_servers"] == ["169.254.169.123"]
