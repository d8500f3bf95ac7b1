"""WorkerTier on AWS: scaling on the queue backlog per instance, resolved."""

from __future__ import annotations

from tests.stacks.aws.conftest import computed
from tests.stacks.aws.support import app_stack
from tests.stacks.harness import run_pulumi


def test_worker_scales_on_backlog_per_instance(context):
    run = run_pulumi(lambda: app_stack(context), computed=computed)
    backlog = run.one("aws:autoscaling/policy:Policy", "worker-backlog").inputs
    tracking = backlog["targetTrackingConfiguration"]
    assert tracking["targetValue"] == 7
    metrics = {m["id"]: m for m in tracking["customizedMetricSpecification"]["metrics"]}
    assert metrics["visible"]["metricStat"]["metric"]["dimensions"] == [
        {"name": "QueueName", "value": "image-processing-dev-jobs"}
    ]
    assert metrics["running"]["metricStat"]["metric"]["dimensions"] == [
        {"name": "AutoScalingGroupName", "value": "image-processing-dev-worker"}
    ]
    assert metrics["backlog"]["expression"] == "IF(running > 0, visible / running, visible)"
    worker = run.one("aws:autoscaling/group:Group", "worker").inputs
    assert worker["enabledMetrics"] == ["GroupInServiceInstances"]
