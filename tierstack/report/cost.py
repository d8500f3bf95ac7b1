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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tierstack.report.cost_needs import NEEDS, Index, Need

PRICES = Path(__file__).with_name("prices.yaml")
_CLOUDS = {"aws": "aws", "gcp": "gcp", "azure-native": "azure"}
_REGION_KEYS = {
    "aws": ("aws:region",),
    "gcp": ("gcp:region",),
    "azure": ("azure-native:location", "azure:location"),
}


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
