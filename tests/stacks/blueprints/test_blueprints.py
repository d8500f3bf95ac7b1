"""The five blueprints: well-formed, and wired the way DESIGN.md §2 describes them."""

import dataclasses
from pathlib import Path

import pytest

from stacks.blueprints import BLUEPRINTS
from stacks.blueprints.model import Blueprint, Uses


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_blueprint_validates(name: str) -> None:
    blueprint = BLUEPRINTS[name]()
    assert blueprint.name == name
    blueprint.validate()


def test_every_queue_is_drained_by_a_worker() -> None:
    for blueprint in (factory() for factory in BLUEPRINTS.values()):
        consumed = {u.target for w in blueprint.workers for u in w.uses if u.access == "consume"}
        assert consumed == {q.name for q in blueprint.queues}, blueprint.name


def test_image_processing_shape() -> None:
    blueprint = BLUEPRINTS["image-processing"]()
    assert [s.name for s in blueprint.object_stores] == ["images"]
    assert blueprint.app and blueprint.app.wsgi == "reference_apps.image_processing.wsgi:app"
    assert {u.env_var for u in blueprint.app.uses} == {"OBJECT_STORE_URL", "QUEUE_URL", "KV_URL"}
    assert blueprint.workers[0].scale_on == "filter-jobs"


def test_mapreduce_runs_the_inverted_index_from_its_store() -> None:
    blueprint = BLUEPRINTS["mapreduce"]()
    assert blueprint.mapreduce is not None
    assert blueprint.mapreduce.code_store == "job-data"
    assert [job.name for job in blueprint.mapreduce.jobs] == ["inverted-index"]


def test_iot_gateway_forwards_to_its_queue() -> None:
    blueprint = BLUEPRINTS["iot-gateway"]()
    assert blueprint.iot and blueprint.iot.to_queue == "telemetry"


def _broken(**changes: object) -> Blueprint:
    return dataclasses.replace(BLUEPRINTS["image-processing"](), **changes)


def test_validate_rejects_unknown_targets() -> None:
    app = BLUEPRINTS["image-processing"]().app
    assert app is not None
    bad_app = dataclasses.replace(app, uses=(Uses("nowhere", "read"),))
    with pytest.raises(ValueError, match="unknown component 'nowhere'"):
        _broken(app=bad_app).validate()


def test_validate_rejects_wrong_access_kind() -> None:
    app = BLUEPRINTS["image-processing"]().app
    assert app is not None
    bad_app = dataclasses.replace(app, uses=(Uses("images", "publish"),))
    with pytest.raises(ValueError, match="access 'publish' does not apply to object_store"):
        _broken(app=bad_app).validate()


def test_validate_rejects_duplicate_names() -> None:
    blueprint = BLUEPRINTS["image-processing"]()
    clash = dataclasses.replace(blueprint.queues[0], name="images")
    with pytest.raises(ValueError, match="duplicate name 'images'"):
        dataclasses.replace(blueprint, queues=(clash,)).validate()


def test_blueprints_import_no_cloud_sdk() -> None:
    import sys

    import stacks.blueprints  # noqa: F401 - imported for its side effect on sys.modules

    loaded = [m for m in sys.modules if m.startswith("stacks.blueprints")]
    for module in loaded:
        source = sys.modules[module].__file__ or ""
        if source.endswith(".py"):
            text = Path(source).read_text()
            assert "pulumi_" not in text, f"{module} imports a cloud SDK"


def test_mapreduce_job_runner_may_submit_to_the_cluster() -> None:
    blueprint = BLUEPRINTS["mapreduce"]()
    runner = blueprint.workers[0]
    assert Uses("hadoop", "submit", "MAPREDUCE_CLUSTER_URL") in runner.uses
    assert blueprint.data_component_names()["hadoop"] == "mapreduce_cluster"


def test_validate_rejects_submit_to_a_store() -> None:
    app = BLUEPRINTS["image-processing"]().app
    assert app is not None
    bad_app = dataclasses.replace(app, uses=(Uses("images", "submit"),))
    with pytest.raises(ValueError, match="access 'submit' does not apply to object_store"):
        _broken(app=bad_app).validate()
