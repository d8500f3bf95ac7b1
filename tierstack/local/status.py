"""`tierstack status local` and `tierstack logs local`: what runs on a target, whether it is
healthy, and a host's journal, without knowing podman."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import yaml

from tierstack.local import podman
from tierstack.local.catalog import REPO
from tierstack.local.errors import TargetError
from tierstack.local.serving import backend_states
from tierstack.local.topology import HOSTS, HostSpec, host_spec

if TYPE_CHECKING:
    from tierstack.local.target import LocalTarget

BASE_UNITS = ("ssh", "nftables")


@cache
def _role_vars(role: str, kind: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "roles" / role / kind / "main.yml").read_text()))


def _group_units(group: str) -> list[str]:
    """The units the roles of a tier start (PostgreSQL's is the cluster's own, versioned)."""
    if group == "services":
        version = _role_vars("postgres", "defaults")["postgres_version"]
        return [f"postgresql@{version}-main", "seaweedfs", "mail-sink"]
    return ["haproxy"] if group == "lb" else []


def expected_units(target: LocalTarget, spec: HostSpec) -> list[str]:
    """The systemd units a converge starts on a host of this tier."""
    units = [*BASE_UNITS, *_group_units(spec.group)]
    if spec.group == "app":
        units += target.apps
    if spec.group == "worker":
        units += [
            worker["name"]
            for app in target.apps
            for worker in _role_vars("blueprint_host", "vars")["blueprint_host_catalog"]
            .get(app, {})
            .get("workers", [])
        ]
    if spec.group == "gateway" and "iot-gateway" in target.apps:
        units += ["mosquitto", "iot-gateway-gateway", "iot-gateway-simulator"]
    return units


def container_states(target: LocalTarget) -> dict[str, str]:
    """Each container of the target by name: running, exited, created…"""
    listed = podman.run(
        ["ps", "--all", "--filter", f"label=tierstack.target={target.name}", "--format", "json"],
        check=False,
    ).stdout
    return {
        name: str(entry.get("State", "unknown"))
        for entry in (json.loads(listed) if listed.strip() else [])
        for name in entry.get("Names", [])
    }


def unit_states(container: str, units: list[str]) -> dict[str, str]:
    """`systemctl is-active` of each unit (active, inactive, failed, activating…)."""
    result = podman.exec_(container, ["systemctl", "is-active", *units], check=False)
    states = result.stdout.split()
    return {unit: states[i] if i < len(states) else "unknown" for i, unit in enumerate(units)}


def collect(target: LocalTarget) -> dict[str, Any]:
    """The whole status as data: what `--json` prints and the table is drawn from."""
    containers = container_states(target)
    hosts = []
    for spec in HOSTS:
        container = target.container(spec.name)
        state = containers.get(container, "missing")
        units = expected_units(target, spec)
        services = unit_states(container, units) if state == "running" else {}
        hosts.append(
            {
                "name": spec.name,
                "container": container,
                "address": target.ip(spec),
                "state": state,
                "services": services,
                "healthy": state == "running"
                and all(value == "active" for value in services.values()),
            }
        )
    lb_running = containers.get(target.container("lb")) == "running"
    servers = backend_states(target) if lb_running else {}
    urls = target.urls()
    apps = [
        {
            "name": app,
            "url": urls[app],
            "servers": servers.get(app, {}),
            "healthy": bool(servers.get(app))
            and all(value == "UP" for value in servers[app].values()),
        }
        for app in target.apps
    ]
    cert = target.state_dir / "lb.crt"
    return {
        "target": target.name,
        "commit": target.commit or "unknown",
        "network": {"name": target.network, "subnet": target.subnet},
        "ports": {"https": target.https_port, "http": target.http_port},
        "hosts": hosts,
        "apps": apps,
        "certificate": str(cert.relative_to(REPO)) if cert.is_file() else None,
        "healthy": all(host["healthy"] for host in hosts) and all(app["healthy"] for app in apps),
    }


def render(status: dict[str, Any]) -> str:
    """The status as a few aligned lines a person reads at a glance."""
    lines = [
        f"local target {status['target']}: commit {status['commit']}, "
        f"network {status['network']['name']} ({status['network']['subnet']}), "
        + ("healthy" if status["healthy"] else "NOT healthy"),
        "",
        f"{'HOST':<10}{'STATE':<10}{'ADDRESS':<14}SERVICES",
    ]
    for host in status["hosts"]:
        services = ", ".join(
            unit if state == "active" else f"{unit} ({state})"
            for unit, state in host["services"].items()
        )
        lines.append(f"{host['name']:<10}{host['state']:<10}{host['address']:<14}{services}")
    lines += ["", f"{'APP':<20}{'SERVERS':<26}URL"]
    for app in status["apps"]:
        servers = " ".join(f"{name}:{state}" for name, state in app["servers"].items()) or "none"
        lines.append(f"{app['name']:<20}{servers:<26}{app['url']}")
    if status["certificate"]:
        lines += ["", f"trust {status['certificate']} (self-signed, the load balancer's)"]
    return "\n".join(lines) + "\n"


def host_names() -> list[str]:
    return [spec.name for spec in HOSTS]


def journal_command(
    target: LocalTarget, host: str, unit: str | None, *, follow: bool, lines: int
) -> Journal:
    """The podman command that shows a host's journal (of one unit when given); raises
    TargetError when the host or unit does not exist or the host is not running.

    A followed journal records its pid in the host: a podman client that is interrupted leaves
    the process it started running, so `show_journal` stops it by that pid."""
    if host not in host_names():
        raise TargetError(f"unknown host {host!r}: choose one of {', '.join(host_names())}")
    container = target.container(host)
    if not podman.running(container):
        hint = "" if target.name == "tierstack" else f" --name {target.name}"
        raise TargetError(f"host {host} is not running: run `tierstack up local{hint}`")
    if unit:
        load = podman.exec_(
            container, ["systemctl", "show", "--property=LoadState", "--value", unit], check=False
        ).stdout.strip()
        if load in ("not-found", ""):
            spec = host_spec(host)
            known = ", ".join(expected_units(target, spec))
            raise TargetError(f"host {host} has no unit {unit!r}: its services are {known}")
    journal = ["journalctl", "--no-pager", "-n", str(lines), *(["-u", unit] if unit else [])]
    if not follow:
        return Journal(container, ["podman", "exec", container, *journal])
    pidfile = f"/run/tierstack-logs-{uuid.uuid4().hex}.pid"
    script = f'echo $$ > {pidfile}; exec "$@" -f'
    command = ["podman", "exec", container, "sh", "-c", script, "journal", *journal]
    return Journal(container, command, pidfile)


@dataclass(frozen=True)
class Journal:
    """How to show a host's journal; `pidfile` names where a followed journal's pid is."""

    container: str
    command: list[str]
    pidfile: str = ""


def show_journal(journal: Journal) -> int:
    """Runs the journal command with its output straight to ours; a followed journal is
    stopped in the host too when we are interrupted or terminated."""
    child = subprocess.Popen(journal.command)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return child.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if journal.pidfile:
            stop = f'kill "$(cat {journal.pidfile})" 2>/dev/null; rm -f {journal.pidfile}'
            podman.exec_(journal.container, ["sh", "-c", stop], check=False)
        child.wait()
