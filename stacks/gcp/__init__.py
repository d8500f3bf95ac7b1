"""Every blueprint component on Google Cloud: the same class names and Args as the other clouds
(stacks/common/args.py), so a blueprint moves to GCP by changing only the stack's cloud."""

from stacks.common.contracts import EXPORTS
from stacks.gcp.alarms import Alarms as Alarms
from stacks.gcp.app_secret import AppSecret as AppSecret
from stacks.gcp.app_tier import AppTier as AppTier
from stacks.gcp.common import host_env as host_env
from stacks.gcp.iot_ingest import IoTIngest as IoTIngest
from stacks.gcp.key_value_table import KeyValueTable as KeyValueTable
from stacks.gcp.load_balancer import LoadBalancer as LoadBalancer
from stacks.gcp.mapreduce_cluster import MapReduceCluster as MapReduceCluster
from stacks.gcp.network import Network as Network
from stacks.gcp.notifications import Notifications as Notifications
from stacks.gcp.object_store import ObjectStore as ObjectStore
from stacks.gcp.queue import Queue as Queue
from stacks.gcp.relational_db import RelationalDb as RelationalDb
from stacks.gcp.tier_identity import TierIdentity as TierIdentity
from stacks.gcp.worker_tier import WorkerTier as WorkerTier

__all__ = list(EXPORTS)
