"""TierIdentity on AWS: a role granted exactly the resources its tier uses, resolved."""

from __future__ import annotations

from tests.stacks.aws.conftest import ACCOUNT, REGION, computed
from tests.stacks.aws.support import (
    DB_APP_SECRET_ARN,
    DB_SECRET_ARN,
    SESSION_KEY_ARN,
    app_stack,
    document,
)
from tests.stacks.harness import run_pulumi

BUCKET_ARN = "arn:aws:s3:::image-processing-dev-images-20260101abcdef"


QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:image-processing-dev-jobs"


def test_identity_grants_exactly_the_used_resources(context):
    run = run_pulumi(lambda: app_stack(context), computed=computed)
    statements = document(run.one("aws:iam/rolePolicy:RolePolicy", "web-identity-grants"))[
        "Statement"
    ]
    resources = sorted(r for s in statements for r in s["Resource"])
    assert resources == sorted(
        # The database: the app role's secret, and the master's for root's converge step.
        [
            BUCKET_ARN,
            f"{BUCKET_ARN}/*",
            QUEUE_ARN,
            DB_APP_SECRET_ARN,
            DB_SECRET_ARN,
            SESSION_KEY_ARN,
        ]
    )
    assert all("*" not in s["Action"] for s in statements)
    actions = {a for s in statements for a in s["Action"]}
    assert "sqs:SendMessage" in actions and "sqs:ReceiveMessage" not in actions
    [worker, dead_letter] = document(
        run.one("aws:iam/rolePolicy:RolePolicy", "worker-identity-grants")
    )["Statement"]
    assert worker["Resource"] == [QUEUE_ARN]
    assert "sqs:DeleteMessage" in worker["Action"] and "sqs:SendMessage" not in worker["Action"]
    # The consumer moves a poison message to the dead-letter queue itself: send there, no more.
    assert dead_letter["Resource"] == [f"{QUEUE_ARN}-dlq"]
    assert sorted(dead_letter["Action"]) == [
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
    ]
    # No managed policy and no Session Manager grant: operators come in through an EC2 Instance
    # Connect Endpoint, which needs nothing on the host's identity. Each tier has one policy.
    assert run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    policies = [
        r.name for r in run.of_type("aws:iam/rolePolicy:RolePolicy") if "-identity" in r.name
    ]
    assert policies and all(name.endswith("-identity-grants") for name in policies), policies
    trust = document(run.one("aws:iam/role:Role", "web-identity"), "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
