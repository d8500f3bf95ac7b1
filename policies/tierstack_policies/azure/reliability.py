"""Azure reliability: prod scale sets span zones; prod PostgreSQL is highly available."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props
from ..shared import ENV_SCHEMA, tag_env
from ..values import UNKNOWN, elements, number, value
from .types import POSTGRES, VMSS

family = Family("azure", "reliability")


@family.resource(
    "azure-compute-vmss-zones-prod",
    severity="high",
    level="mandatory",
    types=[VMSS],
    description="Prod scale sets run at least 2 instances across at least 2 zones.",
    remediation="Set zones=['1', '2', '3'] and sku.capacity >= 2 (and autoscale minimum >= 2).",
    config=ENV_SCHEMA,
)
def _check_vmss_zones(props: Props, config: Config, _type: str) -> Findings:
    if tag_env(props, config) != "prod":
        return
    zones = elements(props, "zones")
    if isinstance(zones, list) and UNKNOWN not in zones and len(set(zones)) < 2:
        yield "scale set spans fewer than 2 availability zones in prod"
    capacity = number(value(props, "sku", "capacity"))
    if capacity is not None and capacity < 2:
        yield f"sku.capacity {capacity:g} is below 2 in prod"


@family.resource(
    "azure-postgres-high-availability-prod",
    severity="high",
    level="mandatory",
    types=[POSTGRES],
    description="Prod PostgreSQL servers are zone-redundant (HA standby).",
    remediation="Set high_availability={'mode': 'ZoneRedundant'}.",
    config=ENV_SCHEMA,
)
def _check_pg_ha(props: Props, config: Config, _type: str) -> Findings:
    mode = value(props, "highAvailability", "mode")
    # SameZone keeps the standby in the primary's zone: a zone outage takes both
    if tag_env(props, config) == "prod" and mode not in ("ZoneRedundant", UNKNOWN):
        yield f"highAvailability.mode is {mode or 'Disabled'}, not ZoneRedundant, in prod"
