"""The local target's hosts: names, addresses and tiers, the same for every target."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataVolume:
    """A host's data volume: a file system of its own (an ext4 image that Podman loop-mounts),
    so that a full volume is the volume's fault and never fills the machine's disk."""

    suffix: str  # the Podman volume is named `<target>-<suffix>`
    mount: str  # where the host mounts it
    size_gib: int = 4  # the image is sparse: it takes only what is written


@dataclass(frozen=True)
class HostSpec:
    """One host of the local target: its name, last address octet and tier."""

    name: str
    octet: int
    group: str
    volumes: tuple[DataVolume, ...] = ()


HOSTS: tuple[HostSpec, ...] = (
    HostSpec(
        "services",
        14,
        "services",
        (DataVolume("pgdata", "/var/lib/postgresql"), DataVolume("objects", "/var/lib/seaweedfs")),
    ),
    HostSpec("app1", 11, "app"),
    HostSpec("app2", 12, "app"),
    HostSpec("worker", 13, "worker"),
    HostSpec("lb", 10, "lb"),
    # iot-gateway's fog gateway: its MQTT broker, the gateway service and the simulated devices.
    HostSpec("gateway", 15, "gateway"),
)


def host_spec(name: str) -> HostSpec:
    """The host of HOSTS called ``name``."""
    return next(spec for spec in HOSTS if spec.name == name)
