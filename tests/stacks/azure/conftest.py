"""Fixtures for the Azure stack tests. The outputs azure-native, random and tls would compute,
and the one invoke the program may call, live in tierstack/mocks/azure.py, shared with
`tierstack boot-script`; anything else raises, so no value silently resolves to None."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stacks.azure import (
    Alarms,
    AppSecret,
    AppTier,
    IoTIngest,
    LoadBalancer,
    MapReduceCluster,
    Network,
    Notifications,
    ObjectStore,
    Queue,
    RelationalDb,
    TierIdentity,
    WorkerTier,
)
from stacks.blueprints import mapreduce
from stacks.blueprints.model import AppTier as AppSpec
from stacks.blueprints.model import IoTIngest as IoTSpec
from stacks.blueprints.model import Notifications as NotifySpec
from stacks.blueprints.model import ObjectStore as StoreSpec
from stacks.blueprints.model import Queue as QueueSpec
from stacks.blueprints.model import RelationalDb as DbSpec
from stacks.blueprints.model import WorkerTier as WorkerSpec
from stacks.common.args import (
    AlarmsArgs,
    AppSecretArgs,
    AppTierArgs,
    Grant,
    IoTIngestArgs,
    LoadBalancerArgs,
    MapReduceClusterArgs,
    NetworkArgs,
    NotificationsArgs,
    ObjectStoreArgs,
    QueueArgs,
    RelationalDbArgs,
    TierIdentityArgs,
    WorkerTierArgs,
)
from stacks.common.bootstrap import bootstrap_script
from tests.stacks.harness import Run, run_pulumi, run_stack
from tierstack.mocks.azure import (  # noqa: F401  (re-exported for the tests)
    FROM_DOMAIN,
    INVOKES,
    SUBSCRIPTION,
    TENANT,
    computed,
)


@pytest.fixture
def run_azure() -> Callable[..., Run]:
    """Runs a small program under the Azure mocks."""

    def run(program: Callable[[], Any], **kwargs: Any) -> Run:
        return run_pulumi(program, computed=computed, invokes=INVOKES, **kwargs)

    return run


@pytest.fixture
def run_azure_stack() -> Callable[..., Run]:
    """Runs the real program for an Azure stack file under the Azure mocks."""

    def run(stack: str, **kwargs: Any) -> Run:
        return run_stack(stack, computed=computed, invokes=INVOKES, **kwargs)

    return run


def make_context(app: str = "image-processing", stack: str = "azure-test", **config: Any):
    """A StackContext from tierstack config keys (camelCase, without the namespace)."""
    from stacks.blueprints.settings import parse_settings
    from stacks.common.args import StackContext

    raw = {"tierstack:cloud": "azure", "tierstack:app": app, "azure-native:location": "westeurope"}
    raw |= {f"tierstack:{key}": value for key, value in config.items()}
    return StackContext(settings=parse_settings(raw), stack=stack)


PROD = {
    "env": "prod",
    "certificate": "https://example-kv.vault.azure.net/secrets/web-cert",
    "repoRef": "0123456789abcdef0123456789abcdef01234567",  # prod pulls an exact commit
}


def with_network(context, build):
    """A program that creates the stack's Network and hands it to `build` (Azure components
    take it in their Args)."""
    from stacks.azure import Network
    from stacks.common.args import NetworkArgs

    def program():
        return build(Network("network", NetworkArgs(context, "10.40.0.0/16")))

    return program


# Programs shared by the component tests: each runs once per test process.


APP = AppSpec("web", "pages", wsgi="reference_apps.x.wsgi:app", port=8000, health_path="/healthz")
WORKER = WorkerSpec(
    "filter-worker", "jobs", command="python -m x", scale_on="jobs", backlog_per_instance=10
)


def tiers_program(context):
    def program():
        net = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        store = ObjectStore(
            "images", ObjectStoreArgs(context, StoreSpec("images", "blobs"), network=net)
        )
        queue = Queue("jobs", QueueArgs(context, QueueSpec("jobs", "work"), network=net))
        db = RelationalDb("app-db", RelationalDbArgs(context, DbSpec("app-db", "rows", "app"), net))
        mail = Notifications(
            "job-done", NotificationsArgs(context, NotifySpec("job-done", "mail"), network=net)
        )
        session_key = AppSecret(
            "web-session-key", AppSecretArgs(context, "session signing key", network=net)
        )
        app_identity = TierIdentity(
            "web-identity",
            TierIdentityArgs(
                context,
                "web",
                [
                    Grant(store, "read-write"),
                    Grant(queue, "publish"),
                    Grant(db, "read-write"),
                    Grant(session_key, "read"),
                ],
                network=net,
            ),
        )
        worker_identity = TierIdentity(
            "worker-identity",
            TierIdentityArgs(
                context,
                "filter-worker",
                [
                    Grant(store, "read"),
                    Grant(queue, "consume"),
                    Grant(mail, "publish"),
                ],
                network=net,
            ),
        )
        lb = LoadBalancer("web-lb", LoadBalancerArgs(context, net, APP.port, APP.health_path))
        app_env = {
            "OBJECT_STORE_URL": store.backend_url,
            "DATABASE_URL": db.backend_url,
            "DATABASE_PASSWORD_REF": db.password_ref,
            "SECRET_KEY_REF": session_key.ref,
        }
        app = AppTier(
            "web",
            AppTierArgs(
                context, APP, net, lb, app_identity, bootstrap_script(context, "app", app_env)
            ),
        )
        worker = WorkerTier(
            "filter-worker",
            WorkerTierArgs(
                context,
                WORKER,
                net,
                worker_identity,
                queue,
                bootstrap_script(context, "worker", {"QUEUE_URL": queue.backend_url}),
            ),
        )
        Alarms("alarms", AlarmsArgs(context, lb, [queue], [app, worker], network=net))
        return {
            "url": lb.url,
            "db": db.backend_url,
            "endpoint": db.endpoint,
            "password": db.password,
            "mail": mail.backend_url,
            "password_is_secret": db.password.is_secret(),
            "password_ref": db.password_ref,
            "password_ref_is_secret": db.password_ref.is_secret(),
            "session_key": session_key.value,
            "session_key_is_secret": session_key.value.is_secret(),
            "session_key_name": session_key.physical_name,
            "session_key_ref": session_key.ref,
            "session_key_ref_is_secret": session_key.ref.is_secret(),
        }

    return program


@pytest.fixture(scope="session")
def dev():

    return run_pulumi(
        tiers_program(make_context(alertEmail="ops@example.org")),
        computed=computed,
        invokes=INVOKES,
    )


@pytest.fixture(scope="session")
def prod():

    return run_pulumi(tiers_program(make_context(**PROD)), computed=computed, invokes=INVOKES)


@pytest.fixture(scope="session")
def analytics():

    context = make_context(app="mapreduce")
    spec = mapreduce.blueprint().mapreduce

    def program():
        net = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        code = ObjectStore(
            "job-data", ObjectStoreArgs(context, StoreSpec("job-data", "code"), network=net)
        )
        logs = ObjectStore("logs", ObjectStoreArgs(context, StoreSpec("logs", "logs"), network=net))
        queue = Queue(
            "telemetry", QueueArgs(context, QueueSpec("telemetry", "readings"), network=net)
        )
        cluster = MapReduceCluster("hadoop", MapReduceClusterArgs(context, spec, net, code, logs))
        TierIdentity(
            "job-runner-identity",
            TierIdentityArgs(context, "job-runner", [Grant(cluster, "submit")], network=net),
        )
        IoTIngest(
            "ingest",
            IoTIngestArgs(
                context,
                IoTSpec("device-ingest", "d", "devices/+/telemetry", "telemetry"),
                net,
                queue,
            ),
        )
        return {
            "submit_commands": cluster.submit_commands,
            "upload_commands": cluster.upload_commands,
            "physical_name": cluster.physical_name,
            "backend_url": cluster.backend_url,
        }

    return run_pulumi(program, computed=computed, invokes=INVOKES)
