"""A second `up` of the local target: its hosts are found again, not duplicated, and a second
converge changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tierstack.local import podman
from tierstack.local.target import HOSTS

pytestmark = [pytest.mark.hosts, pytest.mark.reconverges]


def test_second_converge_reports_no_change(target: Any) -> None:
    recap = target.converge(log_name="idempotence.log")
    assert set(recap) == {spec.name for spec in HOSTS}
    changed = {host: counts["changed"] for host, counts in recap.items() if counts["changed"]}
    assert changed == {}, f"changed tasks: {changed} (see {target.state_dir}/idempotence.log)"
    assert all(counts["failed"] == 0 for counts in recap.values())


def test_creating_the_hosts_again_duplicates_nothing(target: Any) -> None:
    """What a second `tierstack up local` does before it converges: every host, network and
    volume is found again, not made twice, and each host's keys are pinned once."""

    def inventory_of_podman() -> dict[str, list[str]]:
        label = f"label=tierstack.target={target.name}"
        return {
            kind: sorted(podman.run([*command, "--filter", label, "--format", fmt]).stdout.split())
            for kind, command, fmt in (
                ("containers", ["ps", "--all"], "{{.ID}}:{{.Names}}"),
                ("networks", ["network", "ls"], "{{.Name}}"),
            )
        } | {
            "volumes": sorted(
                line
                for line in podman.run(["volume", "ls", "--format", "{{.Name}}"]).stdout.split()
                if line.startswith(f"{target.name}-")
            )
        }

    before = inventory_of_podman()
    target.create_hosts()
    assert inventory_of_podman() == before
    assert len(before["containers"]) == len(HOSTS)
    assert len(before["networks"]) == 1
    pinned = (target.state_dir / "known_hosts").read_text().splitlines()
    for spec in HOSTS:
        entries = [line for line in pinned if line.startswith(f"{target.ip(spec.name)} ")]
        kinds = [line.split()[1] for line in entries]
        assert entries and len(kinds) == len(set(kinds)), spec.name
        keys = podman.exec_(target.container(spec.name), ["cat", "/root/.ssh/authorized_keys"])
        assert keys.stdout.splitlines() == [target.ssh_key.with_suffix(".pub").read_text().strip()]
