"""Monthly cost estimate of a previewed stack, from the dated price table (prices.yaml).

Each custom resource is free (no charge of its own), usage-based (billed by use only), priced
(items x quantities looked up in the table), or unpriced: a type or size the table lacks is
listed, never counted as zero. Scaled tiers are priced at their minimum size (the autoscaling
floor): what the stack costs when idle. A figure that rests on a price line no published page
has confirmed (`unverified:` in the table) is counted and labelled as such wherever it is shown.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tierstack.records import ResourceRecord

PRICES = Path(__file__).with_name("prices.yaml")
_CLOUDS = {"aws": "aws", "gcp": "gcp", "azure-native": "azure"}
_REGION_KEYS = {
    "aws": ("aws:region",),
    "gcp": ("gcp:region",),
    "azure": ("azure-native:location", "azure:location"),
}


@dataclass(frozen=True)
class Need:
    """One billed item a resource needs: `quantity` units of (item, size)."""

    item: str
    size: str | None
    quantity: float
    what: str  # how the quantity was read, e.g. "2 x t3.small (minSize)"


@dataclass
class Line:
    urn: str
    type: str
    name: str
    monthly: float
    detail: str
    unverified: list[str] = field(default_factory=list)  # price lines no published page confirmed


@dataclass
class Unpriced:
    urn: str
    type: str
    name: str
    reason: str


@dataclass
class Estimate:
    stack: str
    cloud: str | None
    region: str | None
    lines: list[Line] = field(default_factory=list)
    usage: list[Line] = field(default_factory=list)  # monthly 0: billed by use only
    unpriced: list[Unpriced] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(line.monthly for line in self.lines), 2)

    @property
    def unverified_total(self) -> float:
        """The part of the total that rests on unverified price lines."""
        return round(sum(line.monthly for line in self.lines if line.unverified), 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "cloud": self.cloud,
            "region": self.region,
            "monthlyUsd": self.total,
            "unverifiedUsd": self.unverified_total,
            "lines": [vars(line) for line in self.lines],
            "usageBased": [{"urn": u.urn, "type": u.type, "name": u.name} for u in self.usage],
            "unpriced": [vars(u) for u in self.unpriced],
        }


@dataclass(frozen=True)
class PriceTable:
    hours_per_month: float
    free: frozenset[str]
    usage: frozenset[str]
    prices: dict[tuple[str, str, str, str | None], dict[str, Any]]  # cloud, region, item, size

    def monthly(self, cloud: str, region: str, need: Need) -> float | None:
        entry = self.prices.get((cloud, region, need.item, need.size))
        if entry is None:
            return None
        factor = self.hours_per_month if entry["unit"] == "hour" else 1.0
        return float(entry["usd"]) * factor * need.quantity

    def verified(self, cloud: str, region: str, need: Need) -> bool:
        return "checked" in self.prices[(cloud, region, need.item, need.size)]

    def dates(self) -> list[datetime.date]:
        return sorted({_as_date(entry["date"]) for entry in self.prices.values()})


def _as_date(value: Any) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(str(value))


class PriceTableError(ValueError):
    """A line of the price table is incomplete; the message names it."""


def load_table(path: Path = PRICES) -> PriceTable:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    prices = {}
    for number, entry in enumerate(data["prices"], 1):
        missing = {"cloud", "region", "item", "unit", "usd", "source", "date"} - set(entry)
        if missing:
            raise PriceTableError(f"{path.name}: price line {number} lacks {sorted(missing)}")
        if entry["unit"] not in ("hour", "month", "gb-month"):
            raise PriceTableError(f"{path.name}: price line {number}: unknown unit")
        if ("checked" in entry) == ("unverified" in entry):
            raise PriceTableError(
                f"{path.name}: price line {number} needs either `checked: <page that states the "
                "figure>` or `unverified: <why none could be found>`"
            )
        _as_date(entry["date"])
        key = (entry["cloud"], entry["region"], entry["item"], entry.get("size"))
        if key in prices:
            raise PriceTableError(f"{path.name}: price line {number} repeats {key}")
        prices[key] = entry
    flatten = lambda groups: frozenset(t for types in (groups or {}).values() for t in types)  # noqa: E731
    return PriceTable(
        float(data["hours_per_month"]), flatten(data["free"]), flatten(data["usage"]), prices
    )


@functools.cache
def default_table() -> PriceTable:
    return load_table()


# --- what each priced resource type needs -------------------------------------------------

Index = dict[str, ResourceRecord]


def _linked(record: ResourceRecord, key: str, index: Index) -> ResourceRecord | None:
    for urn in record["propertyDependencies"].get(key, []):
        if urn in index:
            return index[urn]
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    return None


def _aws_group(record: ResourceRecord, index: Index) -> list[Need]:
    inputs = record["inputs"]
    count = _number(inputs.get("desiredCapacity")) or _number(inputs.get("minSize"))
    template = _linked(record, "launchTemplate", index)
    size = template["inputs"].get("instanceType") if template else None
    if count is None or not isinstance(size, str):
        return []
    return [Need("ec2", size, count, f"{count:g} x {size} (autoscaling minimum)")]


def _aws_rds(record: ResourceRecord, _index: Index) -> list[Need]:
    inputs = record["inputs"]
    size = inputs.get("instanceClass")
    copies = 2.0 if inputs.get("multiAz") is True else 1.0
    needs = [Need("rds-postgres", size, copies, f"{copies:g} x {size}")] if size else []
    storage = _number(inputs.get("allocatedStorage"))
    if storage and size:
        kind = inputs.get("storageType") or "gp3"
        needs.append(Need("rds-storage", kind, storage * copies, f"{storage * copies:g} GB {kind}"))
    return needs


def _aws_emr(record: ResourceRecord, _index: Index) -> list[Need]:
    needs = []
    for key in ("masterInstanceGroup", "coreInstanceGroup"):
        group = record["inputs"].get(key) or {}
        size, count = group.get("instanceType"), _number(group.get("instanceCount", 1))
        if isinstance(size, str) and count:
            needs.append(Need("ec2", size, count, f"{count:g} x {size} ({key})"))
            needs.append(Need("emr-fee", size, count, f"EMR fee, {count:g} x {size}"))
    return needs


def _gcp_group(record: ResourceRecord, index: Index) -> list[Need]:
    count = _number(record["inputs"].get("targetSize"))
    if count is None:
        for other in index.values():
            if record["urn"] in other["propertyDependencies"].get("target", []):
                policy = other["inputs"].get("autoscalingPolicy") or {}
                count = _number(policy.get("minReplicas"))
    template = _linked(record, "versions", index) or _linked(record, "instanceTemplate", index)
    size = template["inputs"].get("machineType") if template else None
    if count is None or not isinstance(size, str):
        return []
    return [Need("gce", size, count, f"{count:g} x {size} (autoscaling minimum)")]


def _vcpus(machine_type: str) -> float | None:
    match = re.search(r"-(\d+)$", machine_type)
    return float(match.group(1)) if match else None


def _gcp_dataproc(record: ResourceRecord, _index: Index) -> list[Need]:
    needs = []
    config = record["inputs"].get("clusterConfig") or {}
    for key in ("masterConfig", "workerConfig"):
        group = config.get(key) or {}
        size, count = group.get("machineType"), _number(group.get("numInstances", 1))
        if not (isinstance(size, str) and count):
            continue
        needs.append(Need("gce", size, count, f"{count:g} x {size} ({key})"))
        vcpus = _vcpus(size)
        if vcpus:
            needs.append(Need("dataproc-fee", "vcpu", vcpus * count, f"Dataproc fee, {key}"))
    return needs


def _gcp_sql(record: ResourceRecord, _index: Index) -> list[Need]:
    settings = record["inputs"].get("settings") or {}
    tier = settings.get("tier")
    match = re.fullmatch(r"db-custom-(\d+)-(\d+)", tier or "")
    if not match:
        return [Need("cloudsql", tier, 1, f"tier {tier}")]  # no such line: unpriced, named
    copies = 2.0 if settings.get("availabilityType") == "REGIONAL" else 1.0
    vcpus, memory = float(match.group(1)), float(match.group(2)) / 1024
    needs = [
        Need("cloudsql", "vcpu", vcpus * copies, f"{tier}: {vcpus * copies:g} vCPU"),
        Need("cloudsql", "memory-gb", memory * copies, f"{tier}: {memory * copies:g} GB"),
    ]
    disk = _number(settings.get("diskSize"))
    if disk:
        kind = settings.get("diskType") or "PD_SSD"
        needs.append(Need("cloudsql-storage", kind, disk * copies, f"{disk * copies:g} GB {kind}"))
    return needs


def _azure_vmss(record: ResourceRecord, _index: Index) -> list[Need]:
    sku = record["inputs"].get("sku") or {}
    count, size = _number(sku.get("capacity")), sku.get("name")
    if count is None or not isinstance(size, str):
        return []
    return [Need("vm", size, count, f"{count:g} x {size} (scale set capacity)")]


def _azure_postgres(record: ResourceRecord, _index: Index) -> list[Need]:
    inputs = record["inputs"]
    size = (inputs.get("sku") or {}).get("name")
    ha = (inputs.get("highAvailability") or {}).get("mode") not in (None, "Disabled")
    copies = 2.0 if ha else 1.0
    needs = [Need("postgres-flexible", size, copies, f"{copies:g} x {size}")] if size else []
    storage = _number((inputs.get("storage") or {}).get("storageSizeGB"))
    if storage:
        needs.append(Need("postgres-storage", None, storage * copies, f"{storage * copies:g} GB"))
    return needs


def _azure_app_gateway(record: ResourceRecord, _index: Index) -> list[Need]:
    inputs = record["inputs"]
    tier = (inputs.get("sku") or {}).get("tier")
    if tier not in ("Standard_v2", "WAF_v2"):
        return [Need("app-gateway", tier, 1, f"tier {tier}")]
    units = _number((inputs.get("autoscaleConfiguration") or {}).get("minCapacity")) or 0
    return [
        Need("app-gateway-v2", "fixed", 1, "gateway hours"),
        Need("app-gateway-v2", "capacity-unit", units, f"{units:g} capacity units (minimum)"),
    ]


def _azure_hdinsight(record: ResourceRecord, _index: Index) -> list[Need]:
    roles = ((record["inputs"].get("properties") or {}).get("computeProfile") or {}).get("roles")
    needs = []
    for role in roles or []:
        size = (role.get("hardwareProfile") or {}).get("vmSize")
        count = _number(role.get("targetInstanceCount"))
        if isinstance(size, str) and count:
            needs.append(
                Need("hdinsight-node", size, count, f"{count:g} x {size} ({role['name']})")
            )
    return needs


def _sku_named(item: str, unit_key: str | None = None) -> Callable[[ResourceRecord, Index], list]:
    def needs(record: ResourceRecord, _index: Index) -> list[Need]:
        sku = record["inputs"].get("sku") or {}
        count = _number(sku.get(unit_key)) if unit_key else 1.0
        return [Need(item, sku.get("name"), count or 1.0, f"{count or 1:g} x {sku.get('name')}")]

    return needs


def _one(item: str, size: str | None = None) -> Callable[[ResourceRecord, Index], list[Need]]:
    return lambda _record, _index: [Need(item, size, 1.0, item)]


NEEDS: dict[str, Callable[[ResourceRecord, Index], list[Need]]] = {
    "aws:autoscaling/group:Group": _aws_group,
    "aws:rds/instance:Instance": _aws_rds,
    "aws:emr/cluster:Cluster": _aws_emr,
    "aws:ec2/natGateway:NatGateway": _one("nat-gateway"),
    "aws:ec2/eip:Eip": _one("public-ipv4"),
    "aws:lb/loadBalancer:LoadBalancer": _one("alb"),
    "aws:kms/key:Key": _one("kms-key"),
    "aws:secretsmanager/secret:Secret": _one("secret"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _one("alarm"),
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": _gcp_group,
    "gcp:dataproc/cluster:Cluster": _gcp_dataproc,
    "gcp:sql/databaseInstance:DatabaseInstance": _gcp_sql,
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": _one("forwarding-rule"),
    "gcp:compute/forwardingRule:ForwardingRule": _one("forwarding-rule"),
    "gcp:compute/globalAddress:GlobalAddress": _one("public-ipv4"),
    "gcp:compute/address:Address": _one("public-ipv4"),
    "gcp:compute/securityPolicy:SecurityPolicy": _one("security-policy"),
    "azure-native:compute:VirtualMachineScaleSet": _azure_vmss,
    "azure-native:dbforpostgresql:Server": _azure_postgres,
    "azure-native:network:ApplicationGateway": _azure_app_gateway,
    "azure-native:hdinsight:Cluster": _azure_hdinsight,
    "azure-native:network:NatGateway": _one("nat-gateway"),
    "azure-native:network:PublicIPAddress": _sku_named("public-ipv4"),
    "azure-native:servicebus:Namespace": _sku_named("servicebus"),
    "azure-native:iothub:IotHubResource": _sku_named("iot-hub", "capacity"),
    "azure-native:monitor:MetricAlert": _one("alarm"),
}


def stack_cloud_region(result: dict[str, Any]) -> tuple[str | None, str | None]:
    """The cloud (from the resource types) and region (from the stack's provider config, else
    the resources' own region/location inputs)."""
    counts: dict[str, int] = {}
    for record in result["resources"]:
        cloud = _CLOUDS.get(record["type"].split(":", 1)[0])
        if cloud and record["custom"]:
            counts[cloud] = counts.get(cloud, 0) + 1
    if not counts:
        return None, None
    cloud = max(counts, key=lambda c: counts[c])
    config = result.get("config") or {}
    for key in _REGION_KEYS[cloud]:
        if config.get(key):
            return cloud, str(config[key])
    for record in result["resources"]:
        for key in ("region", "location"):
            value = record["inputs"].get(key)
            if isinstance(value, str) and value and not value.startswith("<"):
                return cloud, value
    return cloud, None


def estimate(
    result: dict[str, Any], table: PriceTable | None = None, *, region: str | None = None
) -> Estimate:
    """The monthly estimate of one preview result."""
    table = table or default_table()
    cloud, found_region = stack_cloud_region(result)
    region = region or found_region
    out = Estimate(result["stack"], cloud, region)
    index: Index = {record["urn"]: record for record in result["resources"]}
    for record in result["resources"]:
        if not record["custom"] or record["type"] in table.free:
            continue
        urn, type_, name = record["urn"], record["type"], record["name"]
        if type_ in table.usage:
            out.usage.append(Line(urn, type_, name, 0.0, "billed by use only"))
            continue
        reader = NEEDS.get(type_)
        if reader is None:
            out.unpriced.append(Unpriced(urn, type_, name, "no price for this resource type"))
            continue
        needs = reader(record, index)
        if not needs:
            out.unpriced.append(Unpriced(urn, type_, name, "size or count unknown offline"))
            continue
        monthly, details, missing, unverified = 0.0, [], [], []
        for need in needs:
            price = table.monthly(cloud or "", region or "", need) if cloud and region else None
            if price is None:
                missing.append(f"{need.item} {need.size or ''} in {region or 'unknown region'}")
                continue
            monthly += price
            details.append(need.what)
            if not table.verified(cloud or "", region or "", need):
                unverified.append(f"{need.item} {need.size}" if need.size else need.item)
        if missing:
            reason = "no price line for " + ", ".join(m.replace("  ", " ") for m in missing)
            out.unpriced.append(Unpriced(urn, type_, name, reason))
        if details:
            out.lines.append(Line(urn, type_, name, monthly, "; ".join(details), unverified))
    return out


def unverified_note(estimate: Estimate) -> str | None:
    """What to say next to a total that rests partly on unverified price lines."""
    if not estimate.unverified_total:
        return None
    return f"{money(estimate.unverified_total)} of it from unverified prices"


def money(value: float, *, sign: bool = False) -> str:
    text = f"${abs(value):,.2f}"
    if not sign:
        return text if value >= 0 else "-" + text
    return ("+" if value > 0 else "-" if value < 0 else "±") + text
