"""Notifications: the topic / mail settings and their grants."""

from __future__ import annotations

from stacks.blueprints.model import Notifications as NotificationsSpec
from stacks.common.args import NotificationsArgs, StackContext
from stacks.gcp import Notifications
from tests.stacks.gcp.conftest import run

MEMBER = "serviceAccount:tier@tierstack-dev.iam.gserviceaccount.com"


def test_notifications_topic_and_smtp_relay(context: StackContext) -> None:
    def program() -> dict:
        channel = Notifications(
            "job-done", NotificationsArgs(context, NotificationsSpec("job-done", "t"))
        )
        channel.bind("runner-job-done-publish", MEMBER, "publish", channel)
        return {"url": channel.backend_url, "name": channel.physical_name}

    result = run(program)
    assert result.result == {
        "url": "smtp://smtp-relay.gmail.com:587",
        "name": "image-processing-dev-job-done",
    }
    grant = result.one("gcp:pubsub/topicIAMMember:TopicIAMMember").inputs
    assert (grant["topic"], grant["role"]) == ("job-done-topic-id", "roles/pubsub.publisher")
