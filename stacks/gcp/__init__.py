"""Every blueprint component on Google Cloud: the same class names and Args as the other clouds
(stacks/common/args.py), so a blueprint moves to GCP by changing only the stack's cloud."""

from stacks.gcp.alarms import Alarms
from stacks.gcp.app_secret import AppSecret
from stacks.gcp.app_tier import AppTier
from stacks.gcp.common import host_env
from stacks.gcp.iot_ingest import IoTIngest
from stacks.gcp.key_value_table import KeyValueTable
from stacks.gcp.load_balancer import LoadBalancer
from stacks.gcp.mapreduce_cluster import MapReduceCluster
from stacks.gcp.network import Network
from stacks.gcp.notifications import Notifications
from stacks.gcp.object_store import ObjectStore
from stacks.gcp.queue import Queue
from stacks.gcp.relational_db import RelationalDb
from stacks.gcp.tier_identity import TierIdentity
from stacks.gcp.worker_tier import WorkerTier

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
