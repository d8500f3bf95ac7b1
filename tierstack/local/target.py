"""The local target: six Podman systemd hosts on a private network (lb, app1, app2, worker,
services, gateway), converged by playbooks/local.yml and checked by the testinfra suite.

Everything a target needs to be found again (ports, apps, generated secrets) is kept in
`.tierstack/<name>/` at the repo root, so `verify` and `down` work from a new process and the
secrets stay in step with the data volumes they protect.

`LocalTarget` holds a target's state; the work is done by one module per responsibility:
catalog (the apps), topology (the hosts), inventory (secrets and Ansible inputs), hosts (Podman
lifecycle), converge (Ansible runs and their logs), serving (the load balancer's view) and
wheelhouse (the hosts' offline wheels). The names below stay importable from here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tierstack.local import converge as _converge
from tierstack.local import hosts as _hosts
from tierstack.local import inventory as _inventory
from tierstack.local import serving as _serving
from tierstack.local.catalog import APPS, REPO, AppSpec, available_apps
from tierstack.local.converge import ansible_env, describe_failure, failure_message, parse_recap
from tierstack.local.errors import TargetError
from tierstack.local.inventory import write_private
from tierstack.local.topology import HOSTS, DataVolume, HostSpec, host_spec
from tierstack.local.wheelhouse import (
    HOST_WHEELHOUSE,
    SEAWEEDFS_VERSION,
    WHEELHOUSE,
    ensure_wheelhouse,
)

__all__ = [
    "APPS",
    "HOSTS",
    "HOST_WHEELHOUSE",
    "REPO",
    "SEAWEEDFS_VERSION",
    "WHEELHOUSE",
    "AppSpec",
    "HostSpec",
    "LocalTarget",
    "TargetError",
    "ansible_env",
    "available_apps",
    "describe_failure",
    "ensure_wheelhouse",
    "failure_message",
    "parse_recap",
    "write_private",
]


@dataclass
class LocalTarget:
    """One deployment of the local target; `name` prefixes its containers, network and volumes."""

    name: str = "tierstack"
    subnet: str = "10.231.0.0/24"
    https_port: int = 8443
    http_port: int = 8080
    apps: list[str] = field(default_factory=list)
    commit: str = ""  # the checkout the hosts were last converged from

    # -- state ---------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return REPO / ".tierstack" / self.name

    @property
    def network(self) -> str:
        return f"{self.name}-net"

    def container(self, host: str) -> str:
        return f"{self.name}-{host}"

    def volume(self, volume: DataVolume) -> str:
        """The Podman volume of one of a host's data volumes."""
        return f"{self.name}-{volume.suffix}"

    def ip(self, host: str | HostSpec) -> str:
        """A host's address: one of HOSTS by name, or any HostSpec (e.g. a test's extra host)."""
        spec = host if isinstance(host, HostSpec) else host_spec(host)
        return self.subnet.rsplit(".", 1)[0] + f".{spec.octet}"

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.state_dir / "target.json").write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, name: str = "tierstack") -> LocalTarget:
        """The target as `up` left it; fails with the fix when it was never brought up."""
        path = REPO / ".tierstack" / name / "target.json"
        if not path.is_file():
            hint = "" if name == "tierstack" else f" --name {name}"
            raise TargetError(
                f"the local target {name!r} is not up: run `tierstack up local{hint}`"
            )
        return cls(**json.loads(path.read_text()))

    # -- what the hosts are given (tierstack.local.inventory) ------------------------------

    def secrets(self) -> dict[str, str]:
        return _inventory.generated_secrets(self)

    def app_env(self, app: AppSpec, keys: dict[str, str]) -> dict[str, str]:
        return _inventory.app_env(app, keys)

    def connection_vars(self) -> dict[str, str]:
        return _inventory.connection_vars(self)

    def inventory(self) -> dict[str, Any]:
        return _inventory.inventory(self)

    # -- hosts (tierstack.local.hosts) -----------------------------------------------------

    @property
    def ssh_key(self) -> Path:
        return _hosts.ssh_key(self)

    def authorize(self, host: str | HostSpec) -> None:
        _hosts.authorize(self, host)

    def create_hosts(self, on_host: Callable[[str], None] | None = None) -> None:
        _hosts.create_hosts(self, on_host)

    def create_host(self, spec: HostSpec) -> None:
        _hosts.create_host(self, spec)

    def stopped_hosts(self) -> list[str]:
        return _hosts.stopped_hosts(self)

    def remove_hosts(
        self, *, purge: bool = False, on_host: Callable[[str], None] | None = None
    ) -> None:
        _hosts.remove_hosts(self, purge=purge, on_host=on_host)

    # -- Ansible (tierstack.local.converge) ------------------------------------------------

    def converge(
        self,
        *,
        log_name: str = "converge.log",
        limit: str = "",
        extra_vars: dict[str, Any] | None = None,
        on_event: _converge.Events | None = None,
    ) -> dict[str, dict[str, int]]:
        return _converge.converge(
            self, log_name=log_name, limit=limit, extra_vars=extra_vars, on_event=on_event
        )

    def run_playbook(
        self, playbook: Path, inventory: dict[str, Any], **options: Any
    ) -> dict[str, dict[str, int]]:
        return _converge.run_playbook(self, playbook, inventory, **options)

    # -- serving (tierstack.local.serving) -------------------------------------------------

    def backend_states(self) -> dict[str, dict[str, str]]:
        return _serving.backend_states(self)

    def wait_until_serving(self, timeout: float = 90.0) -> None:
        _serving.wait_until_serving(self, timeout)

    def ca_certificate(self) -> Path:
        return _serving.ca_certificate(self)

    def urls(self) -> dict[str, str]:
        return _serving.urls(self)
