"""GCP cost: allowed machine types and autoscaler caps per environment."""

from __future__ import annotations

from typing import Any

from ..crosscloud import allowed_sizes
from ..registry import Config, Family, Props, Resources, StackFindings
from ..shared import DEFAULT_CAPS, cap_exceeded, cap_schema, linked_urns, of_type, stack_env
from ..values import value
from .types import AUTOSCALERS, HOSTS, REGIONAL_MIG, ZONAL_MIG, label_env

family = Family("gcp", "cost")
DEFAULT_SIZES = {
    "dev": ["e2-micro", "e2-small", "e2-medium", "e2-standard-2"],
    "prod": [
        "e2-standard-2",
        "e2-standard-4",
        "n2-standard-2",
        "n2-standard-4",
        "t2d-standard-2",
        "t2d-standard-4",
        "c3-standard-4",
    ],
}


def _machine_type(props: Props, _type: str) -> Any:
    machine = value(props, "machineType")
    return machine.rsplit("/", 1)[-1] if isinstance(machine, str) else machine


allowed_sizes(
    family,
    "gcp-compute-machine-type-allowed",
    HOSTS,
    size_of=_machine_type,
    env_of=label_env,
    defaults=DEFAULT_SIZES,
    description="Machine types are on the allowed list for the environment.",
    remediation="Pick an allowed machine type for the env, or extend allowedSizes in policy "
    "config.",
)


@family.stack(
    "gcp-compute-autoscaler-max-capped",
    severity="medium",
    level="mandatory",
    description="Autoscaler maxReplicas (a fixed-size group's targetSize) stays within the "
    "environment's cap.",
    remediation="Lower autoscaling_policy.max_replicas (target_size), or raise maxSizeCap in "
    "policy config.",
    config=cap_schema(DEFAULT_CAPS),
)
def _check_autoscaler_cap(resources: Resources, config: Config) -> StackFindings:
    env = stack_env(resources, config)
    scaled: set[str] = set()
    for autoscaler in of_type(resources, *AUTOSCALERS):
        scaled |= linked_urns(autoscaler, "target")
        message = cap_exceeded(
            value(autoscaler.props, "autoscalingPolicy", "maxReplicas"), env, config
        )
        if message:
            yield f"autoscaler {autoscaler.name}: {message}", autoscaler.urn
    # a group with a fixed size and no autoscaler: its targetSize is its maximum
    for group in of_type(resources, REGIONAL_MIG, ZONAL_MIG):
        message = cap_exceeded(value(group.props, "targetSize"), env, config)
        if message and group.urn not in scaled:
            yield f"instance group {group.name} (no autoscaler): {message}", group.urn
