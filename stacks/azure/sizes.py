"""Neutral size classes mapped to Azure SKUs (Linux VM scale sets, PostgreSQL, HDInsight)."""

from stacks.blueprints.model import SizeClass

VM_SIZES: dict[SizeClass, str] = {
    "small": "Standard_B2s",
    "medium": "Standard_D2s_v5",
    "large": "Standard_D4s_v5",
}
# PostgreSQL Flexible Server: (sku name, tier).
DB_SKUS: dict[SizeClass, tuple[str, str]] = {
    "small": ("Standard_B1ms", "Burstable"),
    "medium": ("Standard_D2ds_v5", "GeneralPurpose"),
    "large": ("Standard_D4ds_v5", "GeneralPurpose"),
}
HDINSIGHT_HEAD_NODE = "Standard_E4_v3"
HDINSIGHT_WORKER_NODE = "Standard_E4_v3"
HDINSIGHT_ZOOKEEPER_NODE = "Standard_A2_v2"
# Debian 12, generation 2 (Trusted Launch capable), the same release as the local target.
DEBIAN_IMAGE = {"publisher": "Debian", "offer": "debian-12", "sku": "12-gen2", "version": "latest"}
