"""AWS cost: allowed instance types and autoscaling caps per environment."""

from __future__ import annotations

from typing import Any

from ..crosscloud import allowed_sizes
from ..registry import Config, Family, Findings, Props
from ..shared import DEFAULT_CAPS, cap_exceeded, cap_schema, tag_env
from ..values import elements, value
from .types import ASG, EC2_INSTANCE, LAUNCH_TEMPLATE

family = Family("aws", "cost")
DEFAULT_SIZES = {
    "dev": ["t3.micro", "t3.small", "t3.medium", "t4g.micro", "t4g.small", "t4g.medium"],
    "prod": [
        "t3.medium",
        "t3.large",
        "m6i.large",
        "m6i.xlarge",
        "m7g.large",
        "m7g.xlarge",
        "c6i.large",
        "c6i.xlarge",
        "c7g.large",
        "c7g.xlarge",
    ],
}


def _instance_types(props: Props, type_: str) -> Any:
    """The template's type, or the types an autoscaling group's mixed instances policy puts
    in place of its template's."""
    if type_ != ASG:
        return value(props, "instanceType")
    overrides = elements(props, "mixedInstancesPolicy", "launchTemplate", "overrides")
    return (
        [value(item, "instanceType") for item in overrides] if isinstance(overrides, list) else []
    )


allowed_sizes(
    family,
    "aws-ec2-instance-type-allowed",
    (LAUNCH_TEMPLATE, EC2_INSTANCE, ASG),
    size_of=_instance_types,
    env_of=tag_env,
    defaults=DEFAULT_SIZES,
    description="EC2 instance types (also an autoscaling group's mixed-instances overrides) are "
    "on the allowed list for the environment.",
    remediation="Pick an instance type allowed for the env, or extend allowedSizes in policy "
    "config.",
)


@family.resource(
    "aws-autoscaling-max-size-capped",
    severity="medium",
    level="mandatory",
    types=[ASG],
    description="Autoscaling group maxSize stays within the environment's cap.",
    remediation="Lower max_size, or raise maxSizeCap in policy config after a cost review.",
    config=cap_schema(DEFAULT_CAPS),
)
def _check_asg_cap(props: Props, config: Config, _type: str) -> Findings:
    message = cap_exceeded(value(props, "maxSize"), tag_env(props, config), config)
    if message:
        yield message
