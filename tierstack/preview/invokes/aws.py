"""Offline answers to AWS look-ups: regions, zones, the caller, AMIs, the default VPC and its
subnets, public SSM parameters; IAM policy documents are computed exactly as the provider would."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .base import OFFLINE_ACCOUNT_ID, Invoke, UnknownInvokeError, config_value


def _aws_region(args: dict[str, Any]) -> str:
    return args.get("region") or args.get("name") or config_value("aws:region", "us-east-1")


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
            "source/override documents are not supported offline; build the policy from statements"
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


def _aws_ids(kind: str, count: int = 3) -> list[str]:
    """Fake ids that read as such: `subnet-0ff11e00000000a`, one per offline zone."""
    return [f"{kind}-0ff11e00000000{suffix}" for suffix in "abc"[:count]]


def _aws_arn(service: str, resource: str, region: str = "") -> str:
    return f"arn:aws:{service}:{region}:{OFFLINE_ACCOUNT_ID}:{resource}"


OFFLINE_VPC_ID = "vpc-0ff11e00000000d"


def _aws_vpc(args: dict[str, Any]) -> dict[str, Any]:
    region = _aws_region(args)
    vpc_id = args.get("id") or OFFLINE_VPC_ID
    return {
        "id": vpc_id,
        "arn": _aws_arn("ec2", f"vpc/{vpc_id}", region),
        "cidrBlock": args.get("cidrBlock") or "172.31.0.0/16",
        "default": bool(args.get("default", vpc_id == OFFLINE_VPC_ID)),
        "dhcpOptionsId": "dopt-0ff11e00000000d",
        "enableDnsHostnames": True,
        "enableDnsSupport": True,
        "instanceTenancy": "default",
        "mainRouteTableId": "rtb-0ff11e00000000d",
        "ownerId": OFFLINE_ACCOUNT_ID,
        "state": "available",
        "region": region,
        "tags": args.get("tags") or {},
        "cidrBlockAssociations": [
            {"associationId": "vpc-cidr-assoc-0ff11e", "cidrBlock": "172.31.0.0/16"}
        ],
    }


def _aws_vpcs(args: dict[str, Any]) -> dict[str, Any]:
    return {"id": _aws_region(args), "ids": [OFFLINE_VPC_ID], "region": _aws_region(args)}


def _aws_subnets(args: dict[str, Any]) -> dict[str, Any]:
    """getSubnets (v5+) and getSubnetIds (v4): the default VPC's subnet in each offline zone."""
    return {
        "id": args.get("vpcId") or _aws_region(args),
        "ids": _aws_ids("subnet"),
        "vpcId": args.get("vpcId") or OFFLINE_VPC_ID,
        "region": _aws_region(args),
    }


def _aws_subnet(args: dict[str, Any]) -> dict[str, Any]:
    region = _aws_region(args)
    subnet_id = args.get("id") or _aws_ids("subnet")[0]
    zone = args.get("availabilityZone") or f"{region}a"
    return {
        "id": subnet_id,
        "arn": _aws_arn("ec2", f"subnet/{subnet_id}", region),
        "vpcId": args.get("vpcId") or OFFLINE_VPC_ID,
        "cidrBlock": args.get("cidrBlock") or "172.31.0.0/20",
        "availabilityZone": zone,
        "availabilityZoneId": "use1-az1",
        "defaultForAz": bool(args.get("defaultForAz", True)),
        "mapPublicIpOnLaunch": True,
        "ownerId": OFFLINE_ACCOUNT_ID,
        "state": "available",
        "region": region,
        "tags": args.get("tags") or {},
    }


def _aws_security_group(args: dict[str, Any]) -> dict[str, Any]:
    region = _aws_region(args)
    group_id = args.get("id") or "sg-0ff11e00000000d"
    return {
        "id": group_id,
        "arn": _aws_arn("ec2", f"security-group/{group_id}", region),
        "name": args.get("name") or "default",
        "description": "offline preview security group",
        "vpcId": args.get("vpcId") or OFFLINE_VPC_ID,
        "region": region,
        "tags": args.get("tags") or {},
    }


def _aws_security_groups(args: dict[str, Any]) -> dict[str, Any]:
    group = _aws_security_group(args)
    return {
        "id": group["region"],
        "ids": [group["id"]],
        "arns": [group["arn"]],
        "vpcIds": [group["vpcId"]],
        "region": group["region"],
    }


def _aws_route53_zone(args: dict[str, Any]) -> dict[str, Any]:
    name = str(args.get("name") or "example.com").rstrip(".")
    zone_id = args.get("zoneId") or "Z0FF11E0000000000000D"
    return {
        "id": zone_id,
        "zoneId": zone_id,
        "name": name,
        "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
        "callerReference": "offline-preview",
        "comment": "offline preview zone",
        "nameServers": [f"ns-{n}.awsdns-offline.example" for n in (1, 2, 3, 4)],
        "primaryNameServer": "ns-1.awsdns-offline.example",
        "privateZone": bool(args.get("privateZone", False)),
        "resourceRecordSetCount": 2,
        "tags": args.get("tags") or {},
        "vpcId": args.get("vpcId") or "",
    }


def _aws_ami_ids(args: dict[str, Any]) -> dict[str, Any]:
    return {"id": _aws_region(args), "ids": [_aws_ami(args)["id"]]}


def _aws_ssm_parameter(args: dict[str, Any]) -> dict[str, Any]:
    """Only AWS's public parameters (latest AMI ids and the like): a team's own parameters
    hold data the preview cannot guess, so they stay unanswered."""
    name = str(args.get("name") or "")
    if not name.startswith("/aws/service/"):
        raise UnknownInvokeError(
            f"the SSM parameter {name!r} is the team's own data: only AWS's public "
            "/aws/service/… parameters have a built-in answer"
        )
    value = _aws_ami(args)["id"] if "/ami" in name else "offline-preview-value"
    return {
        "id": name,
        "name": name,
        "arn": _aws_arn("ssm", f"parameter{name}", _aws_region(args)),
        "type": "String",
        "value": value,
        "insecureValue": value,
        "version": 1,
        "withDecryption": True,
    }


def _aws_ecr_token(args: dict[str, Any]) -> dict[str, Any]:
    region = _aws_region(args)
    return {
        "id": region,
        "authorizationToken": "b2ZmbGluZTpvZmZsaW5lLXByZXZpZXc=",  # "offline:offline-preview"
        "expiresAt": "2000-01-01T00:00:00Z",
        "password": "offline-preview-no-token",
        "proxyEndpoint": f"https://{OFFLINE_ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com",
        "userName": "AWS",
    }


def _aws_certificate(args: dict[str, Any]) -> dict[str, Any]:
    region = _aws_region(args)
    arn = _aws_arn("acm", "certificate/0ff11e00-0000-0000-0000-000000000000", region)
    domain = args.get("domain") or "example.com"
    return {"id": arn, "arn": arn, "domain": domain, "status": "ISSUED", "tags": {}}


INVOKES: dict[str, Invoke] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _aws_availability_zones,
    "aws:index/getRegion:getRegion": _aws_region_info,
    "aws:index/getCallerIdentity:getCallerIdentity": _aws_caller_identity,
    "aws:index/getPartition:getPartition": _aws_partition,
    "aws:ec2/getAmi:getAmi": _aws_ami,
    "aws:ec2/getAmiIds:getAmiIds": _aws_ami_ids,
    "aws:ec2/getVpc:getVpc": _aws_vpc,
    "aws:ec2/getVpcs:getVpcs": _aws_vpcs,
    "aws:ec2/getSubnets:getSubnets": _aws_subnets,
    "aws:ec2/getSubnetIds:getSubnetIds": _aws_subnets,
    "aws:ec2/getSubnet:getSubnet": _aws_subnet,
    "aws:ec2/getSecurityGroup:getSecurityGroup": _aws_security_group,
    "aws:ec2/getSecurityGroups:getSecurityGroups": _aws_security_groups,
    "aws:route53/getZone:getZone": _aws_route53_zone,
    "aws:ssm/getParameter:getParameter": _aws_ssm_parameter,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": _aws_ecr_token,
    "aws:acm/getCertificate:getCertificate": _aws_certificate,
    "aws:iam/getPolicyDocument:getPolicyDocument": _aws_policy_document,
}
