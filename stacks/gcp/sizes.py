"""The neutral size classes mapped to GCP machine types (all on the policy pack's allowed lists)."""

from stacks.blueprints.model import SizeClass

MACHINE_TYPES: dict[SizeClass, str] = {
    "small": "e2-small",
    "medium": "e2-standard-2",
    "large": "e2-standard-4",
}
"""App, worker and MQTT broker VMs."""

DB_TIERS: dict[SizeClass, str] = {
    "small": "db-custom-1-3840",
    "medium": "db-custom-2-7680",
    "large": "db-custom-4-15360",
}
"""Cloud SQL Enterprise edition tiers (vCPU-memory)."""

DATAPROC_MACHINE_TYPES: dict[str, str] = {"dev": "e2-standard-4", "prod": "n2-standard-4"}
"""Dataproc master and workers: Hadoop daemons need 4 vCPUs / 16 GB to run jobs comfortably."""

DATAPROC_IMAGE = "2.2-debian12"
BOOT_IMAGE = "debian-cloud/debian-12"
"""The bootstrap script expects Debian (apt, python3-venv, systemd)."""
