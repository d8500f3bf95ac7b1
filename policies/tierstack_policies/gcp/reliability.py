"""GCP reliability: prod instance groups are regional with 2+ instances; Cloud SQL is HA."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props, Resources, StackFindings
from ..shared import ENV_SCHEMA, linked_urns, of_type, stack_env
from ..values import UNKNOWN, elements, number, value
from .types import AUTOSCALERS, REGIONAL_MIG, SQL_INSTANCE, ZONAL_MIG, label_env

family = Family("gcp", "reliability")


@family.stack(
    "gcp-compute-mig-multi-zone-prod",
    severity="high",
    level="mandatory",
    description="Prod instance groups are regional and run at least 2 instances.",
    remediation="Use RegionInstanceGroupManager (several zones) with autoscaler min_replicas >= 2.",
    config=ENV_SCHEMA,
)
def _check_mig_zones(resources: Resources, config: Config) -> StackFindings:
    if stack_env(resources, config) != "prod":
        return
    minimum_by_target: dict[str, float] = {}
    for autoscaler in of_type(resources, *AUTOSCALERS):
        minimum = number(value(autoscaler.props, "autoscalingPolicy", "minReplicas"))
        for urn in linked_urns(autoscaler, "target"):
            minimum_by_target[urn] = minimum if minimum is not None else 1
    for mig in of_type(resources, ZONAL_MIG):
        yield f"instance group {mig.name} is zonal; use a regional MIG in prod", mig.urn
    for mig in of_type(resources, REGIONAL_MIG):
        size = minimum_by_target.get(mig.urn, number(value(mig.props, "targetSize")))
        if size is not None and size < 2:
            yield f"instance group {mig.name} runs fewer than 2 instances in prod", mig.urn
        zones = elements(mig.props, "distributionPolicyZones")
        if isinstance(zones, list) and len(zones) == 1:
            yield f"instance group {mig.name} is pinned to a single zone", mig.urn


@family.resource(
    "gcp-sql-high-availability-prod",
    severity="high",
    level="mandatory",
    types=[SQL_INSTANCE],
    description="Prod Cloud SQL instances are regional (HA with a standby in another zone).",
    remediation="Set settings.availability_type='REGIONAL'.",
    config=ENV_SCHEMA,
)
def _check_sql_ha(props: Props, config: Config, type_: str) -> Findings:
    availability = value(props, "settings", "availabilityType")
    if label_env(props, config, type_) == "prod" and availability not in ("REGIONAL", UNKNOWN):
        yield f"availabilityType is {availability or 'ZONAL'}, not REGIONAL, in prod"
