"""AWS: every component kind of the blueprint model as native AWS resources (pulumi-aws).

stacks/program.py looks these classes up by name; GCP and Azure export the same names
(`EXPORTS` in stacks/common/contracts.py)."""

from stacks.aws.alarms import Alarms as Alarms
from stacks.aws.app_secret import AppSecret as AppSecret
from stacks.aws.app_tier import AppTier as AppTier
from stacks.aws.hosts import host_env as host_env
from stacks.aws.iot_ingest import IoTIngest as IoTIngest
from stacks.aws.key_value_table import KeyValueTable as KeyValueTable
from stacks.aws.load_balancer import LoadBalancer as LoadBalancer
from stacks.aws.mapreduce_cluster import MapReduceCluster as MapReduceCluster
from stacks.aws.network import Network as Network
from stacks.aws.notifications import Notifications as Notifications
from stacks.aws.object_store import ObjectStore as ObjectStore
from stacks.aws.queue import Queue as Queue
from stacks.aws.relational_db import RelationalDb as RelationalDb
from stacks.aws.tier_identity import TierIdentity as TierIdentity
from stacks.aws.worker_tier import WorkerTier as WorkerTier
from stacks.common.contracts import EXPORTS

__all__ = list(EXPORTS)
