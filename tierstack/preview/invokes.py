"""Offline answers to the provider functions (invokes) that programs commonly call.

A real invoke asks the cloud. Offline there is no cloud, so each known token gets a plausible
fixed answer (documented here, and shown by `tierstack preview` as a limit). An unknown token
raises instead of returning {}: a silent empty answer would turn every field the program reads
into None and the preview would show wrong values without saying so.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from pulumi.runtime.config import get_config

OFFLINE_ACCOUNT_ID = "123456789012"
OFFLINE_GCP_PROJECT = "offline-project"
OFFLINE_AZURE_ID = "00000000-0000-0000-0000-000000000000"


class UnknownInvokeError(Exception):
    """The program called a provider function the offline preview cannot answer."""


def _config(key: str, default: str) -> str:
    value = get_config(key)
    return str(value) if value else default


def _aws_region(args: dict[str, Any]) -> str:
    return args.get("region") or args.get("name") or _config("aws:region", "us-east-1")


def _aws_availability_zones(args: dict[str, Any]) -> dict[str, Any]:
    region = _aws_region(args)
    return {
        "id": region,
        "names": [f"{region}{suffix}" for suffix in "abc"],
        "zoneIds": [f"use1-az{number}" for number in (1, 2, 3)],
        "groupNames": [region],
        "region": region,
    }


def _aws_region_info(args: dict[str, Any]) -> dict[str, Any]:
    region = _aws_region(args)
    return {
        "id": region,
        "name": region,
        "region": region,
        "description": f"offline preview region {region}",
        "endpoint": f"ec2.{region}.amazonaws.com",
    }


def _aws_caller_identity(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": OFFLINE_ACCOUNT_ID,
        "accountId": OFFLINE_ACCOUNT_ID,
        "arn": f"arn:aws:iam::{OFFLINE_ACCOUNT_ID}:user/offline-preview",
        "userId": "AIDAOFFLINEPREVIEW",
    }


def _aws_partition(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "aws",
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    }


def _aws_ami(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "ami-0000000000offline",
        "imageId": "ami-0000000000offline",
        "architecture": "x86_64",
        "name": "offline-preview-image",
        "ownerId": (args.get("owners") or [OFFLINE_ACCOUNT_ID])[0],
        "rootDeviceName": "/dev/xvda",
        "virtualizationType": "hvm",
        "state": "available",
    }


def _one_or_list(values: list[Any]) -> Any:
    """AWS's policy JSON writes a single value as a scalar, several as a list."""
    return values[0] if len(values) == 1 else sorted(values)


def _aws_policy_statement(statement: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if statement.get("sid"):
        out["Sid"] = statement["sid"]
    out["Effect"] = statement.get("effect") or "Allow"
    for key, wire in (
        ("actions", "Action"),
        ("notActions", "NotAction"),
        ("resources", "Resource"),
        ("notResources", "NotResource"),
    ):
        if statement.get(key):
            out[wire] = _one_or_list(statement[key])
    for key, wire in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
        principals = statement.get(key) or []
        if principals:
            out[wire] = {p["type"]: _one_or_list(p["identifiers"]) for p in principals}
    conditions: dict[str, dict[str, Any]] = {}
    for condition in statement.get("conditions") or []:
        conditions.setdefault(condition["test"], {})[condition["variable"]] = _one_or_list(
            condition["values"]
        )
    if conditions:
        out["Condition"] = conditions
    return out


def _aws_policy_document(args: dict[str, Any]) -> dict[str, Any]:
    """Computed locally, exactly as the provider would: it is a pure function of its args."""
    if args.get("sourcePolicyDocuments") or args.get("overridePolicyDocuments"):
        raise UnknownInvokeError(
            "aws:iam/getPolicyDocument:getPolicyDocument with source/override documents is not "
            "supported offline; build the policy from statements"
        )
    document: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        document["Id"] = args["policyId"]
    document["Statement"] = [_aws_policy_statement(s) for s in args.get("statements") or []]
    text = json.dumps(document, indent=2)
    return {
        "id": hashlib.sha256(text.encode()).hexdigest()[:16],
        "json": text,
        "minifiedJson": json.dumps(document, separators=(",", ":")),
    }


def _gcp_zones(args: dict[str, Any]) -> dict[str, Any]:
    region = args.get("region") or _config("gcp:region", "us-central1")
    project = args.get("project") or _config("gcp:project", OFFLINE_GCP_PROJECT)
    return {
        "id": f"projects/{project}/regions/{region}",
        "names": [f"{region}-{suffix}" for suffix in "abc"],
        "project": project,
        "region": region,
    }


def _gcp_project(args: dict[str, Any]) -> dict[str, Any]:
    project = args.get("projectId") or _config("gcp:project", OFFLINE_GCP_PROJECT)
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
        "project": _config("gcp:project", OFFLINE_GCP_PROJECT),
        "region": _config("gcp:region", "us-central1"),
        "zone": _config("gcp:zone", "us-central1-a"),
        "accessToken": "offline-preview-no-token",
        "defaultLabels": {},
    }


def _azure_client_config(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "clientId": OFFLINE_AZURE_ID,
        "objectId": OFFLINE_AZURE_ID,
        "subscriptionId": OFFLINE_AZURE_ID,
        "tenantId": OFFLINE_AZURE_ID,
    }


KNOWN_INVOKES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _aws_availability_zones,
    "aws:index/getRegion:getRegion": _aws_region_info,
    "aws:index/getCallerIdentity:getCallerIdentity": _aws_caller_identity,
    "aws:index/getPartition:getPartition": _aws_partition,
    "aws:ec2/getAmi:getAmi": _aws_ami,
    "aws:iam/getPolicyDocument:getPolicyDocument": _aws_policy_document,
    "gcp:compute/getZones:getZones": _gcp_zones,
    "gcp:organizations/getProject:getProject": _gcp_project,
    "gcp:organizations/getClientConfig:getClientConfig": _gcp_client_config,
    "azure-native:authorization:getClientConfig": _azure_client_config,
}


def answer_invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """The offline answer for `token`; raises UnknownInvokeError for tokens it cannot answer."""
    handler = KNOWN_INVOKES.get(token)
    if handler is None:
        raise UnknownInvokeError(
            f"offline preview cannot answer the provider function {token!r} (it would query "
            f"the cloud); known offline: {', '.join(sorted(KNOWN_INVOKES))}"
        )
    return handler(args)
