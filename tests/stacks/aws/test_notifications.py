"""Notifications: the topic / mail settings and their grants."""

from __future__ import annotations

from stacks.aws import Notifications
from stacks.blueprints import model
from stacks.common.args import NotificationsArgs
from tests.stacks.aws.conftest import ACCOUNT, REGION, computed
from tests.stacks.harness import run_pulumi


def test_notifications_topic_is_encrypted_and_grant_is_scoped(context):
    def program():
        channel = Notifications(
            "job-done", NotificationsArgs(context, model.Notifications("job-done", "t"))
        )
        return {"url": channel.backend_url, "grant": channel.policy_statements("publish")}

    run = run_pulumi(program, computed=computed)
    assert run.result["url"] == f"ses://{REGION}"
    assert run.one("aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == "alias/aws/sns"
    config_set = run.one("aws:sesv2/configurationSet:ConfigurationSet").inputs
    assert config_set["deliveryOptions"] == {"tlsPolicy": "REQUIRE"}
    publish, mail = run.result["grant"]
    assert publish["Resource"] == [f"arn:aws:sns:{REGION}:{ACCOUNT}:image-processing-dev-job-done"]
    assert mail["Resource"] == [
        f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/image-processing-dev-job-done",
        f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/*",
    ]
