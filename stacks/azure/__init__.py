"""Azure (pulumi-azure-native) components: the same class names and Args as every cloud.

The Network component owns the stack's resource group, Log Analytics workspace and Key Vault;
every other component receives it in its Args (`network`)."""

from stacks.azure.alarms import Alarms
from stacks.azure.app_secret import AppSecret
from stacks.azure.app_tier import AppTier
from stacks.azure.common import host_env
from stacks.azure.iot_ingest import IoTIngest
from stacks.azure.key_value_table import KeyValueTable
from stacks.azure.load_balancer import LoadBalancer
from stacks.azure.mapreduce_cluster import MapReduceCluster
from stacks.azure.network import Network
from stacks.azure.notifications import Notifications
from stacks.azure.object_store import ObjectStore
from stacks.azure.queue import Queue
from stacks.azure.relational_db import RelationalDb
from stacks.azure.tier_identity import TierIdentity
from stacks.azure.worker_tier import WorkerTier

__all__ = [
    "Alarms",
    "AppSecret",
    "AppTier",
    "IoTIngest",
    "KeyValueTable",
    "LoadBalancer",
    "MapReduceCluster",
    "Network",
    "Notifications",
    "ObjectStore",
    "Queue",
    "RelationalDb",
    "TierIdentity",
    "WorkerTier",
    "host_env",
]
