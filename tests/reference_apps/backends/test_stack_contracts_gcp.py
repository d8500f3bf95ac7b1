"""Stack <-> app contracts on GCP: each GCP stack's bucket, topics and subscriptions are created in
the GCS emulator and Google's pstest Pub/Sub emulator from the stack's own resolved inputs (names,
ack deadline, dead-letter topic and subscription), and each tier's backends, opened from the
environment the stack writes into the tier's vars.yml, run against them: the readiness checks,
the object-store contract, a publish, a consume with a poison message dead-lettered.

Neither emulator enforces IAM, so every API method the backend calls is recorded (HTTP requests
to the GCS emulator, gRPC methods to pstest) and must be allowed by the roles the stack binds to
that tier's service account on that very resource: two tables below, written from Google's IAM
documentation, stand in for the IAM evaluator (an in-process stand-in: no IAM-enforcing GCP
emulator exists). A readiness check that calls buckets.get or subscriptions.get without a role
holding it fails here, not as a VM that answers 503 forever.

Firestore (no emulator here) and Secret Manager are checked on the grant alone: the tier holds
the role on the database / secret its URL or reference names."""

from __future__ import annotations

import functools
import re
import secrets
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
import requests
from backend_contracts import object_store_contract
from database_contract import admin_step_env, database_contract, provision, revealed
from google.cloud import pubsub_v1, storage

from reference_apps.backends import Settings, open_backends
from reference_apps.backends import secrets as secret_refs
from reference_apps.backends.queue import PubSubQueue
from stacks.blueprints import BLUEPRINTS
from tests.playbook_check import boot_vars
from tests.stacks.harness import Registered, Run, run_stack, stack_config, stack_names
from tierstack.mocks.gcp import INVOKES, PROJECT, PROJECT_NUMBER, computed

STACKS = stack_names("gcp")

# Permissions of the predefined roles the stacks bind ("IAM roles and permissions index",
# cloud.google.com/iam/docs/roles-permissions/storage and .../pubsub, .../secretmanager,
# .../datastore); only the permissions the apps' calls need are listed.
ROLE_PERMISSIONS: dict[str, set[str]] = {
    "roles/storage.objectViewer": {"storage.objects.get", "storage.objects.list"},
    "roles/storage.objectUser": {
        "storage.objects.create",
        "storage.objects.delete",
        "storage.objects.get",
        "storage.objects.list",
        "storage.objects.update",
    },
    "roles/storage.legacyBucketReader": {"storage.buckets.get", "storage.objects.list"},
    "roles/pubsub.publisher": {"pubsub.topics.publish"},
    "roles/pubsub.subscriber": {
        "pubsub.subscriptions.consume",
        "pubsub.topics.attachSubscription",
        "pubsub.snapshots.seek",
    },
    "roles/pubsub.viewer": {
        "pubsub.subscriptions.get",
        "pubsub.subscriptions.list",
        "pubsub.topics.get",
        "pubsub.topics.list",
    },
    "roles/secretmanager.secretAccessor": {"secretmanager.versions.access"},
    "roles/datastore.user": {"datastore.entities.get", "datastore.entities.list"},
    "roles/datastore.viewer": {"datastore.entities.get", "datastore.entities.list"},
}

# Permission each API method requires: Cloud Storage "IAM permissions for JSON methods"
# (cloud.google.com/storage/docs/json_api/v1/iam-permissions; objects.insert over an existing
# name also needs storage.objects.delete) and Pub/Sub "Access control with IAM", table of
# methods (cloud.google.com/pubsub/docs/access-control).
GCS_METHODS: list[tuple[str, re.Pattern[str], set[str]]] = [
    ("GET", re.compile(r"/storage/v1/b/(?P<bucket>[^/]+)"), {"storage.buckets.get"}),
    ("GET", re.compile(r"/storage/v1/b/(?P<bucket>[^/]+)/o"), {"storage.objects.list"}),
    (
        "GET",
        re.compile(r"/(?:download/)?storage/v1/b/(?P<bucket>[^/]+)/o/.+"),
        {"storage.objects.get"},
    ),
    (
        "POST",
        re.compile(r"/upload/storage/v1/b/(?P<bucket>[^/]+)/o"),
        {"storage.objects.create", "storage.objects.delete"},
    ),
    ("DELETE", re.compile(r"/storage/v1/b/(?P<bucket>[^/]+)/o/.+"), {"storage.objects.delete"}),
]
PUBSUB_METHODS: dict[str, tuple[str, str]] = {
    # gRPC method -> (permission, the request field naming the resource it acts on)
    "/google.pubsub.v1.Publisher/Publish": ("pubsub.topics.publish", "topic"),
    "/google.pubsub.v1.Publisher/GetTopic": ("pubsub.topics.get", "topic"),
    "/google.pubsub.v1.Subscriber/GetSubscription": ("pubsub.subscriptions.get", "subscription"),
    "/google.pubsub.v1.Subscriber/Pull": ("pubsub.subscriptions.consume", "subscription"),
    "/google.pubsub.v1.Subscriber/Acknowledge": ("pubsub.subscriptions.consume", "subscription"),
    "/google.pubsub.v1.Subscriber/ModifyAckDeadline": (
        "pubsub.subscriptions.consume",
        "subscription",
    ),
}


PROJECT_WIDE = f"projects/{PROJECT}"


@functools.cache
def stack_run(stack: str) -> Run:
    return run_stack(stack, computed=computed, invokes=INVOKES)


@dataclass
class Tier:
    """One tier as the stack declares it: the env its app gets, and what its account holds."""

    env: dict[str, str]
    granted: dict[str, set[str]] = field(default_factory=dict)  # resource -> permissions
    role_vars: dict[str, Any] = field(default_factory=dict)  # the rest of vars.yml

    def allows(self, resource: str, needed: set[str]) -> bool:
        return needed <= self.granted.get(resource, set()) | self.granted.get(PROJECT_WIDE, set())


def _resource_names(run: Run) -> dict[str, str]:
    """Pulumi id of each topic, subscription and secret -> its GCP resource name. The harness's
    mocks give every resource the id `<name>-id`; the bindings name their target by it."""
    kinds = {
        "gcp:pubsub/topic:Topic": "topics",
        "gcp:pubsub/subscription:Subscription": "subscriptions",
        "gcp:secretmanager/secret:Secret": "secrets",
    }
    names = {}
    for resource in run.resources:
        if resource.type in kinds:
            short = resource.inputs.get("name") or resource.inputs["secretId"]
            names[f"{resource.name}-id"] = f"projects/{PROJECT}/{kinds[resource.type]}/{short}"
    return names


def _target(binding: Registered, names: dict[str, str]) -> str:
    inputs = binding.inputs
    if "bucket" in inputs:
        return f"b/{inputs['bucket']}"
    for key in ("topic", "subscription", "secretId"):
        if key in inputs:
            assert inputs[key] in names, f"{binding.name}: unknown target {inputs[key]!r}"
            return names[inputs[key]]
    condition = inputs.get("condition")
    if condition is None:
        return PROJECT_WIDE
    match = re.fullmatch(r'resource\.name == "(.+)"', condition["expression"])
    assert match, f"{binding.name}: a condition this test cannot read"
    return match.group(1)


BINDING_TYPES = (
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:pubsub/topicIAMMember:TopicIAMMember",
    "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember",
    "gcp:secretmanager/secretIamMember:SecretIamMember",
)
HOST_ONLY_ROLES = {"roles/logging.logWriter", "roles/monitoring.metricWriter"}


def _tier(run: Run, name: str) -> Tier:
    template = run.one("gcp:compute/instanceTemplate:InstanceTemplate", f"{name}-template")
    member = f"serviceAccount:{template.inputs['serviceAccount']['email']}"
    variables = boot_vars(str(template.inputs["metadata"]["startup-script"]))
    tier = Tier(
        env={k: str(v) for k, v in variables["python_app_env"].items()}, role_vars=variables
    )
    names = _resource_names(run)
    roles = dict(ROLE_PERMISSIONS)  # and the stack's own custom roles, with what they list
    for custom in run.of_type("gcp:projects/iAMCustomRole:IAMCustomRole"):
        roles[custom.outputs["name"]] = set(custom.inputs["permissions"])
    for binding in run.resources:
        inputs = binding.inputs
        if inputs.get("member") != member or inputs.get("role") in HOST_ONLY_ROLES:
            continue
        if binding.type not in (*BINDING_TYPES, "gcp:projects/iAMMember:IAMMember"):
            continue
        role = inputs["role"]
        assert role in roles, f"{binding.name}: add {role} to ROLE_PERMISSIONS"
        tier.granted.setdefault(_target(binding, names), set()).update(roles[role])
    return tier


def _tiers() -> list[tuple[str, str]]:
    cases = []
    for stack in STACKS:
        blueprint = BLUEPRINTS[stack_config(stack)["tierstack:app"]]()
        cases += [(stack, t.name) for t in (blueprint.app, *blueprint.workers) if t]
    return cases


def _uses(stack: str, tier: str) -> dict[str, str]:
    """env var -> access ("read-write", "publish", ...) of a tier, from its blueprint."""
    blueprint = BLUEPRINTS[stack_config(stack)["tierstack:app"]]()
    spec = next(t for t in (blueprint.app, *blueprint.workers) if t and t.name == tier)
    return {use.env_var: use.access for use in spec.uses if use.env_var}


class Calls:
    """Every API call the backends make, with the resource it acts on and what it needs."""

    def __init__(self) -> None:
        self.made: list[tuple[str, str, set[str]]] = []  # (call, resource, permissions)

    def gcs(self, method: str, path: str) -> None:
        path = requests.utils.unquote(path.split("?", 1)[0])
        for verb, pattern, needed in GCS_METHODS:
            match = pattern.fullmatch(path)
            if verb == method and match:
                self.made.append((f"{method} {path}", f"b/{match['bucket']}", needed))
                return
        pytest.fail(f"unlisted Cloud Storage call {method} {path}: add it to GCS_METHODS")

    def pubsub(self, method: str, request: Any) -> None:
        if method not in PUBSUB_METHODS:
            pytest.fail(f"unlisted Pub/Sub call {method}: add it to PUBSUB_METHODS")
        permission, field_name = PUBSUB_METHODS[method]
        self.made.append((method, getattr(request, field_name), {permission}))


class _Recorder(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        self.calls.pubsub(details.method, request)
        return continuation(details, request)


@functools.cache
def _deployed(stack: str, gcs: str, pubsub: str) -> None:
    """Creates the stack's buckets, topics and subscriptions in the emulators, once per stack."""
    run = stack_run(stack)
    client = storage.Client(project=PROJECT)
    for bucket in run.of_type("gcp:storage/bucket:Bucket"):
        client.create_bucket(bucket.inputs["name"])
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topics = {}
    for topic in run.of_type("gcp:pubsub/topic:Topic"):
        path = publisher.topic_path(PROJECT, topic.inputs["name"])
        topics[f"{topic.name}-id"] = publisher.create_topic(name=path).name
    for subscription in run.of_type("gcp:pubsub/subscription:Subscription"):
        inputs = subscription.inputs
        request: dict[str, Any] = {
            "name": subscriber.subscription_path(PROJECT, inputs["name"]),
            "topic": topics[inputs["topic"]],
            "ack_deadline_seconds": int(inputs["ackDeadlineSeconds"]),
        }
        if inputs.get("deadLetterPolicy"):
            policy = inputs["deadLetterPolicy"]
            request["dead_letter_policy"] = {
                "dead_letter_topic": topics[policy["deadLetterTopic"]],
                "max_delivery_attempts": int(policy["maxDeliveryAttempts"]),
            }
        subscriber.create_subscription(request=request)


@pytest.mark.parametrize(("stack", "tier"), _tiers())
def test_tier_backends_call_only_what_the_stack_grants(
    stack: str,
    tier: str,
    gcs_emulator_host: str,
    pubsub_emulator_host: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator_host)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator_host)
    _deployed(stack, gcs_emulator_host, pubsub_emulator_host)
    declared = _tier(stack_run(stack), tier)
    uses = _uses(stack, tier)
    env = dict(declared.env)
    for variable in [v for v in env if v.endswith("_REF")]:
        # gcp-secretmanager://<secret>/versions/latest: AccessSecretVersion on that secret.
        secret = env.pop(variable).removeprefix("gcp-secretmanager://").rsplit("/versions/", 1)[0]
        assert declared.allows(secret, {"secretmanager.versions.access"}), f"{tier}: {variable}"
        env[variable.removesuffix("_REF")] = secrets.token_urlsafe(48)
    if "KV_URL" in env:
        database = env["KV_URL"].rsplit("?database=", 1)[1]
        resource = f"projects/{PROJECT}/databases/{database}"
        assert declared.allows(resource, {"datastore.entities.get", "datastore.entities.list"})

    admin = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()  # not recorded
    recorder = Calls()
    with monkeypatch.context() as patch:
        insecure_channel = grpc.insecure_channel

        def channel(*args: Any, **kwargs: Any) -> grpc.Channel:
            return grpc.intercept_channel(insecure_channel(*args, **kwargs), _Recorder(recorder))

        send = requests.Session.request

        def request(self: requests.Session, method: str, url: str, *args: Any, **kw: Any) -> Any:
            if url.startswith(gcs_emulator_host):
                recorder.gcs(method, url.removeprefix(gcs_emulator_host))
            return send(self, method, url, *args, **kw)

        patch.setattr(grpc, "insecure_channel", channel)
        patch.setattr(requests.Session, "request", request)
        settings = Settings.from_env(tier, env, web="SECRET_KEY" in env)
        backends = open_backends(
            settings, queue="QUEUE_URL" in uses, kv=False, db=False, mail=False
        )
        for name, check in backends.checks().items():
            if name not in ("kv", "db", "mail"):
                check()  # what /readyz runs
        if uses.get("OBJECT_STORE_URL") == "read-write":
            object_store_contract(backends.objects)
        elif "OBJECT_STORE_URL" in uses:
            backends.objects.list()
        if backends.queue is not None and uses["QUEUE_URL"] == "publish":
            backends.queue.send({"job_id": "from-the-app"})
        if backends.queue is not None and uses["QUEUE_URL"] == "consume":
            _consume(backends.queue, *admin)

    if {"OBJECT_STORE_URL", "QUEUE_URL"} & uses.keys():
        assert recorder.made, f"{tier}: the backends made no call at all"
    refused = [
        (call, resource, sorted(needed))
        for call, resource, needed in recorder.made
        if not declared.allows(resource, needed)
    ]
    assert refused == [], f"{stack} {tier}: IAM would refuse these calls"


def _consume(queue: Any, publisher: Any, subscriber: Any) -> None:
    """Receive and ack; then a poison message past max_deliveries is moved to the dead-letter
    topic by the backend itself and kept by the stack's dead-letter subscription. The test's own
    messages are published, and the dead letters read, with unrecorded clients."""
    assert isinstance(queue, PubSubQueue)
    publisher.publish(queue.topic, b'{"job_id": "j1"}').result(timeout=30)
    bodies: list[Any] = []
    while (message := queue.receive(wait=2)) is not None:  # the app tier's message may be first
        bodies.append(message.body)
        queue.ack(message)
    assert {"job_id": "j1"} in bodies
    marker = f"poison-{uuid.uuid4().hex[:8]}"
    publisher.publish(queue.topic, marker.encode()).result(timeout=30)
    for _ in range(queue.max_deliveries):
        message = queue.receive(wait=2)
        assert message is not None and message.body == marker
        queue.release(message)
    assert queue.receive(wait=2) is None  # moved, not handed out again
    response = subscriber.pull(
        request={"subscription": queue.dead_subscription, "max_messages": 10}, timeout=10
    )
    assert marker.encode() in [item.message.data for item in response.received_messages]


class _SecretManager:
    """Secret Manager holding what the stack stores: each secret it creates, by its name
    (project id or number), with the data of the version the stack adds. AccessSecretVersion of
    any other secret, or of a version other than `latest`, is NOT_FOUND. No Secret Manager
    emulator exists here: this checks names, not calls."""

    def __init__(self, run: Run) -> None:
        versions = {
            version.inputs["secret"]: revealed(version.inputs["secretData"])
            for version in run.of_type("gcp:secretmanager/secretVersion:SecretVersion")
        }
        self.values: dict[str, str] = {}
        for secret in run.of_type("gcp:secretmanager/secret:Secret"):
            for project in (PROJECT, PROJECT_NUMBER):
                name = f"projects/{project}/secrets/{secret.inputs['secretId']}"
                self.values[name] = versions[f"{secret.name}-id"]
        self.accessed: list[str] = []

    def access_secret_version(self, name: str) -> Any:
        secret, _, version = name.partition("/versions/")
        if secret not in self.values or version != "latest":
            raise LookupError(f"404 NOT_FOUND: {name}")
        self.accessed.append(secret.replace(f"/{PROJECT_NUMBER}/", f"/{PROJECT}/"))
        return SimpleNamespace(payload=SimpleNamespace(data=self.values[secret].encode()))


def _database_tiers() -> list[tuple[str, str]]:
    return [(stack, tier) for stack, tier in _tiers() if "DATABASE_URL" in _uses(stack, tier)]


@pytest.mark.parametrize(("stack", "tier"), _database_tiers())
def test_tier_database_is_the_database_the_stack_creates(
    stack: str,
    tier: str,
    postgres_tls: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """The Cloud SQL database and user, with the password the stack generated, are created in a
    local PostgreSQL server that, like the instance (ssl_mode ENCRYPTED_ONLY), takes only TLS
    with a password; the tier's DATABASE_URL, with only its host and port (the instance's private
    IP) pointed there and its sslrootcert at the test CA, opens the app's database: cloud-drive's
    schema migration, a registration and a login run as that user in that database. Its
    DATABASE_PASSWORD_REF is read from a stand-in holding exactly the secrets and versions the
    stack creates (no Secret Manager emulator exists here), and the tier's service account must
    hold secretAccessor on that secret."""
    run = stack_run(stack)
    [instance] = run.of_type("gcp:sql/databaseInstance:DatabaseInstance")
    [database] = run.of_type("gcp:sql/database:Database")
    [user] = run.of_type("gcp:sql/user:User")
    assert database.inputs["instance"] == user.inputs["instance"] == instance.inputs["name"]
    name, login = database.inputs["name"], user.inputs["name"]
    provision(postgres_tls.admin_dsn, name, login, revealed(user.inputs["password"]))
    declared = _tier(run, tier)
    store = _SecretManager(run)
    monkeypatch.setattr(secret_refs, "gcp_client", lambda: store)
    database_contract(
        declared.env,
        admin=admin_step_env(declared.role_vars),
        # Cloud SQL for PostgreSQL listens on 5432 ("Connect to Cloud SQL for PostgreSQL from
        # Compute Engine", cloud.google.com/sql/docs/postgres/connect-compute-engine).
        endpoint=f"{instance.outputs['privateIpAddress']}:5432",
        port=postgres_tls.port,
        ca_file=postgres_tls.ca_file,
        sslmode="verify-ca",
        database=name,
        user=login,
        tmp_path=tmp_path,
    )
    assert store.accessed, f"{tier}: the password was not read from Secret Manager"
    for secret in store.accessed:
        assert declared.allows(secret, {"secretmanager.versions.access"}), f"{tier}: {secret}"


@pytest.mark.parametrize(("stack", "tier"), _tiers())
def test_tier_secret_references_name_secrets_the_stack_creates_and_grants(
    stack: str, tier: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every *_REF the tier gets (SECRET_KEY_REF, DATABASE_PASSWORD_REF, SMTP_PASSWORD_REF) is
    read by the app's own resolver from a stand-in holding exactly the secrets the stack creates,
    and yields the very value the stack stored; the tier's account holds secretAccessor on each.
    No Secret Manager emulator exists here, so this checks names and grants, not calls."""
    run = stack_run(stack)
    declared = _tier(run, tier)
    references = {k: v for k, v in declared.env.items() if k.endswith("_REF")}
    store = _SecretManager(run)
    monkeypatch.setattr(secret_refs, "gcp_client", lambda: store)
    resolved = secret_refs.resolve_references(declared.env)
    assert len(store.accessed) == len(references), references
    for secret in store.accessed:
        assert declared.allows(secret, {"secretmanager.versions.access"}), f"{tier}: {secret}"
    if "SECRET_KEY_REF" in references:
        key_secret = references["SECRET_KEY_REF"].removeprefix("gcp-secretmanager://")
        assert resolved["SECRET_KEY"] == store.values[key_secret.split("/versions/")[0]]
