"""IoTIngest: what devices may do and where their messages go."""

from __future__ import annotations

from stacks.aws import IoTIngest, Queue
from stacks.blueprints import model
from stacks.common.args import IoTIngestArgs, QueueArgs
from tests.stacks.aws.conftest import ACCOUNT, REGION, computed
from tests.stacks.aws.support import document, network
from tests.stacks.harness import run_pulumi


def test_iot_policy_lets_a_device_connect_as_itself_and_publish_to_its_topic(context):
    def program():
        queue = Queue("telemetry", QueueArgs(context, model.Queue("telemetry", "t")))
        spec = model.IoTIngest("ingest", "t", "devices/+/telemetry", "telemetry")
        IoTIngest("ingest", IoTIngestArgs(context, spec, network(context), queue))

    run = run_pulumi(program, computed=computed)
    connect, publish = document(run.one("aws:iot/policy:Policy"))["Statement"]
    base = f"arn:aws:iot:{REGION}:{ACCOUNT}"
    assert connect["Action"] == "iot:Connect"
    assert connect["Resource"] == f"{base}:client/${{iot:Connection.Thing.ThingName}}"
    assert publish == {
        "Effect": "Allow",
        "Action": "iot:Publish",
        "Resource": f"{base}:topic/devices/${{iot:Connection.Thing.ThingName}}/telemetry",
    }
    rule = run.one("aws:iot/topicRule:TopicRule").inputs
    assert rule["sql"] == "SELECT * FROM 'devices/+/telemetry'"
    assert rule["name"] == "image_processing_dev_ingest"
    queue_url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/image-processing-dev-telemetry"
    assert rule["sqs"][0]["queueUrl"] == queue_url
    statements = document(run.one("aws:iam/rolePolicy:RolePolicy", "ingest-rule"))["Statement"]
    assert statements[0] == {
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:image-processing-dev-telemetry",
    }
