"""Alarms: the metric alerts and where they go."""

from __future__ import annotations


def test_alarms_watch_5xx_queue_and_cpu_and_mail_operators(dev):
    group = dev.one("azure-native:monitor:ActionGroup").inputs
    assert group["emailReceivers"][0]["emailAddress"] == "ops@example.org"
    alerts = {
        a.inputs["ruleName"]: a.inputs for a in dev.of_type("azure-native:monitor:MetricAlert")
    }
    assert set(alerts) == {
        "image-processing-dev-gateway-5xx",
        "image-processing-dev-jobs-backlog",
        "image-processing-dev-jobs-dead-letters",
        "image-processing-dev-web-cpu",
        "image-processing-dev-filter-worker-cpu",
    }
    five_xx = alerts["image-processing-dev-gateway-5xx"]
    assert five_xx["scopes"] == ["web-lb-agw-id"]
    criterion = five_xx["criteria"]["allOf"][0]
    assert criterion["metricName"] == "ResponseStatus"
    assert criterion["dimensions"] == [
        {"name": "HttpStatusGroup", "operator": "Include", "values": ["5xx"]}
    ]
    assert alerts["image-processing-dev-web-cpu"]["scopes"] == ["web-vmss-id"]
    for alert in alerts.values():
        assert alert["actions"] == [{"actionGroupId": "alarms-action-group-id"}]
