"""Azure compute: managed identity, SSH-key-only login and encryption at host on VMs and
scale sets."""

from __future__ import annotations

from typing import Any

from ..registry import Config, Family, Findings, Props
from ..values import UNKNOWN, truthy, value
from .types import VM, VMSS

family = Family("azure", "compute")


def _profile(props: Props, type_: str, name: str) -> Any:
    """A VM's `<name>`, or a scale set's `virtualMachineProfile.<name>`."""
    if type_ == VMSS:
        return value(props, "virtualMachineProfile", name)
    return value(props, name)


@family.resource(
    "azure-compute-managed-identity",
    severity="high",
    level="mandatory",
    types=(VMSS, VM),
    description="Scale sets and VMs use a managed identity (no secrets on hosts).",
    remediation="Set identity={'type': 'SystemAssigned'} (or UserAssigned).",
)
def _check_identity(props: Props, _config: Config, _type: str) -> Findings:
    kind = value(props, "identity", "type")
    if kind is not UNKNOWN and (not isinstance(kind, str) or "Assigned" not in kind):
        yield "no managed identity (identity.type SystemAssigned or UserAssigned)"


@family.resource(
    "azure-compute-no-password-auth",
    severity="critical",
    level="mandatory",
    types=(VMSS, VM),
    description="Linux hosts disable password login and set no admin password.",
    remediation="Set linux_configuration={'disable_password_authentication': True, "
    "'ssh': {...}} and remove admin_password.",
)
def _check_password_auth(props: Props, _config: Config, type_: str) -> Findings:
    profile = _profile(props, type_, "osProfile")
    if profile is UNKNOWN or profile is None:
        return
    if value(profile, "windowsConfiguration") is not None:
        yield "Windows hosts log in with passwords; app tiers run Linux with SSH keys"
        return
    disabled = value(profile, "linuxConfiguration", "disablePasswordAuthentication")
    if disabled is not UNKNOWN and not truthy(disabled):
        yield "linuxConfiguration.disablePasswordAuthentication is not true"
    if value(profile, "adminPassword") is not None:
        yield "an adminPassword is set"


@family.resource(
    "azure-compute-encryption-at-host",
    severity="medium",
    level="advisory",
    types=(VMSS, VM),
    description="Scale sets and VMs encrypt at host (temp disks and disk caches too).",
    remediation="Set security_profile={'encryption_at_host': True} (register the "
    "EncryptionAtHost feature once per subscription).",
)
def _check_encryption_at_host(props: Props, _config: Config, type_: str) -> Findings:
    security = _profile(props, type_, "securityProfile")
    if security is UNKNOWN:
        return
    if not truthy(value(security, "encryptionAtHost")):
        yield "encryptionAtHost is not true (temp disks and caches unencrypted)"
