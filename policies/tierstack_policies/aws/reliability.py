"""AWS reliability: prod autoscaling groups and RDS instances span availability zones."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props
from ..shared import ENV_SCHEMA, flag_check, tag_env
from ..values import UNKNOWN, elements, number, value
from .types import ASG, RDS_INSTANCE

family = Family("aws", "reliability")


@family.resource(
    "aws-autoscaling-multi-az-prod",
    severity="high",
    level="mandatory",
    types=[ASG],
    description="Prod autoscaling groups run at least 2 instances across at least 2 zones.",
    remediation="Set min_size >= 2 and vpc_zone_identifiers to subnets in two or more AZs.",
    config=ENV_SCHEMA,
)
def _check_asg_multi_az(props: Props, config: Config, _type: str) -> Findings:
    if tag_env(props, config) != "prod":
        return
    minimum = number(value(props, "minSize"))
    if minimum is not None and minimum < 2:
        yield f"minSize {minimum:g} is below 2 in prod"
    subnets = elements(props, "vpcZoneIdentifiers")
    zones = elements(props, "availabilityZones")
    if subnets is UNKNOWN or zones is UNKNOWN:
        return
    if UNKNOWN in subnets or UNKNOWN in zones:
        return
    # the same subnet twice (a copy-paste) is still one zone
    if max(len(set(subnets)), len(set(zones))) < 2:
        yield "spans fewer than 2 subnets/availability zones in prod"


family.resource(
    "aws-rds-multi-az-prod",
    severity="high",
    level="mandatory",
    types=[RDS_INSTANCE],
    description="Prod RDS instances are Multi-AZ.",
    remediation="Set multi_az=True.",
    config=ENV_SCHEMA,
)(flag_check(["multiAz"], "multiAz is not true in prod", prod_only=True))
