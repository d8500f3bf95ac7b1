"""tierstack's CrossGuard policies, importable without starting the analyzer.

`POLICIES` is what `policies/__main__.py` hands to `PolicyPack`; each policy's tags are
`[cloud, family]`, which the README table is generated from.
"""

from . import aws, azure, gcp

PACK_NAME = "tierstack-policies"
CLOUDS = ("aws", "gcp", "azure")
FAMILIES = (
    "object-storage",
    "network",
    "compute",
    "databases",
    "queues",
    "load-balancers",
    "identity",
    "governance",
    "cost",
    "reliability",
)
POLICIES = [*aws.POLICIES, *gcp.POLICIES, *azure.POLICIES]

__all__ = ["CLOUDS", "FAMILIES", "PACK_NAME", "POLICIES"]
