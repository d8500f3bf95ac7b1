"""Offline answers to Azure look-ups (azure-native, the classic azure provider and azuread):
client config, subscription and resource groups."""

from __future__ import annotations

from typing import Any

from .base import OFFLINE_AZURE_ID, Invoke, config_value


def _azure_client_config(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "clientId": OFFLINE_AZURE_ID,
        "objectId": OFFLINE_AZURE_ID,
        "subscriptionId": OFFLINE_AZURE_ID,
        "tenantId": OFFLINE_AZURE_ID,
    }


def _azure_resource_group(args: dict[str, Any]) -> dict[str, Any]:
    name = args.get("resourceGroupName") or args.get("name") or "offline-preview-rg"
    location = config_value("azure-native:location", "") or config_value("azure:location", "eastus")
    return {
        "id": f"/subscriptions/{OFFLINE_AZURE_ID}/resourceGroups/{name}",
        "name": name,
        "location": location,
        "type": "Microsoft.Resources/resourceGroups",
        "properties": {"provisioningState": "Succeeded"},
        "tags": {},
    }


def _azure_client_token(args: dict[str, Any]) -> dict[str, Any]:
    return {"token": "offline-preview-no-token"}


def _azure_classic_client_config(args: dict[str, Any]) -> dict[str, Any]:
    return {"id": OFFLINE_AZURE_ID, **_azure_client_config(args)}


def _azure_classic_subscription(args: dict[str, Any]) -> dict[str, Any]:
    subscription = args.get("subscriptionId") or OFFLINE_AZURE_ID
    return {
        "id": f"/subscriptions/{subscription}",
        "subscriptionId": subscription,
        "displayName": "offline preview subscription",
        "tenantId": OFFLINE_AZURE_ID,
        "state": "Enabled",
        "locationPlacementId": "Public_2014-09-01",
        "quotaId": "offline-preview",
        "spendingLimit": "Off",
        "tags": {},
    }


def _azure_classic_resource_group(args: dict[str, Any]) -> dict[str, Any]:
    group = _azure_resource_group(args)
    return {key: group[key] for key in ("id", "name", "location", "tags")}


INVOKES: dict[str, Invoke] = {
    "azure-native:authorization:getClientConfig": _azure_client_config,
    "azure-native:authorization:getClientToken": _azure_client_token,
    "azure-native:resources:getResourceGroup": _azure_resource_group,
    "azure:core/getClientConfig:getClientConfig": _azure_classic_client_config,
    "azure:core/getSubscription:getSubscription": _azure_classic_subscription,
    "azure:core/getResourceGroup:getResourceGroup": _azure_classic_resource_group,
    "azuread:index/getClientConfig:getClientConfig": _azure_classic_client_config,
}
