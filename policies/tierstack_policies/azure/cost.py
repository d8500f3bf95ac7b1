"""Azure cost: allowed VM sizes and autoscale caps per environment."""

from __future__ import annotations

from typing import Any

from ..crosscloud import allowed_sizes
from ..registry import Config, Family, Findings, Props
from ..shared import DEFAULT_CAPS, cap_exceeded, cap_schema, tag_env
from ..values import elements, value
from .types import AUTOSCALE, VM, VMSS

family = Family("azure", "cost")
DEFAULT_SIZES = {
    "dev": ["Standard_B1s", "Standard_B1ms", "Standard_B2s", "Standard_B2ms"],
    "prod": [
        "Standard_B2ms",
        "Standard_D2s_v5",
        "Standard_D4s_v5",
        "Standard_D2as_v5",
        "Standard_D4as_v5",
        "Standard_F2s_v2",
        "Standard_F4s_v2",
    ],
}


def _vm_size(props: Props, type_: str) -> Any:
    if type_ == VMSS:
        return value(props, "sku", "name")
    return value(props, "hardwareProfile", "vmSize")


allowed_sizes(
    family,
    "azure-compute-vm-size-allowed",
    (VMSS, VM),
    size_of=_vm_size,
    env_of=tag_env,
    defaults=DEFAULT_SIZES,
    description="VM and scale set sizes are on the allowed list for the environment.",
    remediation="Pick an allowed size for the env, or extend allowedSizes in policy config.",
)


@family.resource(
    "azure-monitor-autoscale-max-capped",
    severity="medium",
    level="mandatory",
    types=[AUTOSCALE, VMSS],
    description="Autoscale settings keep capacity.maximum, and scale sets their sku.capacity, "
    "within the environment's cap.",
    remediation="Lower the profile's capacity maximum (the scale set's sku capacity), or raise "
    "maxSizeCap in policy config.",
    config=cap_schema(DEFAULT_CAPS),
)
def _check_autoscale_cap(props: Props, config: Config, type_: str) -> Findings:
    if type_ == VMSS:
        # a scale set with no autoscale setting runs sku.capacity instances for good
        message = cap_exceeded(value(props, "sku", "capacity"), tag_env(props, config), config)
        if message:
            yield f"sku.capacity: {message}"
        return
    profiles = elements(props, "profiles")
    for profile in profiles if isinstance(profiles, list) else []:
        maximum = value(profile, "capacity", "maximum")
        message = cap_exceeded(maximum, tag_env(props, config), config)
        if message:
            yield f"profile {value(profile, 'name')}: {message}"
