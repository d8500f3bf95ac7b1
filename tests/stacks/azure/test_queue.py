"""Queue: the queue, its dead letters and its grants, as resolved inputs."""

from __future__ import annotations

from stacks.azure import Queue
from stacks.blueprints.model import Queue as QueueSpec
from stacks.common.args import QueueArgs
from tests.stacks.azure.conftest import make_context, with_network


def test_queue_dead_letters_and_has_no_keys(run_azure):
    context = make_context()
    spec = QueueSpec("jobs", "work", visibility_timeout_seconds=900, max_deliveries=4)

    def build(net):
        return Queue("jobs", QueueArgs(context, spec, network=net)).backend_url

    run = run_azure(with_network(context, build))
    namespace = run.one("azure-native:servicebus:Namespace").inputs
    assert namespace["disableLocalAuth"] is True
    assert namespace["minimumTlsVersion"] == "1.2"
    queue = run.one("azure-native:servicebus:Queue").inputs
    assert queue["maxDeliveryCount"] == 4
    assert queue["deadLetteringOnMessageExpiration"] is True
    assert queue["lockDuration"] == "PT300S"  # clamped to Service Bus's 5-minute maximum
    assert queue["defaultMessageTimeToLive"] == "PT345600S"
    assert run.result == f"servicebus://{namespace['namespaceName']}/jobs"
    for resource in run.resources:
        assert "connectionString" not in resource.outputs
