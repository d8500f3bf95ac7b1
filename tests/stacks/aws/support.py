"""Shared bits of the AWS component tests: small programs around real components."""

from __future__ import annotations

import base64
import json
from typing import Any

import yaml

from stacks.aws import (
    AppSecret,
    AppTier,
    LoadBalancer,
    Network,
    ObjectStore,
    Queue,
    RelationalDb,
    TierIdentity,
    WorkerTier,
)
from stacks.blueprints import model
from stacks.common.args import (
    AppSecretArgs,
    AppTierArgs,
    Grant,
    LoadBalancerArgs,
    NetworkArgs,
    ObjectStoreArgs,
    QueueArgs,
    RelationalDbArgs,
    StackContext,
    TierIdentityArgs,
    WorkerTierArgs,
)
from stacks.common.bootstrap import bootstrap_script
from tests.playbook_check import boot_vars
from tests.stacks.aws.conftest import ACCOUNT, REGION
from tests.stacks.harness import Registered

SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRETS = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tierstack/image-processing-dev"
SESSION_KEY_ARN = f"{SECRETS}/web-session-key-AbCdEf"
DB_SECRET_ARN = f"{SECRETS}-db/master-AbCdEf"
DB_APP_SECRET_ARN = f"{SECRETS}-db/app-AbCdEf"


def network(context: StackContext) -> Network:
    return Network("network", NetworkArgs(context, context.settings.network_cidr))


def document(resource: Registered, key: str = "policy") -> dict[str, Any]:
    """A JSON policy input, parsed."""
    return json.loads(resource.inputs[key])


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


def user_data(template: Registered) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Launch template user data -> (cloud-config document, boot script, vars.yml)."""
    text = base64.b64decode(template.inputs["userData"]).decode()
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    script = config["write_files"][0]["content"]
    return config, script, boot_vars(script)


def app_stack(context):
    """A web tier using a bucket, a queue (publish), a database and a session key; a worker
    consuming. Wired as stacks/program.py does: secrets reach the hosts as references."""
    net = network(context)
    store = ObjectStore("images", ObjectStoreArgs(context, model.ObjectStore("images", "t")))
    queue = Queue("jobs", QueueArgs(context, model.Queue("jobs", "t")))
    db = RelationalDb(
        "db", RelationalDbArgs(context, model.RelationalDb("db", "t", database="app"), net)
    )
    session_key = AppSecret("web-session-key", AppSecretArgs(context, "session signing key"))
    identity = TierIdentity(
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
        ),
    )
    app_spec = model.AppTier("web", "t", wsgi="app.wsgi:app", port=8000, target_cpu_percent=55)
    lb = LoadBalancer("web-lb", LoadBalancerArgs(context, net, 8000, "/healthz"))
    boot = bootstrap_script(
        context,
        "app",
        {
            "APP_ENV": "production",
            "SECRET_KEY_REF": session_key.ref,
            "OBJECT_STORE_URL": store.backend_url,
            "QUEUE_URL": queue.backend_url,
            "DATABASE_URL": db.backend_url,
            "DATABASE_PASSWORD_REF": db.password_ref,
        },
        role_vars={
            **db.host_role_vars,
            "blueprint_host_database_admin_user": db.admin_user,
            "blueprint_host_database_admin_password_ref": db.admin_password_ref,
        },
    )
    AppTier("web", AppTierArgs(context, app_spec, net, lb, identity, boot))
    worker_identity = TierIdentity(
        "worker-identity", TierIdentityArgs(context, "worker", [Grant(queue, "consume")])
    )
    worker_spec = model.WorkerTier("worker", "t", "python -m w", "jobs", backlog_per_instance=7)
    WorkerTier(
        "worker",
        WorkerTierArgs(
            context,
            worker_spec,
            net,
            worker_identity,
            queue,
            bootstrap_script(
                context, "worker", {"APP_ENV": "production", "QUEUE_URL": queue.backend_url}
            ),
        ),
    )
