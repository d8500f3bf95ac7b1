"""Lynis hardening index of an app host on a real kernel: a Debian 12 KVM guest converged with
the app host's roles and variables, then audited with `lynis audit system --quick`.

A Podman host cannot show what the role does to the kernel (sysctls, auditd, the clock): this
measures it on a VM. The guest disk is built with mmdebstrap (systemd, openssh-server, python3,
Debian's cloud kernel) and cached under .cache/lynis-vm/ keyed by its recipe; each run boots a
throw-away overlay of it with qemu -enable-kvm (-kernel/-initrd taken from the image, 2 GiB,
1 vCPU, user-mode networking with SSH forwarded to 127.0.0.1 only), converges it, installs lynis
in the guest, audits, powers the guest off and deletes the overlay, also on failure.

What is converged: the `common` role with app1's variables as `tierstack up local` writes them
(playbooks/local.yml's first task), the private network being the guest's own (10.0.2.0/24, so
the firewall admits SSH from qemu's gateway as it admits it from the target's subnet).

Needs root, /dev/kvm and Debian's mirror. `make bench-lynis`; bench/run.sh runs it when
/dev/kvm exists. Target: hardening index >= 85, nothing skipped or whitelisted.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tierstack.local.catalog import REPO
from tierstack.local.converge import ansible_env
from tierstack.local.hosts import new_ssh_key
from tierstack.local.target import LocalTarget, available_apps
from tierstack.local.testing import free_port

CACHE = REPO / ".cache" / "lynis-vm"
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
# The local target's host image (scripts/setup.d/30-hosts.sh), so that the VM and the Podman
# app host differ by the kernel only, plus what a VM boots with.
PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "openssh-server",
    "sudo",
    "iproute2",
    "ca-certificates",
    "procps",
    "python3-apt",
    "python3-venv",
    "python3-pip",
    "python3-packaging",
    "python3-psycopg2",
    "nftables",
    "unattended-upgrades",
    "systemd-timesyncd",
    "openssl",
    "curl",
    "haproxy",
    "postgresql",
    "mosquitto",
    "python3-aiosmtpd",
    "netcat-openbsd",
    "less",
    # the VM's own: a kernel and its initramfs
    "linux-image-cloud-amd64",
    "initramfs-tools",
]
DISABLED_UNITS = ["haproxy.service", "postgresql.service", "mosquitto.service", "nftables.service"]
DISK_SIZE = "6G"
HOSTNAME = "app1"
GUEST_NET = "10.0.2.0/24"  # qemu's user-mode network: the guest is 10.0.2.15, DNS 10.0.2.3
RECIPE_VERSION = "v1"
# The machine's CPU without the ARCH_CAPABILITIES MSR: nested KVM (a cloud VM running this) may
# refuse to set it, and qemu aborts at start.
KVM_CPU = "host,-arch-capabilities"
HOST_PACKAGES = ["qemu-system-x86", "qemu-utils", "e2fsprogs", "openssh-client"]

NETWORK_UNIT = "[Match]\nName=en*\n\n[Network]\nDHCP=yes\n"
FSTAB = "LABEL=root / ext4 defaults,errors=remount-ro 0 1\n"


def log(message: str) -> None:
    print(message, flush=True)


def niced(command: list[str]) -> list[str]:
    """The machine is shared: image builds and the guest run at the lowest CPU priority."""
    return ["nice", "-n", "19", *command]


def ensure_host_packages() -> None:
    """qemu and the filesystem tools on the machine, installed with apt only when missing."""
    missing = [
        package
        for package in HOST_PACKAGES
        if subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
        ).stdout
        != "install ok installed"
    ]
    if missing:
        log(f"installing {' '.join(missing)} with apt")
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(
            niced(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]),
            check=True,
            env=env,
        )


def recipe_id() -> str:
    """What the cached disk is built from; any change builds a new one."""
    recipe = [RECIPE_VERSION, MIRROR, SECURITY, DISK_SIZE, HOSTNAME, NETWORK_UNIT, FSTAB]
    recipe += PACKAGES + DISABLED_UNITS
    return hashlib.sha256("|".join(recipe).encode()).hexdigest()[:16]


def build_image() -> Path:
    """The cached guest: disk.raw (ext4, no partition table), vmlinuz, initrd.img, the root
    login key (id_ed25519) and the guest's SSH host key for known_hosts. Built once per recipe."""
    image = CACHE / recipe_id()
    if (image / "disk.raw").is_file():
        return image
    for old in CACHE.glob("*"):  # superseded recipes
        if old.is_dir() and not old.name.startswith(("run-", "last-run")):
            shutil.rmtree(old)
    build = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
    try:
        rootfs = build / "rootfs"
        new_ssh_key(build / "id_ed25519", "lynis-vm")
        public_key = (build / "id_ed25519.pub").read_text()
        hooks = [
            f'chroot "$1" systemctl disable {" ".join(DISABLED_UNITS)} || true',
            'chroot "$1" systemctl enable systemd-networkd',
            f"printf '{NETWORK_UNIT}' > \"$1\"/etc/systemd/network/20-dhcp.network",
            "printf 'nameserver 10.0.2.3\\n' > \"$1\"/etc/resolv.conf",
            f"printf '{FSTAB}' > \"$1\"/etc/fstab",
            f'echo {HOSTNAME} > "$1"/etc/hostname',
            f"printf '127.0.0.1 localhost\\n127.0.1.1 {HOSTNAME}\\n' > \"$1\"/etc/hosts",
            'install -d -m 0700 "$1"/root/.ssh',
            f"printf '%s' '{public_key.strip()}' > \"$1\"/root/.ssh/authorized_keys",
            'chmod 0600 "$1"/root/.ssh/authorized_keys',
        ]
        # unshare mode: the chroot's mounts (/proc, /dev) live and die in the build's own
        # namespace, none is left on the machine; the tarball keeps real owners and modes.
        tarball = build / "rootfs.tar"
        command = ["mmdebstrap", "--quiet", "--variant=minbase", "--mode=unshare"]
        command += ["--include=" + ",".join(PACKAGES)]
        command += [f"--customize-hook={hook}" for hook in hooks]
        command += ["bookworm", str(tarball)]
        command += [
            f"deb {MIRROR} bookworm main",
            f"deb {MIRROR} bookworm-updates main",
            f"deb {SECURITY} bookworm-security main",
        ]
        log("building the guest disk with mmdebstrap (a few minutes)")
        subprocess.run(niced(command), check=True)
        rootfs.mkdir()
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-xpf", str(tarball), "-C", str(rootfs)],
            check=True,
        )
        tarball.unlink()
        kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
        if not kernels:
            raise SystemExit("mmdebstrap installed no kernel")
        version = kernels[-1].name.removeprefix("vmlinuz-")
        shutil.copy(kernels[-1], build / "vmlinuz")
        shutil.copy(rootfs / "boot" / f"initrd.img-{version}", build / "initrd.img")
        host_key = (rootfs / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
        (build / "host_key").write_text(" ".join(host_key[:2]) + "\n")
        subprocess.run(
            niced(
                [
                    "mkfs.ext4",
                    "-q",
                    "-F",
                    "-L",
                    "root",
                    "-d",
                    str(rootfs),
                    str(build / "disk.raw"),
                    DISK_SIZE,
                ]
            ),
            check=True,
        )
        shutil.rmtree(rootfs)
        build.rename(image)
    finally:
        if build.exists():
            shutil.rmtree(build)
    return image


def pvm_only() -> bool:
    """Whether this machine's /dev/kvm is PVM (kvm_pvm: KVM without hardware virtualisation,
    as nested cloud sandboxes offer it). PVM runs only kernels built as PVM guests; Debian's
    kernel hangs in its decompressor there, so such a machine emulates the guest instead."""
    return Path("/sys/module/kvm_pvm").is_dir()


def choose_accelerator(wanted: str) -> str:
    if wanted != "auto":
        return wanted
    if os.access("/dev/kvm", os.R_OK | os.W_OK) and not pvm_only():
        return "kvm"
    log("no hardware KVM for a stock kernel here (/dev/kvm missing or PVM): emulating (TCG)")
    return "tcg"


def accelerator(accel: str) -> list[str]:
    """qemu's accelerator and CPU: KVM with the machine's CPU, or TCG with every feature qemu
    emulates (NX, SMEP/SMAP... which lynis and the kernel look for)."""
    if accel == "kvm":
        return ["-enable-kvm", "-cpu", KVM_CPU]
    return ["-accel", "tcg", "-cpu", "max"]


class Guest:
    """One boot of the cached disk, on a qcow2 overlay deleted with the guest."""

    def __init__(self, image: Path, accel: str) -> None:
        self.image = image
        self.accel = accel
        self.run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=CACHE))
        self.port = free_port()
        self.known_hosts = self.run_dir / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {(image / 'host_key').read_text()}")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ssh_options(self) -> list[str]:
        return [
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "BatchMode=yes",
        ]

    def boot(self) -> None:
        overlay = self.run_dir / "overlay.qcow2"
        subprocess.run(
            [
                "qemu-img",
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                "raw",
                "-b",
                str(self.image / "disk.raw"),
                str(overlay),
            ],
            check=True,
        )
        command = ["qemu-system-x86_64", *accelerator(self.accel), "-m", "2048"]
        command += ["-smp", "1", "-nodefaults", "-display", "none", "-no-reboot"]
        command += ["-serial", f"file:{self.run_dir / 'console.log'}"]
        command += ["-kernel", str(self.image / "vmlinuz")]
        command += ["-initrd", str(self.image / "initrd.img")]
        command += ["-append", "root=/dev/vda rw console=ttyS0"]
        command += ["-drive", f"file={overlay},format=qcow2,if=virtio"]
        command += ["-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{self.port}-:22"]
        command += ["-device", "virtio-net-pci,netdev=net0"]
        command += ["-device", "virtio-rng-pci"]
        self.process = subprocess.Popen(niced(command), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + (300 if self.accel == "kvm" else 900)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"qemu exited with {self.process.returncode}: {self.console()}")
            if self.ssh("true", check=False, timeout=30).returncode == 0:
                return
            time.sleep(3)
        raise SystemExit(f"the guest did not answer SSH in time: {self.console()}")

    def console(self) -> str:
        path = self.run_dir / "console.log"
        return path.read_text(errors="replace")[-2000:] if path.is_file() else ""

    def ssh(
        self, script: str, *, check: bool = True, timeout: float = 1800
    ) -> subprocess.CompletedProcess[str]:
        command = ["ssh", *self.ssh_options, "-i", str(self.image / "id_ed25519")]
        command += ["-p", str(self.port), "root@127.0.0.1", script]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(command, 255, "", "timeout")
        if check and result.returncode != 0:
            raise SystemExit(f"guest command failed ({script}): {result.stderr[-2000:]}")
        return result

    def shutdown(self) -> None:
        """Powers the guest off (kills qemu if it does not stop) and deletes the overlay."""
        try:
            if self.process and self.process.poll() is None:
                self.ssh("systemctl poweroff", check=False, timeout=20)
                try:
                    self.process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            # The logs outlive the guest (.cache/lynis-vm/last-run): what converged, what failed.
            kept = CACHE / "last-run"
            shutil.rmtree(kept, ignore_errors=True)
            kept.mkdir()
            for path in [*self.run_dir.glob("*.log"), *self.run_dir.glob("*.dat")]:
                shutil.copy(path, kept / path.name)
            shutil.rmtree(self.run_dir, ignore_errors=True)


@contextlib.contextmanager
def booted(image: Path, accel: str) -> Iterator[Guest]:
    guest = Guest(image, accel)
    try:
        guest.boot()
        yield guest
    finally:
        guest.shutdown()


def app_host_inventory(guest: Guest) -> dict[str, Any]:
    """app1 of a local target whose private network is the guest's, reached through the
    forwarded port: the variables `tierstack up local` gives app1, connection aside."""
    target = LocalTarget(name="lynis-vm", subnet=GUEST_NET, apps=available_apps())
    full = target.inventory()["all"]
    app1 = full["children"]["tier_app"]["hosts"]["app1"]
    variables = dict(full["vars"])
    variables.update(
        ansible_user="root",
        ansible_port=guest.port,
        ansible_ssh_private_key_file=str(guest.image / "id_ed25519"),
        ansible_ssh_common_args=" ".join(guest.ssh_options),
    )
    return {
        "all": {
            "vars": variables,
            "children": {"tier_app": {"hosts": {"app1": {**app1, "ansible_host": "127.0.0.1"}}}},
        }
    }


def app_host_play() -> list[dict[str, Any]]:
    """playbooks/local.yml's baseline task (the common role with the host's firewall), read
    from the playbook itself so that the VM converges what an app host converges."""
    local = yaml.safe_load((REPO / "playbooks" / "local.yml").read_text())[0]
    task = next(t for t in local["tasks"] if t["ansible.builtin.include_role"]["name"] == "common")
    return [{"name": "An app host's baseline", "hosts": "app1", "become": True, "tasks": [task]}]


def converge(guest: Guest) -> float:
    """Runs the play twice: the second run must change nothing (the role is idempotent)."""
    inventory = guest.run_dir / "inventory.yml"
    inventory.write_text(yaml.safe_dump(app_host_inventory(guest), sort_keys=False))
    inventory.chmod(0o600)
    playbook = guest.run_dir / "app-host.yml"
    playbook.write_text(yaml.safe_dump(app_host_play(), sort_keys=False))
    bin_dir = Path(sys.executable).parent
    env = ansible_env(bin_dir) | {
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
    }
    started = time.monotonic()
    elapsed = 0.0
    for attempt in ("converge", "idempotence"):
        result = subprocess.run(
            niced([str(bin_dir / "ansible-playbook"), "-i", str(inventory), str(playbook)]),
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        (guest.run_dir / f"{attempt}.log").write_text(result.stdout + result.stderr)
        recap = re.search(r"^app1\s+:\s+(.*)$", result.stdout, re.M)
        log(f"{attempt}: {recap.group(1).strip() if recap else 'no recap'}")
        if result.returncode != 0:
            raise SystemExit(f"{attempt} failed:\n{result.stdout[-4000:]}")
        if attempt == "converge":
            elapsed = time.monotonic() - started
        elif recap and not re.search(r"changed=0\b", recap.group(1)):
            log("warning: the second run changed something")
    return elapsed


def audit(guest: Guest) -> tuple[int, list[str], list[str]]:
    """Installs lynis in the guest (the role ships no auditor) and runs the quick audit."""
    guest.ssh("DEBIAN_FRONTEND=noninteractive apt-get install -y -q lynis >/dev/null")
    guest.ssh("lynis audit system --quick --no-colors --cronjob >/dev/null", check=False)
    report = guest.ssh("cat /var/log/lynis-report.dat").stdout
    (guest.run_dir / "lynis-report.dat").write_text(report)
    (guest.run_dir / "lynis.log").write_text(guest.ssh("cat /var/log/lynis.log").stdout)
    found = re.search(r"^hardening_index=(\d+)$", report, re.M)
    if not found:
        raise SystemExit("lynis wrote no hardening index")
    suggestions = re.findall(r"^suggestion\[\]=(.*)$", report, re.M)
    warnings = re.findall(r"^warning\[\]=(.*)$", report, re.M)
    return int(found.group(1)), suggestions, warnings


def measure(accel: str = "auto") -> dict[str, Any]:
    accel = choose_accelerator(accel)
    CACHE.mkdir(parents=True, exist_ok=True)
    ensure_host_packages()
    started = time.monotonic()
    image = build_image()
    log(f"guest disk {image.name}: ready in {time.monotonic() - started:.0f} s")
    with booted(image, accel) as guest:
        kernel = guest.ssh("uname -r").stdout.strip()
        log(f"guest booted (kernel {kernel}), SSH on 127.0.0.1:{guest.port}")
        log(f"converged in {converge(guest):.0f} s")
        index, suggestions, warnings = audit(guest)
    return {
        "index": index,
        "suggestions": suggestions,
        "warnings": warnings,
        "kernel": kernel,
        "accel": accel,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--accel",
        choices=["auto", "kvm", "tcg"],
        default="auto",
        help="auto: KVM where it runs a stock kernel, else TCG emulation (same guest, slower)",
    )
    result = measure(parser.parse_args().accel)
    log(
        f"lynis hardening index (VM, {result['accel']}, kernel {result['kernel']}, app1's common"
        f" role): {result['index']}  (target >= 85)"
    )
    for line in result["warnings"]:
        log(f"  warning    {line}")
    for line in result["suggestions"]:
        log(f"  suggestion {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
