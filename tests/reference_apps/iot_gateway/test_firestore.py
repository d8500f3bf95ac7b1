"""The time series on Firestore, through the `KV_URL` the GCP stack writes into the telemetry
consumer's and the fog API's vars.yml, against an in-process double (firestore_double.py: no
Firestore emulator exists here) that knows only the composite indexes and the TTL field the
stack declares (resolved from the stack) and refuses what Firestore refuses: a query no index
serves, an oversized document, a batch over 500 writes, a bad document id."""

from __future__ import annotations

import datetime
import functools
import time
from pathlib import Path
from unittest import mock

import pytest
from google.api_core.exceptions import FailedPrecondition

from reference_apps.backends.queue import PoisonMessage
from reference_apps.backends.settings import parse_url
from reference_apps.iot_gateway import create_app, load_settings
from reference_apps.iot_gateway.consumer import build_consumer
from reference_apps.iot_gateway.timeseries import open_timeseries
from reference_apps.iot_gateway.timeseries_firestore import FirestoreTimeSeries
from tests.playbook_check import boot_vars
from tests.stacks.harness import Run, run_stack
from tierstack.mocks.gcp import INVOKES, computed

from .firestore_double import FirestoreDouble
from .series_checks import DAY, check_api_and_range, gateway_batch, reading, store_twice


@functools.cache
def stack() -> Run:
    return run_stack("gcp-iot-gateway", computed=computed, invokes=INVOKES)


def tier_env(tier: str) -> dict[str, str]:
    template = stack().one("gcp:compute/instanceTemplate:InstanceTemplate", f"{tier}-template")
    variables = boot_vars(str(template.inputs["metadata"]["startup-script"]))
    return {key: str(value) for key, value in variables["python_app_env"].items()}


def declared() -> tuple[str, dict[str, list[list[tuple[str, str]]]], dict[str, str]]:
    """(database, composite indexes per collection, TTL field per collection) of the stack."""
    database = stack().one("gcp:firestore/database:Database").inputs["name"]
    indexes: dict[str, list[list[tuple[str, str]]]] = {}
    for index in stack().of_type("gcp:firestore/index:Index"):
        inputs = index.inputs
        assert inputs["database"] == database and inputs["queryScope"] == "COLLECTION"
        fields = [(f["fieldPath"], f["order"]) for f in inputs["fields"]]
        indexes.setdefault(inputs["collection"], []).append(fields)
    ttl = {
        f.inputs["collection"]: f.inputs["field"]
        for f in stack().of_type("gcp:firestore/field:Field")
        if "ttlConfig" in f.inputs
    }
    return database, indexes, ttl


@pytest.fixture
def double() -> FirestoreDouble:
    _, indexes, ttl = declared()
    return FirestoreDouble(indexes, ttl)


def open_series(double: FirestoreDouble, ttl_days: float = 30) -> FirestoreTimeSeries:
    """The adapter as the consumer opens it from the stack's URL, on the double."""
    url = tier_env("telemetry-consumer")["KV_URL"]
    database = declared()[0]
    with mock.patch("google.cloud.firestore.Client", autospec=True) as client_class:
        client_class.return_value = double
        series = open_timeseries(parse_url("KV_URL", url, ("firestore",)), ttl_days * DAY)
    client_class.assert_called_once_with(database=database)
    assert isinstance(series, FirestoreTimeSeries)
    return series


def test_the_stack_declares_what_the_adapter_needs() -> None:
    url = tier_env("telemetry-consumer")["KV_URL"]
    assert url == tier_env("fog-api")["KV_URL"]
    database, indexes, ttl = declared()
    assert url == f"firestore://readings?database={database}"
    assert indexes == {"readings": [[("device_id", "ASCENDING"), ("ts", "DESCENDING")]]}
    assert ttl == {"readings": "expires_at"}


def test_consumer_and_api_on_the_stacks_collection(double: FirestoreDouble, tmp_path: Path) -> None:
    url = tier_env("telemetry-consumer")["KV_URL"]
    env = {"DATA_DIR": str(tmp_path), "KV_URL": url, "READINGS_TTL_DAYS": "30"}
    with mock.patch("google.cloud.firestore.Client", return_value=double):
        consumer = build_consumer(load_settings(env, web=False))
        client = create_app({**env, "SESSION_COOKIE_SECURE": "false"}).test_client()
    now = time.time()
    store_twice(consumer, gateway_batch(now))
    series = consumer.series
    assert len(double.collection("readings").documents) == 16 + 2 + 1  # items, devices, gateway
    check_api_and_range(client, series, now)
    assert [r["id"] for r in series.range("s1", "reading", until=now + 1)] == ["s1:r99", "s1:r0"]

    # every query filtered and ordered only on the stack's key fields
    _, indexes, _ = declared()
    indexed = {name for index in indexes["readings"] for name, _ in index}
    used = {f.field_path for q in double.queries for f in q.filters}
    used |= {name for q in double.queries for name, _ in q.orders}
    assert used == indexed == {"device_id", "ts"}


def test_without_the_stacks_index_the_queries_are_refused() -> None:
    """The double enforces the index: the adapter's queries need the stack's composite one."""
    _, _, ttl = declared()
    series = open_series(FirestoreDouble({}, ttl))
    series.insert([reading("s1", 0, time.time())])
    with pytest.raises(FailedPrecondition, match="requires an index"):
        series.recent("s1", "reading", 5)
    upward = FirestoreDouble({"readings": [[("device_id", "ASCENDING"), ("ts", "ASCENDING")]]}, ttl)
    series = open_series(upward)
    with pytest.raises(FailedPrecondition, match="requires an index"):
        series.range("s1", "reading", since=0)  # newest first needs ts DESCENDING


def test_expiry_is_the_ttl_policy_on_a_timestamp_field(double: FirestoreDouble) -> None:
    series = open_series(double, ttl_days=1)
    now = time.time()
    old, fresh = reading("s1", 0, now - 2 * DAY), reading("s1", 1, now - 60)
    series.insert([old, fresh])
    ttl_field = declared()[2]["readings"]
    stored = [d for d in double.collection("readings").documents.values() if "kind" in d]
    assert sorted(d[ttl_field].timestamp() for d in stored) == pytest.approx(
        [old["ts"] + DAY, fresh["ts"] + DAY], abs=1e-3
    )
    assert all(isinstance(d[ttl_field], datetime.datetime) for d in stored)
    assert series.purge_expired(now) == 0  # nothing for the app to do
    assert double.expire(datetime.datetime.fromtimestamp(now, datetime.UTC)) == 1
    assert [r["id"] for r in series.recent("s1", "reading", 10)] == ["s1:r1"]
    double.expire(datetime.datetime.fromtimestamp(now + 2 * DAY, datetime.UTC))
    assert series.devices() == []  # every reading expired: the device is no longer listed


def test_large_batches_are_split_and_bad_items_are_poison(double: FirestoreDouble) -> None:
    series = open_series(double)
    now = time.time()
    items = [reading("big", n, now + n / 10) for n in range(700)]
    assert series.insert(items) == 700
    assert double.commits == [500, 201]  # 700 readings and the device's entry
    assert series.insert(items) == 0 and double.commits == [500, 201]
    assert series.count("reading") == 700

    huge = {**reading("s1", 0, now), "note": "x" * 1_100_000}
    with pytest.raises(PoisonMessage, match="a Firestore document holds 1 MiB"):
        series.insert([reading("s1", 1, now), huge])
    assert series.range("s1", "reading") == []  # nothing half-written
