"""The apps the local target deploys: which package, which port, which backing services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class AppSpec:
    """A reference app as the local target deploys it (ports match playbooks/vars)."""

    name: str
    package: str
    port: int
    backends: tuple[str, ...]  # which services it uses: s3, queue, kv, db

    @property
    def db_name(self) -> str:
        return self.package


APPS: dict[str, AppSpec] = {
    "image-processing": AppSpec(
        "image-processing", "image_processing", 8001, ("s3", "queue", "kv")
    ),
    "cloud-drive": AppSpec("cloud-drive", "cloud_drive", 8002, ("s3", "db")),
}


def available_apps() -> list[str]:
    """The apps whose WSGI module exists in this checkout, in a stable order."""
    return [
        name
        for name, spec in APPS.items()
        if (REPO / "reference_apps" / spec.package / "wsgi.py").is_file()
    ]
