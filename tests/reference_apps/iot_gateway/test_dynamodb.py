"""The time series on DynamoDB (moto server), with the key schema the AWS stack gives the
blueprint's `readings` table: partition key device_id (S), sort key ts (S), TTL expires_at.
The consumer stores a batch twice; the API reads devices, readings, alerts and gateways."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import boto3

from reference_apps.backends.queue import Message
from reference_apps.iot_gateway import create_app, load_settings
from reference_apps.iot_gateway.consumer import build_consumer


def test_consumer_and_api_on_dynamodb(aws_env: str, tmp_path: Path) -> None:
    table = f"readings-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[
            {"AttributeName": "device_id", "KeyType": "HASH"},
            {"AttributeName": "ts", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "device_id", "AttributeType": "S"},
            {"AttributeName": "ts", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    env = {"DATA_DIR": str(tmp_path), "KV_URL": f"dynamodb://{table}"}
    consumer = build_consumer(load_settings(env, web=False))
    now = time.time()
    readings = [
        {
            "kind": "reading",
            "id": f"s1:{n}",
            "device_id": "s1",
            "ts": now + n,
            "metrics": {"temperature": 20 + n},
        }
        for n in range(12)
    ] + [
        {
            "kind": "reading",
            "id": "s2:a",
            "device_id": "s2",
            "ts": now,
            "metrics": {"humidity": 40.0},
        }
    ]
    same_time = {
        "kind": "reading",
        "id": "s1:twin",
        "device_id": "s1",
        "ts": now,
        "metrics": {"temperature": 5},
    }
    alerts = [
        {
            "kind": "alert",
            "id": f"alert:s1:11:temperature:{k}",
            "device_id": "s1",
            "ts": now + 11,
            "metric": "temperature",
            "value": 31.0,
            "rule": k,
            "action": "cooling_on",
        }
        for k in ("threshold", "anomaly")
    ]
    summary = {
        "kind": "summary",
        "id": "summary:s1/temperature:0",
        "device_id": "s1",
        "metric": "temperature",
        "ts": now,
        "count": 12,
        "min": 20.0,
        "max": 31.0,
        "mean": 25.5,
    }
    batch = {
        "gateway": "gw1",
        "status": {"buffer_depth": 0},
        "items": [*readings, same_time, *alerts, summary],
    }
    for delivery in (1, 2):  # a redelivery stores nothing twice
        assert consumer.handle(Message(f"m{delivery}", batch, delivery, None)) is True
    series = consumer.series
    assert (
        series.count("reading") == 14
        and series.count("alert") == 2
        and series.count("summary") == 1
    )

    client = create_app({**env, "SESSION_COOKIE_SECURE": "false"}).test_client()
    devices = client.get("/api/v1/devices").json["devices"]
    assert devices == [
        {"device_id": "s1", "readings": 13, "last_ts": now + 11, "last": {"temperature": 31}},
        {"device_id": "s2", "readings": 1, "last_ts": now, "last": {"humidity": 40.0}},
    ]
    recent = client.get("/api/v1/devices/s1/readings?limit=3").json
    assert [r["id"] for r in recent["readings"]] == ["s1:9", "s1:10", "s1:11"]
    assert [s["id"] for s in recent["summaries"]] == ["summary:s1/temperature:0"]
    assert {a["rule"] for a in client.get("/api/v1/alerts").json["alerts"]} == {
        "threshold",
        "anomaly",
    }
    assert client.get("/api/v1/gateways").json["gateways"][0]["gateway"] == "gw1"
    assert client.get("/readyz").json["checks"] == {"timeseries": "ok"}
    page = client.get("/")
    assert page.status_code == 200 and b"s2" in page.data
