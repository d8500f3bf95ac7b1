"""AWS data resources created in a moto server from a stack's resolved inputs, as the provider
would create them (shared by the stack <-> app contract tests and the boot test)."""

from __future__ import annotations

from typing import Any


def create_queue(sqs: Any, inputs: dict[str, Any]) -> None:
    attributes = {"VisibilityTimeout": str(int(inputs.get("visibilityTimeoutSeconds", 30)))}
    if inputs.get("redrivePolicy"):
        attributes["RedrivePolicy"] = inputs["redrivePolicy"]
    sqs.create_queue(QueueName=inputs["name"], Attributes=attributes)


def create_table(dynamodb: Any, inputs: dict[str, Any]) -> None:
    schema = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
    if inputs.get("rangeKey"):
        schema.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
    dynamodb.create_table(
        TableName=inputs["name"],
        KeySchema=schema,
        AttributeDefinitions=[
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
        ],
        BillingMode=inputs["billingMode"],
    )
    ttl = inputs.get("ttl") or {}
    if ttl.get("enabled"):
        dynamodb.update_time_to_live(
            TableName=inputs["name"],
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
        )
