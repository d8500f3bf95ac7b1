"""common: SSH key-only, root password locked, nftables with only the declared ports,
unattended-upgrades, time sync, sysctl and journald limits, on every host."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.hosts

HOSTS = ("lb", "app1", "app2", "worker", "services", "gateway")


@pytest.mark.parametrize("name", HOSTS)
def test_sshd_accepts_keys_only(hosts: dict[str, Any], name: str) -> None:
    effective = hosts[name].check_output("sshd -T")
    settings = dict(line.split(" ", 1) for line in effective.splitlines() if " " in line)
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["permitrootlogin"] == "without-password"
    assert settings["x11forwarding"] == "no"
    assert settings["maxauthtries"] == "3"
    assert hosts[name].service("ssh").is_running
    assert hosts[name].service("ssh").is_enabled


def test_every_host_has_its_own_ssh_host_key(hosts: dict[str, Any]) -> None:
    keys = {
        name: hosts[name].file("/etc/ssh/ssh_host_ed25519_key.pub").content_string.split()[1]
        for name in HOSTS
    }
    assert len(set(keys.values())) == len(HOSTS), keys


@pytest.mark.parametrize("name", HOSTS)
def test_root_password_is_locked(hosts: dict[str, Any], name: str) -> None:
    assert hosts[name].check_output("passwd -S root").split()[1] == "L"


@pytest.mark.parametrize("name", HOSTS)
def test_firewall_admits_only_the_declared_ports(
    hosts: dict[str, Any], inventory: dict[str, Any], name: str
) -> None:
    host = hosts[name]
    assert host.service("nftables").is_enabled
    ruleset = host.check_output("nft list chain inet filter input")
    assert "policy drop;" in ruleset
    admitted = {int(port) for port in re.findall(r"tcp dport (\d+) accept", ruleset)}
    declared = {rule["port"] for rule in inventory[name]["tierstack_firewall_allow"]}
    assert admitted == declared


def test_firewall_drops_an_undeclared_port(hosts: dict[str, Any], target: Any) -> None:
    """A listener on an undeclared port answers on the host itself but not across the network."""
    app1, lb = hosts["app1"], hosts["lb"]
    app1.check_output(
        "systemd-run --unit fw-probe --collect -p RuntimeMaxSec=60 "
        "python3 -m http.server 9999 --bind 0.0.0.0"
    )
    try:
        local = app1.run(
            "timeout 10 sh -c 'until curl -sf http://127.0.0.1:9999/ >/dev/null;"
            " do sleep 0.2; done'"
        )
        assert local.rc == 0
        remote = lb.run(f"curl -s -o /dev/null --max-time 3 http://{target.ip('app1')}:9999/")
        assert remote.rc == 28, "the undeclared port answered across the network"
    finally:
        app1.run("systemctl stop fw-probe")


@pytest.mark.parametrize("name", HOSTS)
def test_unattended_upgrades_are_on(hosts: dict[str, Any], name: str) -> None:
    host = hosts[name]
    assert host.package("unattended-upgrades").is_installed
    periodic = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    assert host.service("apt-daily-upgrade.timer").is_enabled


@pytest.mark.parametrize("name", HOSTS)
def test_time_sync_is_enabled(hosts: dict[str, Any], name: str) -> None:
    host = hosts[name]
    assert host.service("systemd-timesyncd").is_enabled
    config = host.check_output("systemd-analyze cat-config systemd/timesyncd.conf")
    assert "NTP=0.debian.pool.ntp.org 1.debian.pool.ntp.org" in config


@pytest.mark.parametrize("name", HOSTS)
def test_sysctl_hardening_is_written(hosts: dict[str, Any], name: str) -> None:
    """A container cannot set kernel parameters (/proc/sys is read-only): the file is what a VM
    applies at boot through systemd-sysctl."""
    config = hosts[name].file("/etc/sysctl.d/99-tierstack-hardening.conf")
    assert config.mode == 0o644
    assert "net.ipv4.tcp_syncookies = 1" in config.content_string
    assert "net.ipv4.conf.all.accept_redirects = 0" in config.content_string
    assert "kernel.kptr_restrict = 2" in config.content_string


@pytest.mark.parametrize("name", HOSTS)
def test_journald_is_limited(hosts: dict[str, Any], name: str) -> None:
    host = hosts[name]
    config = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=200M" in config
    assert "MaxRetentionSec=1month" in config
    assert host.service("systemd-journald").is_running
