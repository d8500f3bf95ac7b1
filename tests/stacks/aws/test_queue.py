"""Queue: the queue, its dead letters and its grants, as resolved inputs."""

from __future__ import annotations

import json

from stacks.aws import Queue
from stacks.blueprints import model
from stacks.common.args import QueueArgs
from tests.stacks.aws.conftest import ACCOUNT, REGION, computed
from tests.stacks.aws.support import document
from tests.stacks.harness import run_pulumi


def test_queue_has_encrypted_dead_letter_queue_with_redrive(context):
    spec = model.Queue("jobs", "t", visibility_timeout_seconds=300, max_deliveries=4)

    def program():
        queue = Queue("jobs", QueueArgs(context, spec))
        return {"url": queue.backend_url, "publish": queue.policy_statements("publish")}

    run = run_pulumi(program, computed=computed)
    assert run.result["url"] == "sqs://image-processing-dev-jobs"
    main, dead = run.one("aws:sqs/queue:Queue", "jobs"), run.one("aws:sqs/queue:Queue", "jobs-dlq")
    dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:image-processing-dev-jobs-dlq"
    assert json.loads(main.inputs["redrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": 4,
    }
    assert main.inputs["visibilityTimeoutSeconds"] == 300
    assert main.inputs["sqsManagedSseEnabled"] is True
    assert dead.inputs["sqsManagedSseEnabled"] is True
    allow = json.loads(
        run.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy").inputs["redriveAllowPolicy"]
    )
    assert allow == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [f"arn:aws:sqs:{REGION}:{ACCOUNT}:image-processing-dev-jobs"],
    }
    for queue_policy in run.of_type("aws:sqs/queuePolicy:QueuePolicy"):
        [deny] = document(queue_policy)["Statement"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [publish] = run.result["publish"]
    assert publish["Resource"] == [f"arn:aws:sqs:{REGION}:{ACCOUNT}:image-processing-dev-jobs"]
    assert "sqs:ReceiveMessage" not in publish["Action"]
