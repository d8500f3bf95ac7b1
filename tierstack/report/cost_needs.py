"""What each priced resource type needs: read from a preview record's inputs (and the records
it links to, such as a group's launch template) as billed items and quantities. Kept apart from the
estimate so that a new resource type is one reader and one line in NEEDS."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tierstack.records import ResourceRecord


@dataclass(frozen=True)
class Need:
    """One billed item a resource needs: `quantity` units of (item, size)."""

    item: str
    size: str | None
    quantity: float
    what: str  # how the quantity was read, e.g. "2 x t3.small (minSize)"


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
