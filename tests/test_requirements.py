"""The apps' requirements file is the lock's export: hosts install exactly what tests ran."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_apps_requirements_match_the_lock() -> None:
    uv = shutil.which("uv")
    assert uv, "uv is not on PATH (make setup installs it)"
    exported = subprocess.run(
        [uv, "export", "--frozen", "--only-group", "apps", "--no-emit-project", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committed = (ROOT / "reference_apps" / "requirements.txt").read_text()
    assert _pins(committed) == _pins(exported), "run `make requirements`"


def _pins(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if not line.lstrip().startswith("#")]
