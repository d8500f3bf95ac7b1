"""What every cloud's components expose: the outputs of each component kind, declared and
described once, as `typing.Protocol`s that aws/, gcp/ and azure/ all satisfy.

The inputs are the Args of stacks/common/args.py; these are the outputs. The neutral program
(stacks/program.py) reads only what is declared here, so a blueprint moves to another cloud by
changing the stack's cloud alone. Each attribute typed `pulumi.Output` is also registered with
`register_outputs` under the same name. tests/stacks/test_contract.py builds every component of
every cloud under the mocks and checks both; the per-cloud README tables are generated from this
module (`make contract-docs`).

A tier is granted a component with ONE call on every cloud, `component.grant(principal, access)`:
on GCP and Azure it creates the bindings or role assignments on that one resource and returns
them; on AWS, where a tier's role carries one inline policy, it returns the IAM statements that
policy lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pulumi

from stacks.blueprints.model import Access

Granted = Sequence[pulumi.Resource] | pulumi.Output[list[dict[str, Any]]]
"""What `grant` returns: the resources that carry the grant (GCP bindings, Azure role
assignments), or on AWS the IAM statements for the tier's one inline policy."""


@dataclass(frozen=True)
class Principal:
    """Who receives a grant: a tier's identity, or a component's own (a cluster's nodes)."""

    name: str
    """The grantee's name (the tier); resources a grant creates are named
    `<name>-<component>-<access>`."""
    id: pulumi.Input[str]
    """The cloud's handle on the identity: the IAM role name (AWS), the IAM member
    `serviceAccount:<email>` (GCP), the managed identity's principal id (Azure)."""
    parent: pulumi.Resource
    """Where the grant's resources hang in the resource tree (the identity component)."""


@runtime_checkable
class Component(Protocol):
    """Every component kind below."""

    logical_name: str
    """The component's name in the blueprint (`images`, `web`, `web-lb`): alarms, grants and
    child resources are named after it."""


@runtime_checkable
class Grantable(Component, Protocol):
    """A component a tier can be granted (the blueprint's `Uses`)."""

    def grant(self, principal: Principal, access: Access) -> Granted:
        """Gives `principal` exactly `access` on this component and nothing else; an access
        the component does not know raises ValueError."""
        ...


@runtime_checkable
class DataComponent(Grantable, Protocol):
    """ObjectStore, Queue, KeyValueTable, RelationalDb, Notifications, MapReduceCluster."""

    physical_name: pulumi.Output[str]
    """The resource's name in the cloud (bucket, queue, table, server, topic, cluster)."""
    backend_url: pulumi.Output[str]
    """The URL the reference apps read (OBJECT_STORE_URL, QUEUE_URL, KV_URL, DATABASE_URL,
    MAIL_URL, MAPREDUCE_CLUSTER_URL): `s3://…`, `pubsub://…`, `servicebus://…`, …"""


@runtime_checkable
class Database(DataComponent, Protocol):
    """RelationalDb: a data component with a host name and a generated password."""

    endpoint: pulumi.Output[str]
    """The server's private host name or address (stack output `db_endpoint`)."""
    password: pulumi.Output[str]
    """The admin login's generated password, a Pulumi secret (stack output `db_password`)."""
    password_ref: pulumi.Output[str]
    """DATABASE_PASSWORD_REF: where hosts read the app role's password at start (backend_url
    names that role, never the admin)."""
    admin_user: str
    """The admin login the cloud makes with the server; only root's converge step uses it, to
    create the app role (reference_apps/backends/database_roles.py)."""
    admin_password_ref: pulumi.Output[str]
    """Where that step reads the admin's password; never in an app's environment."""


@runtime_checkable
class Secret(Grantable, Protocol):
    """AppSecret: a generated value kept in the cloud's secret store; granted "read"."""

    physical_name: pulumi.Output[str]
    """The secret's name in the cloud's secret store."""
    ref: pulumi.Output[str]
    """The reference hosts resolve at start (e.g. SECRET_KEY_REF); resolves once stored."""
    value: pulumi.Output[str]
    """The generated value, a Pulumi secret."""


@runtime_checkable
class Tier(Component, Protocol):
    """AppTier and WorkerTier: an autoscaled group of hosts that converge at boot."""

    group_name: pulumi.Output[str]
    """The autoscaled group (auto scaling group, managed instance group, scale set)."""


@runtime_checkable
class LoadBalancer(Component, Protocol):
    """The HTTPS front door of the app tier."""

    url: pulumi.Output[str]
    """The app's HTTPS URL (stack output `app_url`)."""
    dns_target: pulumi.Output[str]
    """What the app's DNS record points at: a host name (CNAME) or an address (A)."""


@runtime_checkable
class Ingest(Component, Protocol):
    """IoTIngest: where devices connect."""

    endpoint: pulumi.Output[str] | None
    """The MQTT host devices and gateways connect to (stack output `mqtt_endpoint`); None on
    AWS, where the endpoint is the account's (`aws iot describe-endpoint`), not the stack's."""


CONTRACTS: dict[str, type[Component]] = {
    "ObjectStore": DataComponent,
    "Queue": DataComponent,
    "KeyValueTable": DataComponent,
    "RelationalDb": Database,
    "Notifications": DataComponent,
    "MapReduceCluster": DataComponent,
    "AppSecret": Secret,
    "AppTier": Tier,
    "WorkerTier": Tier,
    "LoadBalancer": LoadBalancer,
    "IoTIngest": Ingest,
}
"""Component class name → the contract its class satisfies on every cloud."""

COMPONENTS: dict[str, str] = {
    "Network": "NetworkArgs",
    "ObjectStore": "ObjectStoreArgs",
    "Queue": "QueueArgs",
    "KeyValueTable": "KeyValueTableArgs",
    "RelationalDb": "RelationalDbArgs",
    "Notifications": "NotificationsArgs",
    "MapReduceCluster": "MapReduceClusterArgs",
    "AppSecret": "AppSecretArgs",
    "TierIdentity": "TierIdentityArgs",
    "LoadBalancer": "LoadBalancerArgs",
    "AppTier": "AppTierArgs",
    "WorkerTier": "WorkerTierArgs",
    "IoTIngest": "IoTIngestArgs",
    "Alarms": "AlarmsArgs",
}
"""Every component class each cloud exports, with the Args (stacks/common/args.py) it takes."""

EXPORTS: tuple[str, ...] = (*COMPONENTS, "host_env")
"""Each cloud package's `__all__`: its component classes and `host_env(context)`, the cloud's
settings for every host's environment (stacks/program.py looks them all up by name)."""


def declared_outputs(contract: type) -> list[str]:
    """The attributes a contract declares as `pulumi.Output`, which are also registered."""
    names: list[str] = []
    for klass in reversed(contract.__mro__):
        for name, annotation in vars(klass).get("__annotations__", {}).items():
            if "Output" in str(annotation) and name not in names:
                names.append(name)
    return names


def declared_attributes(contract: type) -> list[str]:
    """Every attribute a contract declares (outputs and plain values such as logical_name)."""
    names: list[str] = []
    for klass in reversed(contract.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            if name not in names:
                names.append(name)
    return names
