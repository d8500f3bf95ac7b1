"""Alarms: the alert policies and where they go."""

from __future__ import annotations

from typing import Any

from tests.stacks.gcp.conftest import PROJECT_NUMBER
from tests.stacks.gcp.support import stack


def test_alarms_watch_errors_backlog_dead_letters_and_cpu() -> None:
    result = stack("image-processing")
    policies = {p.name: p.inputs for p in result.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}
    assert set(policies) == {
        "server-errors",
        "filter-jobs-backlog-age",
        "filter-jobs-dead-letters",
        "web-cpu",
        "filter-worker-cpu",
    }

    def condition(name: str) -> dict[str, Any]:
        return policies[name]["conditions"][0]["conditionThreshold"]

    assert (
        'url_map_name = "image-processing-dev-web-lb-https"' in condition("server-errors")["filter"]
    )
    assert "response_code_class = 500" in condition("server-errors")["filter"]
    assert (
        'subscription_id = "image-processing-dev-filter-jobs-sub"'
        in (condition("filter-jobs-backlog-age")["filter"])
    )
    assert condition("filter-jobs-backlog-age")["thresholdValue"] == 900
    assert (
        'subscription_id = "image-processing-dev-filter-jobs-sub-dead-letter"'
        in (condition("filter-jobs-dead-letters")["filter"])
    )
    assert (
        'metadata.user_labels."tier" = "filter-worker"' in condition("filter-worker-cpu")["filter"]
    )
    channel = result.one("gcp:monitoring/notificationChannel:NotificationChannel", "alerts-topic")
    assert channel.inputs["labels"] == {"topic": "alerts-id"}
    for policy in policies.values():
        assert policy["notificationChannels"] == [channel.outputs["name"]]
    agent = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-monitoring-notification"
    publisher = result.one("gcp:pubsub/topicIAMMember:TopicIAMMember", "alerts-publisher").inputs
    assert publisher["topic"] == "alerts-id"
    assert publisher["member"] == f"{agent}.iam.gserviceaccount.com"
