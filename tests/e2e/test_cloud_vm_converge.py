"""A host converged the way a cloud VM converges itself: `playbooks/cloud-drive.yml` with the
vars.yml that `stacks/common/bootstrap.py` writes into every VM's user data (the same function,
with an AWS cloud-drive stack's settings), on a sixth Podman host beside the local target.

What differs from a cloud VM, and why: ansible-pull runs the playbook with the local connection
on the VM, here the controller connects over SSH; the app's backend URLs point at the target's
services host (PostgreSQL, SeaweedFS, the mail sink) instead of RDS and S3, so that the app
really serves; the wheelhouse stands in for PyPI, so that the test needs no network.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest
import testinfra

from stacks.blueprints.settings import parse_settings
from stacks.common.args import StackContext
from stacks.common.bootstrap import host_vars
from tierstack.local import podman
from tierstack.local.target import APPS, HOST_WHEELHOUSE, REPO, HostSpec

pytestmark = [pytest.mark.hosts, pytest.mark.reconverges]

VM = HostSpec("vm", 20, "app")


def test_a_host_converged_like_a_cloud_vm_serves_its_app(
    target: Any, hosts: dict[str, Any]
) -> None:
    app = APPS["cloud-drive"]
    network = ipaddress.ip_network(target.subnet).supernet(new_prefix=16)
    settings = parse_settings(
        {
            "tierstack:cloud": "aws",
            "tierstack:app": app.name,
            "tierstack:networkCidr": str(network),
        }
    )
    boot = host_vars(
        StackContext(settings=settings, stack=f"aws-{app.name}"),
        "app",
        target.app_env(app, target.secrets()),
    )
    inventory = {
        "all": {"hosts": {VM.name: {"ansible_host": target.ip(VM), **target.connection_vars()}}}
    }

    def converge(log_name: str) -> dict[str, int]:
        recap = target.run_playbook(
            REPO / "playbooks" / f"{app.name}.yml",
            inventory,
            log_name=log_name,
            inventory_name="cloud-vm-inventory.yml",
            extra_vars={**boot, "python_app_pip_find_links": HOST_WHEELHOUSE},
        )
        return recap[VM.name]

    try:
        target.create_host(VM)
        first = converge("cloud-vm.log")
        assert first["failed"] == 0 and first["changed"] > 0
        again = converge("cloud-vm-again.log")
        assert again["changed"] == 0, f"see {target.state_dir / 'cloud-vm-again.log'}"

        vm = testinfra.get_host(f"podman://{target.container(VM.name)}")
        assert vm.service(app.name).is_running
        assert vm.service(app.name).is_enabled
        environment = vm.file(f"/etc/tierstack/{app.name}.env")
        assert (environment.user, environment.group, environment.mode) == ("root", app.name, 0o640)
        assert 'APP_ENV="production"' in environment.content_string
        ruleset = vm.check_output("nft list ruleset")
        assert f"ip saddr {network} tcp dport {app.port} accept" in ruleset
        assert f"ip saddr {network} tcp dport 22 accept" in ruleset

        ready = hosts["lb"].check_output(f"curl -sS http://{target.ip(VM)}:{app.port}/readyz")
        assert json.loads(ready) == {
            "status": "ready",
            "checks": {name: "ok" for name in json.loads(ready)["checks"]},
        }
        assert {"database", "object_store"} <= set(json.loads(ready)["checks"])
    finally:
        podman.run(["rm", "-f", "-t", "5", target.container(VM.name)], check=False)
