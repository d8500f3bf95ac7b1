"""Alarms: what is watched and where alerts go."""

from __future__ import annotations

from stacks.aws import Alarms, Queue
from stacks.blueprints import model
from stacks.common.args import AlarmsArgs, QueueArgs
from tests.stacks.aws.conftest import ACCOUNT, REGION, computed
from tests.stacks.aws.support import document
from tests.stacks.harness import run_pulumi


def test_alarms_cover_queue_age_dead_letters_and_go_to_an_encrypted_topic(prod_context):
    def program():
        queue = Queue("jobs", QueueArgs(prod_context, model.Queue("jobs", "t")))
        Alarms("alarms", AlarmsArgs(prod_context, None, [queue], []))

    run = run_pulumi(program, computed=computed)
    alarms = {a.name: a.inputs for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert sorted(alarms) == ["alarms-jobs-dead-letters", "alarms-jobs-oldest-message"]
    age = alarms["alarms-jobs-oldest-message"]
    assert (age["metricName"], age["threshold"]) == ("ApproximateAgeOfOldestMessage", 900)
    assert age["dimensions"] == {"QueueName": "image-processing-prod-jobs"}
    assert alarms["alarms-jobs-dead-letters"]["dimensions"] == {
        "QueueName": "image-processing-prod-jobs-dlq"
    }
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:image-processing-prod-alerts"
    assert all(a["alarmActions"] == [topic_arn] for a in alarms.values())
    key_arn = run.one("aws:kms/key:Key").outputs["arn"]
    assert run.one("aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == key_arn
    statements = document(run.one("aws:kms/keyPolicy:KeyPolicy"))["Statement"]
    assert statements[1]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statements[1]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    subscription = run.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "ops@x.io")
