"""The time series on Azure Tables, against Azurite's Table service, through the `KV_URL` the Azure
stack writes into the telemetry consumer's and the fog API's vars.yml (the Cosmos DB Table
account's `aztable://account/Readings?service=cosmos`). Azurite is reached with its well-known
development key (AZURE_STORAGE_CONNECTION_STRING, as the other Azure tests); without it the
adapter uses the host's managed identity on the Cosmos endpoint (checked below: no key)."""

from __future__ import annotations

import base64
import functools
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from azure.data.tables import TableServiceClient

from reference_apps.backends.queue import PoisonMessage
from reference_apps.backends.settings import parse_url
from reference_apps.iot_gateway import create_app, load_settings
from reference_apps.iot_gateway.consumer import build_consumer
from reference_apps.iot_gateway.timeseries import open_timeseries
from reference_apps.iot_gateway.timeseries_azure import (
    MAX_OPERATIONS,
    TTL_ATTRIBUTE,
    AzureTableTimeSeries,
)
from stacks.blueprints import BLUEPRINTS
from tests.playbook_check import boot_vars
from tests.stacks.harness import Run, run_stack
from tierstack.mocks.azure import INVOKES, computed

from .series_checks import DAY, check_api_and_range, gateway_batch, reading, store_twice


@functools.cache
def stack() -> Run:
    return run_stack("azure-iot-gateway", computed=computed, invokes=INVOKES)


def tier_env(tier: str) -> dict[str, str]:
    scale_set = stack().one("azure-native:compute:VirtualMachineScaleSet", f"{tier}-vmss")
    custom = scale_set.inputs["virtualMachineProfile"]["osProfile"]["customData"]
    document = yaml.safe_load(base64.b64decode(custom).decode())
    variables = boot_vars(document["write_files"][0]["content"])
    return {key: str(value) for key, value in variables["python_app_env"].items()}


@pytest.fixture
def stack_table(azurite_connection_string: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The stack's table, created empty in Azurite; returns the consumer's KV_URL."""
    url = tier_env("telemetry-consumer")["KV_URL"]
    assert url == tier_env("fog-api")["KV_URL"]
    table = stack().one("azure-native:cosmosdb:TableResourceTable").inputs["tableName"]
    assert url.startswith("aztable://") and url.endswith(f"/{table}?service=cosmos")
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    service.delete_table(table)
    service.create_table(table)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_connection_string)
    return url


def test_consumer_and_api_on_the_stacks_table(stack_table: str, tmp_path: Path) -> None:
    env = {"DATA_DIR": str(tmp_path), "KV_URL": stack_table, "READINGS_TTL_DAYS": "30"}
    consumer = build_consumer(load_settings(env, web=False))
    assert isinstance(consumer.series, AzureTableTimeSeries)
    now = time.time()
    store_twice(consumer, gateway_batch(now))
    series = consumer.series
    client = create_app({**env, "SESSION_COOKIE_SECURE": "false"}).test_client()
    check_api_and_range(client, series, now)
    assert {r["id"] for r in series.range("s1", "reading", until=now + 1)} == {"s1:r0", "s1:r99"}


def test_one_batch_over_the_transaction_limit_is_split(stack_table: str) -> None:
    series = open_timeseries(parse_url("KV_URL", stack_table, ("aztable",)), 30 * DAY)
    assert isinstance(series, AzureTableTimeSeries)
    submitted: list[int] = []
    submit = series.table.submit_transaction

    def counting(operations: list[Any], **kwargs: Any) -> Any:
        operations = list(operations)
        submitted.append(len(operations))
        assert len({op[1]["PartitionKey"] for op in operations}) == 1
        return submit(operations, **kwargs)

    now = time.time()
    items = [reading("big", n, now + n / 10) for n in range(250)]
    with mock.patch.object(series.table, "submit_transaction", counting):
        assert series.insert(items) == 250
        assert series.insert([*items[:120], reading("big", 250, now + 30)]) == 1
    assert max(submitted) <= MAX_OPERATIONS
    assert submitted[:3] == [100, 100, 53]  # 99 readings + the counter, ..., 52 + the counter
    assert series.count("reading") == 251 and len(series.range("big", "reading")) == 251


def test_expired_items_are_swept_and_uncounted(stack_table: str) -> None:
    series = open_timeseries(parse_url("KV_URL", stack_table, ("aztable",)), 1 * DAY)
    now = time.time()
    old = [reading("s1", n, now - 2 * DAY + n) for n in range(5)]
    fresh = [reading("s1", n, now - 60 + n) for n in range(5, 8)]
    old_alert = {"kind": "alert", "id": "alert:old", "device_id": "s1", "ts": now - 2 * DAY}
    series.insert([*old, *fresh, old_alert])
    entity = series.table.get_entity("s1", next(iter(series._rows("s1", "r_", "r_~")))["RowKey"])
    assert entity[TTL_ATTRIBUTE].timestamp() == pytest.approx(fresh[-1]["ts"] + DAY, abs=1e-3)
    assert BLUEPRINTS["iot-gateway"]().tables[0].ttl_attribute == TTL_ATTRIBUTE

    assert series.purge_expired(now) == 6  # five readings and the alert
    assert [r["id"] for r in series.recent("s1", "reading", 10)] == [r["id"] for r in fresh]
    assert series.devices()[0]["readings"] == 3 and series.alerts(10) == []
    assert series.purge_expired(now) == 0
    assert series.purge_expired(now + 2 * DAY) == 3
    assert series.devices() == []  # every reading expired: the device is no longer listed


def test_an_item_too_large_for_a_property_is_poison(stack_table: str) -> None:
    series = open_timeseries(parse_url("KV_URL", stack_table, ("aztable",)), DAY)
    huge = reading("s1", 0, time.time(), temperature=1.0) | {"note": "x" * 40_000}
    with pytest.raises(PoisonMessage, match="an Azure table property holds 32768"):
        series.insert([huge, reading("s1", 1, time.time())])
    assert series.count("reading") == 0  # nothing half-written


def test_production_uses_the_managed_identity_on_the_cosmos_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SDK double: the Cosmos endpoint does not exist here; this checks what client is built."""
    from azure.data import tables
    from azure.identity import DefaultAzureCredential

    url = tier_env("telemetry-consumer")["KV_URL"]
    account = stack().one("azure-native:cosmosdb:DatabaseAccount").inputs["accountName"]
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with mock.patch.object(tables, "TableServiceClient", autospec=True) as client_class:
        open_timeseries(parse_url("KV_URL", url, ("aztable",)), DAY)
    (endpoint,), kwargs = client_class.call_args
    assert endpoint == f"https://{account}.table.cosmos.azure.com"
    assert isinstance(kwargs["credential"], DefaultAzureCredential)
    client_class.return_value.get_table_client.assert_called_once_with("Readings")
