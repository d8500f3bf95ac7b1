"""The local target's hosts: names, addresses and tiers, the same for every target."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HostSpec:
    """One host of the local target: its name, last address octet and tier."""

    name: str
    octet: int
    group: str
    volumes: tuple[tuple[str, str], ...] = ()  # (volume suffix, mount point)


HOSTS: tuple[HostSpec, ...] = (
    HostSpec(
        "services",
        14,
        "services",
        (("pgdata", "/var/lib/postgresql"), ("objects", "/var/lib/seaweedfs")),
    ),
    HostSpec("app1", 11, "app"),
    HostSpec("app2", 12, "app"),
    HostSpec("worker", 13, "worker"),
    HostSpec("lb", 10, "lb"),
    # iot-gateway's fog gateway: its MQTT broker, the gateway service and the simulated devices.
    HostSpec("gateway", 15, "gateway"),
)
