"""Azure (pulumi-azure-native) components: the same class names and Args as every cloud.

The Network component owns the stack's resource group, Log Analytics workspace and Key Vault;
every other component receives it in its Args (`network`)."""

from stacks.azure.alarms import Alarms as Alarms
from stacks.azure.app_secret import AppSecret as AppSecret
from stacks.azure.app_tier import AppTier as AppTier
from stacks.azure.common import host_env as host_env
from stacks.azure.iot_ingest import IoTIngest as IoTIngest
from stacks.azure.key_value_table import KeyValueTable as KeyValueTable
from stacks.azure.load_balancer import LoadBalancer as LoadBalancer
from stacks.azure.mapreduce_cluster import MapReduceCluster as MapReduceCluster
from stacks.azure.network import Network as Network
from stacks.azure.notifications import Notifications as Notifications
from stacks.azure.object_store import ObjectStore as ObjectStore
from stacks.azure.queue import Queue as Queue
from stacks.azure.relational_db import RelationalDb as RelationalDb
from stacks.azure.tier_identity import TierIdentity as TierIdentity
from stacks.azure.worker_tier import WorkerTier as WorkerTier
from stacks.common.contracts import EXPORTS

__all__ = list(EXPORTS)
