"""AWS: every component kind of the blueprint model as native AWS resources (pulumi-aws).

stacks/program.py looks these classes up by name; GCP and Azure export the same names."""

from stacks.aws.alarms import Alarms
from stacks.aws.app_secret import AppSecret
from stacks.aws.app_tier import AppTier
from stacks.aws.hosts import host_env
from stacks.aws.iot_ingest import IoTIngest
from stacks.aws.key_value_table import KeyValueTable
from stacks.aws.load_balancer import LoadBalancer
from stacks.aws.mapreduce_cluster import MapReduceCluster
from stacks.aws.network import Network
from stacks.aws.notifications import Notifications
from stacks.aws.object_store import ObjectStore
from stacks.aws.queue import Queue
from stacks.aws.relational_db import RelationalDb
from stacks.aws.tier_identity import TierIdentity
from stacks.aws.worker_tier import WorkerTier

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
