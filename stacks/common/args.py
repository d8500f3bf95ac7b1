"""The Args every cloud's components take — one definition, so aws/, gcp/ and azure/ share them.

A component of one cloud receives other components of the same cloud (typed here as
pulumi.ComponentResource) and reads their cloud-specific attributes; the neutral program
(stacks/program.py) only wires them together.

What each component exposes in return (physical_name, backend_url, url, grant(...) …) is
declared once in stacks/common/contracts.py. MapReduceCluster is granted like a data component
(access "submit": add, list and describe job steps on this cluster only); its backend_url is
MAPREDUCE_CLUSTER_URL: emr://<cluster-id>, dataproc://<project>/<region>/<cluster>,
hdinsight://<cluster-name>.

Secrets never travel in user data. Hosts get references the apps resolve at start with their
own identity (reference_apps/backends/secrets.py):
  RelationalDb.password_ref  DATABASE_PASSWORD_REF, the database password
  AppSecret.ref              e.g. SECRET_KEY_REF, a generated value kept in the cloud's store
A reference is `aws-secretsmanager://<secret ARN>[#<JSON key>]`,
`gcp-secretmanager://projects/<project>/secrets/<id>/versions/<version>` or
`azure-keyvault://<vault>.vault.azure.net/<secret name>`. AppSecret is granted like a data
component (access "read": read this one secret's value).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from stacks.blueprints.model import (
    Access,
    AppTier,
    IoTIngest,
    KeyValueTable,
    MapReduceCluster,
    Notifications,
    ObjectStore,
    Queue,
    RelationalDb,
    WorkerTier,
)
from stacks.blueprints.settings import Settings


@dataclass(frozen=True)
class StackContext:
    """What every component needs to know about the stack it is part of."""

    settings: Settings
    stack: str
    """The Pulumi stack name; prefixes physical names so stacks never collide."""

    @property
    def tags(self) -> dict[str, str]:
        return self.settings.tags

    @property
    def prefix(self) -> str:
        """A short, DNS-safe prefix for physical names: <app>-<env>."""
        return f"{self.settings.app}-{self.settings.env}"


@dataclass(frozen=True)
class Grant:
    """One permission of a tier's identity: this component, this access, nothing else."""

    component: pulumi.ComponentResource
    access: Access


@dataclass
class NetworkArgs:
    context: StackContext
    cidr: str
    """The address range of the network; tiers get subnets carved from it."""


@dataclass
class ObjectStoreArgs:
    context: StackContext
    spec: ObjectStore
    network: pulumi.ComponentResource | None = None
    """The stack's Network. Azure needs it (it owns the stack's resource group, Log Analytics
    workspace and Key Vault); AWS and GCP do not read it."""


@dataclass
class QueueArgs:
    context: StackContext
    spec: Queue
    network: pulumi.ComponentResource | None = None
    """The stack's Network. Azure needs it (it owns the stack's resource group, Log Analytics
    workspace and Key Vault); AWS and GCP do not read it."""


@dataclass
class KeyValueTableArgs:
    context: StackContext
    spec: KeyValueTable
    network: pulumi.ComponentResource | None = None
    """The stack's Network. Azure needs it (it owns the stack's resource group, Log Analytics
    workspace and Key Vault); AWS and GCP do not read it."""


@dataclass
class RelationalDbArgs:
    context: StackContext
    spec: RelationalDb
    network: pulumi.ComponentResource
    """The stack's Network; the database gets private addresses only."""


@dataclass
class NotificationsArgs:
    context: StackContext
    spec: Notifications
    network: pulumi.ComponentResource | None = None
    """The stack's Network. Azure needs it (it owns the stack's resource group, Log Analytics
    workspace and Key Vault); AWS and GCP do not read it."""


@dataclass
class AppSecretArgs:
    context: StackContext
    purpose: str
    """What the value is for, in words (the secret's description)."""
    length: int = 48
    """Characters of the generated value (letters and digits)."""
    network: pulumi.ComponentResource | None = None
    """The stack's Network. Azure needs it (it owns the stack's resource group, Log Analytics
    workspace and Key Vault); AWS and GCP do not read it."""


@dataclass
class TierIdentityArgs:
    context: StackContext
    tier: str
    """The tier this identity belongs to (app or worker name)."""
    grants: list[Grant] = field(default_factory=list)
    """Exactly what the tier uses; nothing else is granted."""
    network: pulumi.ComponentResource | None = None
    """The stack's Network. Azure needs it (it owns the stack's resource group, Log Analytics
    workspace and Key Vault); AWS and GCP do not read it."""


@dataclass
class LoadBalancerArgs:
    context: StackContext
    network: pulumi.ComponentResource
    app_port: int
    health_path: str
    log_store: pulumi.ComponentResource | None = None
    """Where access logs go, where the cloud writes them to a bucket."""


@dataclass
class AppTierArgs:
    context: StackContext
    spec: AppTier
    network: pulumi.ComponentResource
    load_balancer: pulumi.ComponentResource
    identity: pulumi.ComponentResource
    bootstrap: pulumi.Output[str]
    """The boot script (stacks/common/bootstrap.py) that runs ansible-pull."""


@dataclass
class WorkerTierArgs:
    context: StackContext
    spec: WorkerTier
    network: pulumi.ComponentResource
    identity: pulumi.ComponentResource
    queue: pulumi.ComponentResource | None
    """The Queue component whose backlog scales this tier; ``None``: a fixed-size tier."""
    bootstrap: pulumi.Output[str]


@dataclass
class MapReduceClusterArgs:
    context: StackContext
    spec: MapReduceCluster
    network: pulumi.ComponentResource
    code_store: pulumi.ComponentResource
    log_store: pulumi.ComponentResource


@dataclass
class IoTIngestArgs:
    context: StackContext
    spec: IoTIngest
    network: pulumi.ComponentResource
    queue: pulumi.ComponentResource


@dataclass
class AlarmsArgs:
    context: StackContext
    load_balancer: pulumi.ComponentResource | None
    queues: list[pulumi.ComponentResource]
    tiers: list[pulumi.ComponentResource]
    """AppTier and WorkerTier components, alarmed on CPU."""
    notify: pulumi.ComponentResource | None = None
    """Where alarms go; the stack's own alert topic when None."""
    network: pulumi.ComponentResource | None = None
    """The stack's Network. Azure needs it (it owns the stack's resource group, Log Analytics
    workspace and Key Vault); AWS and GCP do not read it."""
