"""The AWS APIs a booted AWS VM calls, served by a moto server on the test network.

The data resources are created from each stack's own resolved inputs (queue and dead-letter
names, table key schema, bucket names, secrets), so an app VM reads its session key by the very
ARN its user data names and its /readyz reaches the queue, table and bucket the stack declared.
What stands in for AWS itself, and why, is said where it happens: the endpoint and the keys come
from a drop-in for every service (the VM's DNS and instance role cannot be reproduced here), and
no IAM is enforced on this path (the stack <-> app contract tests in
tests/reference_apps/backends/ judge every call against the stack's exact grants).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import boto3

from tests.moto_resources import create_queue, create_table
from tierstack.mocks import run_stack_resolved

KEYS = {"aws_access_key_id": "boot-test", "aws_secret_access_key": "boot-test"}


def service_drop_in(endpoint: str) -> str:
    """/etc/systemd/system/service.d/ drop-in: what every unit on the VM gets."""
    return (
        "# The boot test's stand-in for the AWS APIs (DNS) and the instance role (keys).\n"
        "[Service]\n"
        f"Environment=AWS_ENDPOINT_URL={endpoint}\n"
        f"Environment=AWS_ACCESS_KEY_ID={KEYS['aws_access_key_id']}\n"
        f"Environment=AWS_SECRET_ACCESS_KEY={KEYS['aws_secret_access_key']}\n"
    )


def seed(stack: str, endpoint: str, environments: list[dict[str, str]]) -> None:
    """Creates the stack's queues, tables and buckets in moto from its resolved inputs, and every
    secret its tiers' environments refer to, under the last part of the full ARN they name (moto
    looks a full ARN up by that name)."""
    region = environments[0]["AWS_DEFAULT_REGION"]

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name=region, **KEYS)

    run = run_stack_resolved(stack)
    sqs, dynamodb, s3 = client("sqs"), client("dynamodb"), client("s3")
    queues = sorted(run.of_type("aws:sqs/queue:Queue"), key=lambda q: "redrivePolicy" in q.inputs)
    for queue in queues:  # dead-letter queues first: the redrive policies name them
        create_queue(sqs, queue.inputs)
    for table in run.of_type("aws:dynamodb/table:Table"):
        create_table(dynamodb, table.inputs)
    for bucket in run.of_type("aws:s3/bucket:Bucket"):
        s3.create_bucket(
            Bucket=bucket.outputs["bucket"],
            CreateBucketConfiguration={"LocationConstraint": region},
        )
    store = client("secretsmanager")
    references = {
        value.removeprefix("aws-secretsmanager://")
        for environment in environments
        for value in environment.values()
        if value.startswith("aws-secretsmanager://")
    }
    for reference in sorted(references):
        arn, _, json_key = reference.partition("#")
        value = secrets.token_urlsafe(48)
        text = json.dumps({json_key: value}) if json_key else value
        store.create_secret(Name=arn.rsplit(":", 1)[1], SecretString=text)
