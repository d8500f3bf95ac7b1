"""Offline answers to GCP look-ups: zones, the project, client config, images, networks and
the default service account."""

from __future__ import annotations

from typing import Any

from .base import OFFLINE_ACCOUNT_ID, OFFLINE_GCP_PROJECT, Invoke, config_value


def _gcp_zones(args: dict[str, Any]) -> dict[str, Any]:
    region = args.get("region") or config_value("gcp:region", "us-central1")
    project = args.get("project") or config_value("gcp:project", OFFLINE_GCP_PROJECT)
    return {
        "id": f"projects/{project}/regions/{region}",
        "names": [f"{region}-{suffix}" for suffix in "abc"],
        "project": project,
        "region": region,
    }


def _gcp_project(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("projectId") or config_value("gcp:project", OFFLINE_GCP_PROJECT)
    return {
        "id": f"projects/{project}",
        "projectId": project,
        "name": project,
        "number": OFFLINE_ACCOUNT_ID,
        "labels": {},
    }


def _gcp_client_config(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "offline-preview",
        "project": config_value("gcp:project", OFFLINE_GCP_PROJECT),
        "region": config_value("gcp:region", "us-central1"),
        "zone": config_value("gcp:zone", "us-central1-a"),
        "accessToken": "offline-preview-no-token",
        "defaultLabels": {},
    }


def _gcp_image(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("project") or config_value("gcp:project", OFFLINE_GCP_PROJECT)
    family = args.get("family") or "offline-family"
    name = args.get("name") or f"{family}-offline-preview"
    link = f"https://www.googleapis.com/compute/v1/projects/{project}/global/images/{name}"
    return {
        "id": f"projects/{project}/global/images/{name}",
        "name": name,
        "family": family,
        "project": project,
        "selfLink": link,
        "status": "READY",
        "diskSizeGb": 10,
        "archiveSizeBytes": 0,
        "labels": {},
        "description": "offline preview image",
    }


def _gcp_network(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("project") or config_value("gcp:project", OFFLINE_GCP_PROJECT)
    name = args.get("name") or "default"
    base = f"https://www.googleapis.com/compute/v1/projects/{project}"
    return {
        "id": f"projects/{project}/global/networks/{name}",
        "name": name,
        "project": project,
        "selfLink": f"{base}/global/networks/{name}",
        "gatewayIpv4": "",
        "description": "offline preview network",
        "subnetworksSelfLinks": [f"{base}/regions/us-central1/subnetworks/{name}"],
    }


def _gcp_default_service_account(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("project") or config_value("gcp:project", OFFLINE_GCP_PROJECT)
    email = f"{OFFLINE_ACCOUNT_ID}-compute@developer.gserviceaccount.com"
    return {
        "id": f"projects/{project}/serviceAccounts/{email}",
        "email": email,
        "name": f"projects/{project}/serviceAccounts/{email}",
        "project": project,
        "displayName": "Compute Engine default service account",
        "uniqueId": "000000000000000000000",
    }


def _gcp_engine_versions(args: dict[str, Any]) -> dict[str, Any]:
    version = "1.33.0-gke.offline"
    return {
        "id": "offline-preview",
        "location": args.get("location") or config_value("gcp:region", "us-central1"),
        "project": args.get("project") or config_value("gcp:project", OFFLINE_GCP_PROJECT),
        "defaultClusterVersion": version,
        "latestMasterVersion": version,
        "latestNodeVersion": version,
        "validMasterVersions": [version],
        "validNodeVersions": [version],
        "releaseChannelDefaultVersion": {"REGULAR": version},
        "releaseChannelLatestVersion": {"REGULAR": version},
    }


INVOKES: dict[str, Invoke] = {
    "gcp:compute/getZones:getZones": _gcp_zones,
    "gcp:compute/getImage:getImage": _gcp_image,
    "gcp:compute/getNetwork:getNetwork": _gcp_network,
    "gcp:compute/getDefaultServiceAccount:getDefaultServiceAccount": _gcp_default_service_account,
    "gcp:container/getEngineVersions:getEngineVersions": _gcp_engine_versions,
    "gcp:organizations/getProject:getProject": _gcp_project,
    "gcp:organizations/getClientConfig:getClientConfig": _gcp_client_config,
}
