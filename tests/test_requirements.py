"""The apps' requirements file is the lock's export: hosts install exactly what tests ran."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("group", "path"),
    [("apps", "reference_apps/requirements.txt"), ("boot", "playbooks/requirements-ansible.txt")],
)
def test_host_requirements_match_the_lock(group: str, path: str) -> None:
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH (make setup installs it)"
    exported = subprocess.run(
        [uv, "export", "--frozen", "--only-group", group, "--no-emit-project", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committed = (ROOT / path).read_text()
    assert _pins(committed) == _pins(exported), "run `make requirements`"


def test_the_boot_requirements_pin_every_package_with_a_hash() -> None:
    """pip --require-hashes refuses a file where one package lacks a hash or an exact pin."""
    text = (ROOT / "playbooks" / "requirements-ansible.txt").read_text()
    entries = [e for e in text.replace("\\\n", " ").splitlines() if e and e[0].isalpha()]
    assert any(e.startswith("ansible-core==") for e in entries)
    for entry in entries:
        assert "==" in entry.split()[0] and "--hash=sha256:" in entry, entry


def _pins(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
