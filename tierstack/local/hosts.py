"""The hosts of a local target: Podman systemd containers on the target's own network, each
admitting the target's SSH key, and their removal."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tierstack.local import podman
from tierstack.local.errors import TargetError
from tierstack.local.topology import HOSTS, DataVolume, HostSpec
from tierstack.local.wheelhouse import HOST_WHEELHOUSE, WHEELHOUSE, ensure_wheelhouse

if TYPE_CHECKING:
    from tierstack.local.target import LocalTarget


def ssh_key(target: LocalTarget) -> Path:
    """The target's own SSH key (Ansible connects like it would to a cloud VM)."""
    key = target.state_dir / "id_ed25519"
    if not key.is_file():
        target.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        new_ssh_key(key, f"{target.name}-controller")
    return key


def new_ssh_key(path: Path, comment: str) -> None:
    """An ed25519 key pair without a passphrase at ``path`` (and ``path``.pub)."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def authorize(target: LocalTarget, host: str | HostSpec) -> None:
    """Gives the host SSH host keys, admits the target's key for root and pins the host keys.

    The host keys are read through `podman exec`, a channel that needs no trust on first use,
    and replace whatever known_hosts held for the host's address (a recreated host has new
    keys); SSH then checks them strictly.
    """
    script = (
        "set -e; ssh-keygen -A >/dev/null; install -d -m 0700 /root/.ssh;"
        " cat > /root/.ssh/authorized_keys; chmod 0600 /root/.ssh/authorized_keys;"
        " systemctl is-active --quiet ssh"
        " || { systemctl reset-failed ssh; systemctl restart ssh; };"
        " cat /etc/ssh/ssh_host_*_key.pub"
    )
    name = host.name if isinstance(host, HostSpec) else host
    result = podman.run(
        ["exec", "-i", target.container(name), "sh", "-c", script],
        stdin=ssh_key(target).with_suffix(".pub").read_text(),
    )
    address = target.ip(host)
    pinned = [
        f"{address} {kind} {key}"
        for kind, key, *_ in (line.split() for line in result.stdout.splitlines() if line)
    ]
    if not pinned:
        raise TargetError(f"host {name} has no SSH host keys: see `podman logs {name}`")
    known_hosts = target.state_dir / "known_hosts"
    kept = [
        line
        for line in (known_hosts.read_text().splitlines() if known_hosts.is_file() else [])
        if not line.startswith(f"{address} ")
    ]
    known_hosts.write_text("\n".join([*kept, *pinned]) + "\n")


def create_hosts(target: LocalTarget, on_host: Callable[[str], None] | None = None) -> None:
    """Creates (or starts) the network, the data volumes and the hosts; `on_host` hears
    of each host as it is up."""
    podman.require_podman()
    ensure_wheelhouse()  # the hosts mount it: it must exist before they are created
    if not podman.exists("network", target.network):
        podman.run(
            [
                "network",
                "create",
                "--subnet",
                target.subnet,
                "--label",
                f"tierstack.target={target.name}",
                target.network,
            ]
        )
    for spec in HOSTS:
        create_host(target, spec)
        if on_host:
            on_host(spec.name)


def create_host(target: LocalTarget, spec: HostSpec) -> None:
    """Creates (or starts) one systemd host on the target's network and admits our SSH key.

    Every host resolves the other hosts of HOSTS by name; app, worker, services and gateway
    hosts mount the wheelhouse; lb publishes the HTTP(S) ports on 127.0.0.1.
    """
    name = target.container(spec.name)
    if podman.exists("container", name):
        if not podman.running(name):
            podman.run(["start", name])
        authorize(target, spec)
        return
    add_hosts = [f"--add-host={other.name}:{target.ip(other)}" for other in HOSTS if other != spec]
    args = [
        "run",
        "-d",
        "--name",
        name,
        "--hostname",
        spec.name,
        "--label",
        f"tierstack.target={target.name}",
        "--systemd=always",
        "--cap-add=SYS_ADMIN",
        "--cap-add=NET_ADMIN",
        "--network",
        target.network,
        "--ip",
        target.ip(spec),
        *add_hosts,
    ]
    if spec.group in ("app", "worker", "services", "gateway"):
        args += ["-v", f"{WHEELHOUSE}:{HOST_WHEELHOUSE}:ro"]
    for volume in spec.volumes:
        args += ["-v", f"{ensure_data_volume(target, volume)}:{volume.mount}"]
    if spec.name == "lb":
        args += [
            "-p",
            f"127.0.0.1:{target.https_port}:443",
            "-p",
            f"127.0.0.1:{target.http_port}:80",
        ]
    podman.run([*args, podman.IMAGE])
    wait_for_systemd(name)
    authorize(target, spec)


def ensure_data_volume(target: LocalTarget, volume: DataVolume) -> str:
    """The Podman volume for ``volume``, created on first use as a loop-mounted ext4 image in the
    target's state folder; a volume kept from an earlier `up` is used as it is."""
    name = target.volume(volume)
    if podman.exists("volume", name):
        return name
    image = target.state_dir / "volumes" / f"{volume.suffix}.ext4"
    if not image.is_file():  # kept when only the Podman volume was removed: its data too
        image.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = image.with_suffix(".partial")
        with partial.open("wb") as sparse:
            sparse.truncate(volume.size_gib * 1024**3)
        # No blocks reserved for root: "full" means full for every service on the volume.
        # Podman copies the image's content at the mount point (PostgreSQL's cluster, say) into
        # a volume only while it is empty: without lost+found, a new file system is.
        for command in (
            ["mkfs.ext4", "-q", "-F", "-m", "0", "-L", volume.suffix[:16], str(partial)],
            ["debugfs", "-w", "-R", "rmdir lost+found", str(partial)],
        ):
            made = subprocess.run(command, capture_output=True, text=True, check=False)
            if made.returncode != 0:
                partial.unlink()
                reason = (made.stderr.strip().splitlines() or [f"exit {made.returncode}"])[-1]
                raise TargetError(f"{command[0]} for the {volume.suffix} volume failed: {reason}")
        partial.rename(image)
    podman.run(
        [
            "volume",
            "create",
            "--label",
            f"tierstack.target={target.name}",
            "--opt",
            "type=ext4",
            "--opt",
            f"device={image}",
            "--opt",
            "o=loop",
            name,
        ]
    )
    return name


def stopped_hosts(target: LocalTarget) -> list[str]:
    """The hosts of HOSTS that are not running (missing or stopped), in HOSTS order."""
    return [spec.name for spec in HOSTS if not podman.running(target.container(spec.name))]


def wait_for_systemd(name: str, timeout: float = 30.0) -> None:
    """Waits until systemd in the host has finished booting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = podman.run(["exec", name, "systemctl", "is-system-running"], check=False)
        if state.stdout.strip() in ("running", "degraded"):
            return
        time.sleep(0.3)
    raise TargetError(
        f"host {name} did not finish booting in {timeout:.0f}s: see `podman logs {name}`"
    )


def remove_hosts(
    target: LocalTarget, *, purge: bool = False, on_host: Callable[[str], None] | None = None
) -> None:
    """Removes the hosts (every container labelled with this target, extra hosts too) and
    the network; the data volumes and secrets only with purge. `on_host` hears of each
    container removed."""
    labelled = podman.run(
        [
            "ps",
            "--all",
            "--filter",
            f"label=tierstack.target={target.name}",
            "--format",
            "{{.Names}}",
        ],
        check=False,
    ).stdout.split()
    for name in dict.fromkeys([*(target.container(spec.name) for spec in HOSTS), *labelled]):
        podman.run(["rm", "-f", "-t", "5", name], check=False)
        if on_host:
            on_host(name)
    podman.run(["network", "rm", "-f", target.network], check=False)
    if purge:
        for spec in HOSTS:
            for volume in spec.volumes:
                podman.run(["volume", "rm", "-f", target.volume(volume)], check=False)
        # Keep the logs: they explain a failed run after its hosts are gone.
        for path in target.state_dir.glob("*"):
            if path.is_dir():
                shutil.rmtree(path)
            elif path.suffix != ".log":
                path.unlink()
