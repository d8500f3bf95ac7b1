"""GCP resource types the policies look at (pulumi-gcp 10 tokens), and where labels are kept."""

from __future__ import annotations

from typing import Any

from ..registry import Config, Props
from ..shared import env_of, tags_of
from ..values import UNKNOWN, value

BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_IAM_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
BUCKET_IAM_BINDING = "gcp:storage/bucketIAMBinding:BucketIAMBinding"
BUCKET_IAM_POLICY = "gcp:storage/bucketIAMPolicy:BucketIAMPolicy"
# ACLs as resources: a list of "ROLE:entity" strings, or one entity and its role
ACL_LISTS = (
    "gcp:storage/bucketACL:BucketACL",
    "gcp:storage/defaultObjectACL:DefaultObjectACL",
    "gcp:storage/objectACL:ObjectACL",
)
ACL_ENTRIES = (
    "gcp:storage/bucketAccessControl:BucketAccessControl",
    "gcp:storage/defaultObjectAccessControl:DefaultObjectAccessControl",
    "gcp:storage/objectAccessControl:ObjectAccessControl",
)
HMAC_KEY = "gcp:storage/hmacKey:HmacKey"
FIREWALL = "gcp:compute/firewall:Firewall"
TEMPLATES = (
    "gcp:compute/instanceTemplate:InstanceTemplate",
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
)
INSTANCE = "gcp:compute/instance:Instance"
HOSTS = (*TEMPLATES, INSTANCE)
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
BACKEND_SERVICES = (
    "gcp:compute/backendService:BackendService",
    "gcp:compute/regionBackendService:RegionBackendService",
)
SQL_INSTANCE = "gcp:sql/databaseInstance:DatabaseInstance"
TOPIC = "gcp:pubsub/topic:Topic"
SUBSCRIPTION = "gcp:pubsub/subscription:Subscription"
# global and regional external Application Load Balancers
HTTPS_PROXIES = (
    "gcp:compute/targetHttpsProxy:TargetHttpsProxy",
    "gcp:compute/regionTargetHttpsProxy:RegionTargetHttpsProxy",
)
HTTP_PROXIES = (
    "gcp:compute/targetHttpProxy:TargetHttpProxy",
    "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy",
)
URL_MAPS = ("gcp:compute/uRLMap:URLMap", "gcp:compute/regionUrlMap:RegionUrlMap")
SSL_POLICIES = ("gcp:compute/sSLPolicy:SSLPolicy", "gcp:compute/regionSslPolicy:RegionSslPolicy")
PROJECT_IAM = (
    "gcp:projects/iAMMember:IAMMember",
    "gcp:projects/iAMBinding:IAMBinding",
    "gcp:folder/iAMMember:IAMMember",
    "gcp:folder/iAMBinding:IAMBinding",
    "gcp:organizations/iAMMember:IAMMember",
    "gcp:organizations/iAMBinding:IAMBinding",
)
PROJECT_IAM_POLICIES = (
    "gcp:projects/iAMPolicy:IAMPolicy",
    "gcp:folder/iAMPolicy:IAMPolicy",
    "gcp:organizations/iAMPolicy:IAMPolicy",
)
SERVICE_ACCOUNT_KEY = "gcp:serviceaccount/key:Key"
AUTOSCALERS = ("gcp:compute/regionAutoscaler:RegionAutoscaler", "gcp:compute/autoscaler:Autoscaler")
REGIONAL_MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
ZONAL_MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"

LABELED = (
    BUCKET,
    *HOSTS,
    TOPIC,
    SUBSCRIPTION,
    "gcp:compute/disk:Disk",
    "gcp:dataproc/cluster:Cluster",
    "gcp:compute/globalForwardingRule:GlobalForwardingRule",
)


def labels(props: Props, type_: str) -> Any:
    """The labels: `labels`, or `settings.userLabels` on Cloud SQL."""
    if type_ == SQL_INSTANCE:
        settings = value(props, "settings")
        return UNKNOWN if settings is UNKNOWN else tags_of(settings or {}, "userLabels")
    return tags_of(props, "labels")


def label_env(props: Props, config: Config, type_: str) -> str | None:
    return env_of(labels(props, type_), config)
