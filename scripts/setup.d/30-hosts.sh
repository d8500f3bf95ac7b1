#!/usr/bin/env bash
# Test hosts for the local target: Podman (runc), mmdebstrap, and the Debian 12 systemd base image.
# The image is built once and cached; it is rebuilt when missing or when its recipe below changes.
# Idempotent: a second run costs a few dpkg and podman queries.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh

IMAGE="localhost/tierstack-host:bookworm"
MIRROR="http://deb.debian.org/debian"
SECURITY="http://deb.debian.org/debian-security"
# Pre-baked like a golden image: the roles still declare every package they need (a no-op here,
# an install in the cloud). Services whose packages are baked in are disabled in the image so that
# each host runs only what its roles enable; SSH host keys are removed so that every host gets
# its own (the common role generates missing keys).
PACKAGES="systemd,systemd-sysv,dbus,python3,openssh-server,sudo,iproute2,ca-certificates,procps"
PACKAGES+=",python3-apt,python3-venv,python3-pip,python3-packaging,python3-psycopg2,nftables"
PACKAGES+=",unattended-upgrades,systemd-timesyncd,openssl,curl,haproxy,postgresql,mosquitto"
PACKAGES+=",python3-aiosmtpd,netcat-openbsd,less"
DISABLED_UNITS="haproxy.service postgresql.service mosquitto.service nftables.service"
RECIPE_ID="$(printf '%s|%s|%s' "$PACKAGES" "$DISABLED_UNITS" "v1" | sha256sum | cut -c1-16)"

apt_install podman runc mmdebstrap netavark aardvark-dns iptables slirp4netns uidmap fuse-overlayfs \
    openssh-client

# Each systemd host takes several inotify instances; the kernel's default of 128 per user stops
# the 31st-odd container at start (exit 255, no log): the boot test runs about 36 at once.
inotify_wanted=1024
if [ "$(sysctl -n fs.inotify.max_user_instances)" -lt "$inotify_wanted" ]; then
    sysctl -q -w fs.inotify.max_user_instances="$inotify_wanted"
fi
echo "fs.inotify.max_user_instances = $inotify_wanted" > /etc/sysctl.d/60-tierstack-hosts.conf

# crun rejects this machine's hybrid cgroups and no runtime may raise the nofile limit above the
# caller's hard limit: pin runc and the container ulimits to what the machine allows.
hard_nofile="$(ulimit -Hn)"
[ "$hard_nofile" = "unlimited" ] && hard_nofile=1048576
conf="/etc/containers/containers.conf"
want="$(cat <<CONF
# Written by tierstack scripts/setup.d/30-hosts.sh
[containers]
default_ulimits = ["nofile=${hard_nofile}:${hard_nofile}", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
)"
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
    mkdir -p /etc/containers
    printf '%s\n' "$want" > "$conf"
fi

current="$(podman image inspect --format '{{ index .Labels "tierstack.recipe" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$current" != "$RECIPE_ID" ]; then
    echo "tierstack setup: building the host image $IMAGE (about a minute)"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
        --customize-hook="chroot \"\$1\" systemctl disable $DISABLED_UNITS || true" \
        --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
        bookworm "$work/rootfs.tar" \
        "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
        "deb $SECURITY bookworm-security main" \
        || die "mmdebstrap failed: is the Debian mirror reachable?"
    podman import --quiet \
        --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
        --change "LABEL tierstack.recipe=$RECIPE_ID" \
        "$work/rootfs.tar" "$IMAGE" >/dev/null || die "podman import of the host image failed"
    podman image prune --force >/dev/null 2>&1 || true
fi

# The cloud VM image: the host image plus what a Debian cloud image brings to the boot path
# (cloud-init, locales), for the tests that boot a stack's user data the way the cloud does.
# Package lists are dropped so that the boot script's own apt-get update runs as on a new VM.
VM_IMAGE="localhost/tierstack-vm:bookworm"
VM_RECIPE_ID="$(printf '%s|%s' "$RECIPE_ID" "cloud-init,locales|v1" | sha256sum | cut -c1-16)"
current_vm="$(podman image inspect --format '{{ index .Labels "tierstack.recipe" }}' "$VM_IMAGE" 2>/dev/null || true)"
if [ "$current_vm" != "$VM_RECIPE_ID" ]; then
    echo "tierstack setup: building the cloud VM image $VM_IMAGE (about a minute)"
    builder="tierstack-vm-build-$$"
    podman rm -f "$builder" >/dev/null 2>&1 || true
    podman run -d --name "$builder" --systemd=always --cap-add SYS_ADMIN "$IMAGE" >/dev/null
    podman exec "$builder" bash -c '
        set -e
        for _ in $(seq 1 60); do
            case "$(systemctl is-system-running 2>/dev/null)" in running|degraded) break;; esac
            sleep 0.5
        done
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends cloud-init locales >/dev/null
        sed -i "s/^# *en_US.UTF-8/en_US.UTF-8/" /etc/locale.gen && locale-gen >/dev/null
        cloud-init clean --logs --seed
        rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /etc/ssh/ssh_host_*
        truncate -s0 /etc/machine-id' \
        || { podman rm -f "$builder" >/dev/null; die "installing cloud-init in the VM image failed"; }
    podman stop -t 5 "$builder" >/dev/null
    podman commit --quiet --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
        --change "LABEL tierstack.recipe=$VM_RECIPE_ID" "$builder" "$VM_IMAGE" >/dev/null \
        || die "podman commit of the VM image failed"
    podman rm -f "$builder" >/dev/null
fi
