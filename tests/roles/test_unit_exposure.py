"""The app and worker unit templates, rendered by Ansible as the roles render them, rate an
exposure of at most 2.0 in `systemd-analyze security` (offline: no systemd needs to run here;
tests/roles/test_hardening.py checks the units loaded on the hosts)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tierstack.local.target import REPO

PLAYBOOK = {
    "hosts": "localhost",
    "gather_facts": False,
    "vars": {
        "item": {"name": "demo", "module": "demo.wsgi:app", "port": 8001},
        "python_app_root": "/opt/tierstack",
        "worker_install_root": "/opt/tierstack",
    },
    "vars_files": [
        str(REPO / "roles/python_app/defaults/main.yml"),
        str(REPO / "roles/worker/defaults/main.yml"),
    ],
    "tasks": [
        {
            "name": f"Render {name}",
            "ansible.builtin.template": {"src": str(REPO / src), "dest": "{{ out }}/" + name},
        }
        for name, src in [
            ("demo-app.service", "roles/python_app/templates/app.service.j2"),
            ("demo-worker.service", "roles/worker/templates/worker.service.j2"),
        ]
    ]
    + [
        {
            "name": "Render a consumer that starts a JVM",
            "ansible.builtin.template": {
                "src": str(REPO / "roles/worker/templates/worker.service.j2"),
                "dest": "{{ out }}/demo-jvm-worker.service",
            },
            "vars": {
                "item": {"name": "demo", "module": "demo.wsgi:app", "port": 8001, "jvm": True}
            },
        }
    ],
}


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("units")
    playbook = out / "render.yml"
    playbook.write_text(yaml.safe_dump([PLAYBOOK]))
    subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"out={out}",
            str(playbook),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return out


@pytest.mark.parametrize("unit", ["demo-app.service", "demo-worker.service"])
def test_rendered_unit_exposure_is_at_most_2(units: Path, unit: str) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: install Debian's systemd package")
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(units / unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 2.0, result.stdout


@pytest.mark.parametrize("unit", ["demo-app.service", "demo-worker.service"])
def test_rendered_unit_filters_system_calls_and_sockets(units: Path, unit: str) -> None:
    text = (units / unit).read_text()
    for line in [
        "SystemCallFilter=@system-service",
        "SystemCallFilter=~@privileged @resources",
        "SystemCallArchitectures=native",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "MemoryDenyWriteExecute=yes",
        "CapabilityBoundingSet=",
        "ProtectKernelLogs=yes",
    ]:
        assert line in text.splitlines(), line


def test_only_a_jvm_consumer_may_map_writable_executable_memory(units: Path) -> None:
    """mapreduce's job runner on a spark:// cluster starts a JVM (the Spark driver), whose JIT
    needs W+X memory; the rest of its sandbox is the other consumers'."""
    plain = (units / "demo-worker.service").read_text().splitlines()
    jvm = (units / "demo-jvm-worker.service").read_text().splitlines()
    assert "MemoryDenyWriteExecute=no" in jvm and "MemoryDenyWriteExecute=yes" not in jvm
    assert [line for line in plain if not line.startswith(("MemoryDenyWriteExecute", "#"))] == [
        line for line in jvm if not line.startswith(("MemoryDenyWriteExecute", "#"))
    ]
