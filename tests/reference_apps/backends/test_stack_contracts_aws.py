"""Stack <-> app contracts on AWS: every data resource of each AWS stack is created in the moto
server from the stack's own resolved inputs (table key schema and TTL, queue and dead-letter
names and redrive policy, bucket, secret, the SES sender), each tier gets an IAM user holding
exactly the inline policy the stack grants that tier's role, and the app's backends, opened from
the environment the stack writes into the tier's vars.yml, run against it under that user with
moto's IAM enforcement on. A key name the backend does not write, a grant the backend needs and
the stack omits, or a region the host is not told fails here, not at the first `pulumi up`.

moto evaluates IAM policies against the resource ARN only where its handler names one (SQS calls
with a queue URL, S3); for DynamoDB, Secrets Manager, SES and SQS GetQueueUrl it checks against
"*", which no least-privilege policy allows. `_name_resources` fills in the ARN those requests
act on, so every call is judged by the real policy evaluator against the right resource."""

from __future__ import annotations

import contextlib
import functools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests
from backend_contracts import kv_contract, object_store_contract
from database_contract import admin_step_env, database_contract, provision, revealed

from reference_apps.backends import KeyValue, Settings, open_backends
from reference_apps.backends.kv import DynamoKeyValue
from reference_apps.backends.queue import SqsQueue
from stacks.blueprints import BLUEPRINTS
from tests.moto_resources import create_queue, create_table
from tests.stacks.aws.conftest import REGION, computed
from tests.stacks.aws.support import is_secret, user_data
from tests.stacks.harness import Run, run_stack, stack_config, stack_names

STACKS = stack_names("aws")


@functools.cache
def stack_run(stack: str) -> Run:
    return run_stack(stack, computed=computed)


@dataclass
class Deployed:
    """What the stack created in moto: per tier, the app environment and the user's keys."""

    env: dict[str, dict[str, str]] = field(default_factory=dict)
    admin: dict[str, dict[str, str]] = field(default_factory=dict)  # root's app-role step
    keys: dict[str, dict[str, str]] = field(default_factory=dict)
    dead_letter: dict[str, str] = field(default_factory=dict)  # queue name -> its DLQ name
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> stack inputs
    inspector: dict[str, str] = field(default_factory=dict)


def _name_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.responses import DynamoHandler
    from moto.s3.responses import ACTION_MAP
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.ses.responses import EmailResponse
    from moto.sqs.responses import SQSResponse

    def dynamodb(self: Any) -> str:
        table = (getattr(self, "params", None) or {}).get("TableName")
        return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{table}"

    def secret(self: Any) -> str:
        secret_id = self._get_param("SecretId") or "*"
        return secret_id if secret_id.startswith("arn:") else "*"

    def ses(self: Any) -> str:
        # SendRawEmail is authorised against the sending identity ("Amazon SES API
        # permissions reference", SES developer guide): the sender's domain here.
        source = self._get_param("Source") or ""
        domain = source.rpartition("@")[2]
        return (
            f"arn:aws:ses:{self.region}:{self.current_account}:identity/{domain}" if domain else "*"
        )

    queue_resource = SQSResponse._determine_resource

    def sqs(self: Any) -> str:
        name = self._get_param("QueueName")
        if name and not self._get_param("QueueUrl"):
            return f"arn:aws:sqs:{self.region}:{self.current_account}:{name}"
        return queue_resource(self)

    # HeadBucket is authorised by s3:ListBucket ("To use this operation, you must have
    # permissions to perform the s3:ListBucket action", S3 API reference, HeadBucket); moto
    # asks for an "s3:HeadBucket" action that IAM does not have.
    monkeypatch.setitem(ACTION_MAP["BUCKET"]["HEAD"], "DEFAULT", "ListBucket")
    monkeypatch.setattr(DynamoHandler, "_determine_resource", dynamodb, raising=False)
    monkeypatch.setattr(SecretsManagerResponse, "_determine_resource", secret, raising=False)
    monkeypatch.setattr(SQSResponse, "_determine_resource", sqs)
    monkeypatch.setattr(EmailResponse, "_determine_resource", ses, raising=False)


@contextlib.contextmanager
def _enforcing(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """IAM enforcement on for the calls inside; off again afterwards (the server is shared)."""
    _name_resources(monkeypatch)
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    try:
        yield
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)


ADMIN_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
"""Set up with the root keys; checked, while IAM is enforced, with an IAM user allowed all."""


def _admin(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **ADMIN_KEYS)


def _inspector(service: str, endpoint: str, deployed: Deployed) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **deployed.inspector)


@functools.cache
def _deployed(stack: str, endpoint: str) -> Deployed:
    """Creates the stack's data resources and tier users in moto once per stack and server."""
    run = stack_run(stack)
    deployed = Deployed()
    real: dict[str, str] = {}  # value the mocks computed -> value moto computed
    sqs, dynamodb = _admin("sqs", endpoint), _admin("dynamodb", endpoint)
    queues = sorted(run.of_type("aws:sqs/queue:Queue"), key=lambda q: "redrivePolicy" in q.inputs)
    for queue in queues:  # dead-letter queues first: the redrive policies name them
        create_queue(sqs, queue.inputs)
        if queue.inputs.get("redrivePolicy"):
            target = json.loads(queue.inputs["redrivePolicy"])["deadLetterTargetArn"]
            deployed.dead_letter[queue.inputs["name"]] = target.rsplit(":", 1)[1]
    for table in run.of_type("aws:dynamodb/table:Table"):
        create_table(dynamodb, table.inputs)
        deployed.tables[table.inputs["name"]] = table.inputs
    for bucket in run.of_type("aws:s3/bucket:Bucket"):
        _admin("s3", endpoint).create_bucket(
            Bucket=bucket.outputs["bucket"],
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
    secrets = _admin("secretsmanager", endpoint)
    versions = {
        v.inputs["secretId"]: v.inputs["secretString"]
        for v in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
    }
    for secret in run.of_type("aws:secretsmanager/secret:Secret"):
        value = versions[f"{secret.name}-id"]
        created = secrets.create_secret(
            Name=secret.inputs["name"], SecretString=value["value"] if is_secret(value) else value
        )
        real[secret.outputs["arn"]] = created["ARN"]

    def substitute(text: str) -> str:
        for mocked, actual in real.items():
            text = text.replace(mocked, actual)
        return text

    iam = _admin("iam", endpoint)
    inspector = f"{stack}-inspector-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=inspector)
    everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    iam.put_user_policy(
        UserName=inspector,
        PolicyName="all",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [everything]}),
    )
    key = iam.create_access_key(UserName=inspector)["AccessKey"]
    deployed.inspector = {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }
    for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        tier = template.name
        variables = user_data(template)[2]
        deployed.env[tier] = {
            key: substitute(str(value)) for key, value in variables["python_app_env"].items()
        }
        if "blueprint_host_database_admin_user" in variables:
            deployed.admin[tier] = {
                key: substitute(value) for key, value in admin_step_env(variables).items()
            }
        user = f"{stack}-{tier}-{uuid.uuid4().hex[:6]}"
        iam.create_user(UserName=user)
        policy = run.one("aws:iam/rolePolicy:RolePolicy", f"{tier}-identity-grants")
        iam.put_user_policy(
            UserName=user, PolicyName="grants", PolicyDocument=substitute(policy.inputs["policy"])
        )
        key = iam.create_access_key(UserName=user)["AccessKey"]
        deployed.keys[tier] = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
    return deployed


def _as_tier(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, deployed: Deployed, tier: str
) -> dict[str, str]:
    """The process environment of the tier's app on its host: only what the stack wrote (no
    region from the test machine), the tier's own credentials, the emulator's endpoint."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches the first keys it saw
    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    env = {**deployed.env[tier], **deployed.keys[tier], "AWS_ENDPOINT_URL": endpoint}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def _uses(stack: str, tier: str) -> dict[str, str]:
    """env var -> access ("read-write", "publish", ...) of a tier, from its blueprint."""
    config = stack_config(stack)
    blueprint = BLUEPRINTS[config["tierstack:app"]]()
    spec = next(t for t in (blueprint.app, *blueprint.workers) if t and t.name == tier)
    return {use.env_var: use.access for use in spec.uses if use.env_var}


def _tiers() -> list[tuple[str, str]]:
    cases = []
    for stack in STACKS:
        blueprint = BLUEPRINTS[stack_config(stack)["tierstack:app"]]()
        cases += [(stack, t.name) for t in (blueprint.app, *blueprint.workers) if t]
    return cases


class _Composite(KeyValue):
    """kv_contract's plain keys as '<partition>#<sort>' keys, for a table with a sort key."""

    def __init__(self, inner: KeyValue) -> None:
        self.inner = inner

    def get(self, key: str) -> Any:
        return self.inner.get(f"{key}#2026-11-30T12:00:00Z")

    def put(self, key: str, item: Any) -> None:
        self.inner.put(f"{key}#2026-11-30T12:00:00Z", item)

    def delete(self, key: str) -> None:
        self.inner.delete(f"{key}#2026-11-30T12:00:00Z")

    def check(self) -> None:
        self.inner.check()


@pytest.mark.parametrize(("stack", "tier"), _tiers())
def test_tier_backends_work_under_exactly_the_stacks_grant(
    stack: str, tier: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = _deployed(stack, moto_endpoint)
    uses = _uses(stack, tier)
    with _enforcing(moto_endpoint, monkeypatch):
        env = _as_tier(monkeypatch, moto_endpoint, deployed, tier)
        settings = Settings.from_env(tier, env, web="SECRET_KEY_REF" in env)
        mail = "MAIL_URL" in uses
        backends = open_backends(
            settings, queue="QUEUE_URL" in uses, kv="KV_URL" in uses, db=False, mail=mail
        )
        for name, check in backends.checks().items():
            if name != "mail":  # mail's check runs only in /readyz, and no web tier mails
                check()  # what /readyz runs
        if backends.mail is not None:
            _send_mail(deployed, backends.mail, moto_endpoint)
        if uses.get("OBJECT_STORE_URL") == "read-write":
            object_store_contract(backends.objects)
        elif "OBJECT_STORE_URL" in uses:
            backends.objects.list()
        if backends.kv is not None and uses["KV_URL"] == "read-write":
            assert isinstance(backends.kv, DynamoKeyValue)
            table = deployed.tables[backends.kv.table.name]
            composite = bool(table.get("rangeKey"))
            kv_contract(_Composite(backends.kv) if composite else backends.kv)
            backends.kv.put("expiring#1" if composite else "expiring", {"status": "done"})
        if backends.queue is not None and uses["QUEUE_URL"] == "publish":
            backends.queue.send({"job_id": "from-the-app"})
        if backends.queue is not None and uses["QUEUE_URL"] == "consume":
            _consume(deployed, backends.queue, moto_endpoint)
    if backends.kv is not None and uses["KV_URL"] == "read-write":
        _assert_expiry_written(moto_endpoint, table)


def _send_mail(deployed: Deployed, mailer: Any, endpoint: str) -> None:
    """The tier sends through SES as the sender its MAIL_URL names (verified first, as the
    README's first-deploy prerequisites ask), under its own policy."""
    _inspector("ses", endpoint, deployed).verify_domain_identity(
        Domain=mailer.sender.rpartition("@")[2]
    )
    mailer.send("someone@example.org", "Your job is done", "Download it from the link.")


def _consume(deployed: Deployed, queue: Any, endpoint: str) -> None:
    """Receive and ack; then a poison message past max_deliveries lands in the dead-letter
    queue, moved by the backend itself (a limit below the redrive policy's makes it do so)."""
    admin = _inspector("sqs", endpoint, deployed)
    admin.send_message(QueueUrl=queue.url, MessageBody=json.dumps({"job_id": "j1"}))
    bodies: list[Any] = []
    while (message := queue.receive(wait=1)) is not None:  # the app tier's message may be first
        bodies.append(message.body)
        queue.ack(message)
    assert {"job_id": "j1"} in bodies
    strict = SqsQueue(queue.name, 1, 30)
    admin.send_message(QueueUrl=queue.url, MessageBody="poison")
    first = strict.receive(wait=1)
    assert first is not None and first.body == "poison"
    strict.release(first)
    assert strict.receive(wait=1) is None  # moved, not handed out again
    dead = admin.get_queue_url(QueueName=deployed.dead_letter[queue.name])["QueueUrl"]
    bodies = [m["Body"] for m in admin.receive_message(QueueUrl=dead).get("Messages", [])]
    assert bodies == ["poison"]


def _assert_expiry_written(endpoint: str, table: dict[str, Any]) -> None:
    """DynamoDB's TTL deletes only items carrying the table's TTL attribute as a number."""
    if not (table.get("ttl") or {}).get("enabled"):
        return
    key = {table["hashKey"]: {"S": "expiring"}}
    if table.get("rangeKey"):
        key[table["rangeKey"]] = {"S": "1"}
    item = _admin("dynamodb", endpoint).get_item(TableName=table["name"], Key=key)["Item"]
    expires = int(item[table["ttl"]["attributeName"]]["N"])
    assert time.time() + 86400 < expires < time.time() + 400 * 86400


def _database_tiers() -> list[tuple[str, str]]:
    return [(stack, tier) for stack, tier in _tiers() if "DATABASE_URL" in _uses(stack, tier)]


@pytest.mark.parametrize(("stack", "tier"), _database_tiers())
def test_tier_database_is_the_database_the_stack_creates(
    stack: str,
    tier: str,
    moto_endpoint: str,
    postgres_tls: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    """The RDS instance's database and master user, with the password the stack generated, are
    created in a local PostgreSQL server that, like RDS with rds.force_ssl, takes only TLS with a
    password; the tier's DATABASE_URL, with only its host and port (the instance's endpoint)
    pointed there and its sslrootcert at the test CA, and its DATABASE_PASSWORD_REF, read from
    the Secrets Manager secret in moto under exactly the tier's policy, open the app's database:
    cloud-drive's schema migration, a registration and a login run as that user in that
    database. A database name, user name, password key or URL form the stack and the instance
    disagree on fails here."""
    run = stack_run(stack)
    [instance] = run.of_type("aws:rds/instance:Instance")
    inputs = instance.inputs
    provision(
        postgres_tls.admin_dsn, inputs["dbName"], inputs["username"], revealed(inputs["password"])
    )
    deployed = _deployed(stack, moto_endpoint)
    with _enforcing(moto_endpoint, monkeypatch):
        env = _as_tier(monkeypatch, moto_endpoint, deployed, tier)
        database_contract(
            env,
            admin=deployed.admin[tier],
            endpoint=f"{instance.outputs['address']}:{int(inputs['port'])}",
            port=postgres_tls.port,
            ca_file=postgres_tls.ca_file,
            sslmode="verify-full",
            database=inputs["dbName"],
            user=inputs["username"],
            tmp_path=tmp_path,
        )
