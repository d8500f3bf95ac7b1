"""Hosts converged the way a cloud VM converges itself: `playbooks/<blueprint>.yml` with the
vars.yml that `stacks/common/bootstrap.py` writes into every VM's user data (the same function,
with an AWS stack's settings), on a sixth Podman host beside the local target; one per tier:
a cloud-drive app server, an image-processing worker, an iot-gateway MQTT gateway.

What differs from a cloud VM, and why: ansible-pull runs the playbook with the local connection
on the VM, here the controller connects over SSH; the app's backend URLs point at the target's
services host (PostgreSQL, SeaweedFS, the mail sink) instead of RDS, SQS and S3, so that the
apps really serve; the wheelhouse stands in for PyPI, so that the test needs no network.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import testinfra

from stacks.blueprints.settings import parse_settings
from stacks.common.args import StackContext
from stacks.common.bootstrap import host_vars
from tierstack.local import ca, podman
from tierstack.local.target import APPS, HOST_WHEELHOUSE, REPO, HostSpec

pytestmark = [pytest.mark.hosts, pytest.mark.reconverges]

# One address per tier: a new host on the address of one just removed can stay unreachable for
# a while (the bridge still knows the old one).
VMS = {
    "app": HostSpec("vm-app", 20, "app"),
    "worker": HostSpec("vm-worker", 21, "worker"),
    "gateway": HostSpec("vm-gateway", 22, "app"),
}


def converge_like_a_cloud_vm(
    target: Any, blueprint: str, tier: str, app_env: dict[str, str]
) -> tuple[Any, ipaddress.IPv4Network]:
    """Creates the VM host and converges it twice with its boot vars (the second run must
    change nothing); returns the testinfra host and the stack's network."""
    vm = VMS[tier]
    network = ipaddress.ip_network(target.subnet).supernet(new_prefix=16)
    assert isinstance(network, ipaddress.IPv4Network)
    settings = parse_settings(
        {
            "tierstack:cloud": "aws",
            "tierstack:app": blueprint,
            "tierstack:networkCidr": str(network),
        }
    )
    boot = host_vars(StackContext(settings=settings, stack=f"aws-{blueprint}"), tier, app_env)
    inventory = {
        "all": {"hosts": {vm.name: {"ansible_host": target.ip(vm), **target.connection_vars()}}}
    }

    def converge(log_name: str) -> dict[str, int]:
        recap = target.run_playbook(
            REPO / "playbooks" / f"{blueprint}.yml",
            inventory,
            log_name=log_name,
            inventory_name="cloud-vm-inventory.yml",
            extra_vars={
                **boot,
                "python_app_pip_find_links": HOST_WHEELHOUSE,
                # The local services' database certificate is the target's own CA's (a cloud VM
                # gets its provider's roots instead).
                "blueprint_host_database_ca": ca.ca_pem(target),
            },
        )
        return recap[vm.name]

    target.create_host(vm)
    first = converge(f"cloud-vm-{tier}.log")
    assert first["failed"] == 0 and first["changed"] > 0
    again = converge(f"cloud-vm-{tier}-again.log")
    assert again["changed"] == 0, f"see {target.state_dir / f'cloud-vm-{tier}-again.log'}"
    return testinfra.get_host(f"podman://{target.container(vm.name)}"), network


@pytest.fixture
def remove_vm(target: Any) -> Iterator[None]:
    yield
    for vm in VMS.values():
        podman.run(["rm", "-f", "-t", "5", target.container(vm.name)], check=False)


def test_an_app_server_converged_like_a_cloud_vm_serves_ready(
    target: Any, hosts: dict[str, Any], remove_vm: None
) -> None:
    app = APPS["cloud-drive"]
    vm, network = converge_like_a_cloud_vm(
        target, app.name, "app", target.app_env(app, target.secrets())
    )
    assert vm.service(app.name).is_running
    assert vm.service(app.name).is_enabled
    environment = vm.file(f"/etc/tierstack/{app.name}.env")
    assert (environment.user, environment.group, environment.mode) == ("root", app.name, 0o640)
    assert 'APP_ENV="production"' in environment.content_string
    ruleset = vm.check_output("nft list ruleset")
    assert f"ip saddr {network} tcp dport {app.port} accept" in ruleset
    assert f"ip saddr {network} tcp dport 22 accept" in ruleset

    ready = json.loads(
        hosts["lb"].check_output(f"curl -sS http://{target.ip(VMS['app'])}:{app.port}/readyz")
    )
    assert ready["status"] == "ready", ready
    assert {"database", "object_store"} <= set(ready["checks"])


def test_a_worker_converged_like_a_cloud_vm_consumes_and_serves_nothing(
    target: Any, remove_vm: None
) -> None:
    app = APPS["image-processing"]
    unit = f"{app.name}-worker"
    vm, network = converge_like_a_cloud_vm(
        target, app.name, "worker", target.app_env(app, target.secrets())
    )
    assert vm.service(unit).is_running
    assert vm.service(unit).is_enabled
    time.sleep(3)  # a consumer that cannot reach its queue exits and is restarted
    assert vm.check_output(f"systemctl show -p NRestarts --value {unit}") == "0"
    assert vm.service(unit).is_running
    ruleset = vm.check_output("nft list ruleset")
    assert f"tcp dport {app.port}" not in ruleset
    assert f"ip saddr {network} tcp dport 22 accept" in ruleset
    assert not vm.socket(f"tcp://0.0.0.0:{app.port}").is_listening


def test_a_gateway_converged_like_a_cloud_vm_serves_mqtt_over_tls(
    target: Any, hosts: dict[str, Any], remove_vm: None
) -> None:
    vm, _ = converge_like_a_cloud_vm(
        target,
        "iot-gateway",
        "gateway",
        {"QUEUE_URL": "postgresql://services/iot_gateway?table=readings"},
    )
    assert vm.service("mosquitto").is_running
    assert vm.service("mosquitto").is_enabled
    assert "tcp dport 8883 accept" in vm.check_output("nft list ruleset")
    ca = vm.file("/etc/mosquitto/certs/ca.crt").content_string
    lb = hosts["lb"]
    lb.run("install -d -m 0700 /tmp/vm-ca")
    lb.run(f"cat > /tmp/vm-ca/ca.crt <<'EOF'\n{ca}EOF")
    handshake = lb.run(
        f"openssl s_client -connect {target.ip(VMS['gateway'])}:8883 -servername gateway"
        " -CAfile /tmp/vm-ca/ca.crt -verify_return_error -brief </dev/null"
    )
    lb.run("rm -rf /tmp/vm-ca")
    assert handshake.rc == 0, handshake.stderr
    assert "Verification: OK" in handshake.stderr + handshake.stdout
