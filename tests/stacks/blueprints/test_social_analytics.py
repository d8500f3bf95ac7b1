"""Producers do not scale on the queue they fill (the social-analytics listener)."""

import pytest

from stacks.blueprints import BLUEPRINTS
from stacks.blueprints.model import Blueprint, Queue, WorkerTier


def test_no_worker_scales_on_a_queue_it_publishes_to() -> None:
    for blueprint in (factory() for factory in BLUEPRINTS.values()):
        for worker in blueprint.workers:
            published = {use.target for use in worker.uses if use.access == "publish"}
            assert worker.scale_on not in published, f"{blueprint.name}/{worker.name}"


def test_the_listener_is_a_fixed_group_holding_a_lease_in_the_table() -> None:
    workers = {worker.name: worker for worker in BLUEPRINTS["social-analytics"]().workers}
    listener, consumer = workers["listener"], workers["sentiment-consumer"]
    assert listener.scale_on is None
    assert {(use.target, use.access) for use in listener.uses} == {
        ("raw-posts", "read-write"),
        ("posts", "publish"),
        ("sentiment", "read-write"),  # the lease
    }
    assert consumer.scale_on == "posts"


def test_scaling_on_something_that_is_no_queue_still_fails() -> None:
    blueprint = Blueprint(
        name="x",
        description="x",
        queues=(Queue("jobs", "jobs"),),
        workers=(WorkerTier("w", "w", command="python -m w", scale_on="nope"),),
    )
    with pytest.raises(ValueError, match="which is no queue"):
        blueprint.validate()
