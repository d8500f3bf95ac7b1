"""WorkerTier on GCP: templates, groups and scaling on the subscription backlog, resolved."""

from __future__ import annotations

import pytest

from stacks.blueprints.settings import APPS
from tests.stacks.gcp.support import AUTOSCALER, MIG, TEMPLATE, app_blueprint, stack, startup_vars

FIREWALL = "gcp:compute/firewall:Firewall"


def test_worker_scales_on_its_subscription_backlog_and_takes_no_traffic() -> None:
    result = stack("image-processing")
    policy = result.one(AUTOSCALER, "filter-worker-autoscaler").inputs["autoscalingPolicy"]
    assert policy["metrics"] == [
        {
            "name": "pubsub.googleapis.com/subscription/num_undelivered_messages",
            "filter": "resource.type = pubsub_subscription AND resource.labels.subscription_id"
            ' = "image-processing-dev-filter-jobs-sub"',
            "singleInstanceAssignment": 10,
        }
    ]
    assert "cpuUtilization" not in policy
    template = result.one(TEMPLATE, "filter-worker-template").inputs
    assert template["tags"] == ["image-processing-dev-vm"]
    assert startup_vars(result.one(TEMPLATE, "filter-worker-template"))["tierstack_tier"] == (
        "worker"
    )
    group = result.one(MIG, "filter-worker-group").inputs
    assert "namedPorts" not in group or group["namedPorts"] == []
    firewall_targets = {tag for f in result.of_type(FIREWALL) for tag in f.inputs["targetTags"]}
    assert firewall_targets == {"image-processing-dev-vm", "image-processing-dev-web-lb-backend"}


@pytest.mark.parametrize("app", APPS)
def test_worker_tiers_run_in_production_without_the_session_key(app: str) -> None:
    result = stack(app)
    for worker in app_blueprint(app).workers:
        env = startup_vars(result.one(TEMPLATE, f"{worker.name}-template"))["python_app_env"]
        assert env["APP_ENV"] == "production", worker.name
        assert "SECRET_KEY_REF" not in env, worker.name
        assert ("DATABASE_PASSWORD_REF" in env) == ("DATABASE_URL" in env), worker.name
