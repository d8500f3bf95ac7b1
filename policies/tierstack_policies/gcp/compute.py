"""GCP compute: Shielded VM and OS Login on instances and templates."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props
from ..values import UNKNOWN, falsy, truthy, value
from .types import HOSTS

family = Family("gcp", "compute")


@family.resource(
    "gcp-compute-shielded-vm",
    severity="high",
    level="mandatory",
    types=HOSTS,
    description="Instances and templates are Shielded VMs (secure boot, vTPM, integrity "
    "monitoring).",
    remediation="Set shielded_instance_config={'enable_secure_boot': True, 'enable_vtpm': True, "
    "'enable_integrity_monitoring': True} on a Shielded-VM image.",
)
def _check_shielded(props: Props, _config: Config, _type: str) -> Findings:
    shielded = value(props, "shieldedInstanceConfig")
    if shielded is UNKNOWN:
        return
    if not truthy(value(shielded, "enableSecureBoot")):
        yield "shieldedInstanceConfig.enableSecureBoot is not true"
    for flag in ("enableVtpm", "enableIntegrityMonitoring"):
        if falsy(value(shielded, flag)):
            yield f"shieldedInstanceConfig.{flag} is false"


@family.resource(
    "gcp-compute-os-login",
    severity="medium",
    level="mandatory",
    types=HOSTS,
    description="Instances and templates enable OS Login (IAM-controlled SSH).",
    remediation="Set metadata={'enable-oslogin': 'TRUE', ...}.",
)
def _check_os_login(props: Props, _config: Config, _type: str) -> Findings:
    enabled = value(props, "metadata", "enable-oslogin")
    if enabled is not UNKNOWN and str(enabled).upper() != "TRUE":
        yield "metadata enable-oslogin is not TRUE (SSH keys in metadata stay possible)"
