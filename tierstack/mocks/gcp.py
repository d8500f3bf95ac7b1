"""Mocks for the GCP components: the outputs the provider would compute and the one invoke they
make (the project number, for the Google-managed service agents).

These stand in for the GCP API, which has no local emulator for Compute Engine, Cloud SQL,
Dataproc or Monitoring; everything else in the program runs for real under the SDK's mocks."""

from __future__ import annotations

import hashlib
from typing import Any

PROJECT = "tierstack-dev"
PROJECT_NUMBER = "123456789012"
REGION = "europe-west1"
API = "https://www.googleapis.com/compute/v1"
EXTERNAL_ADDRESSES = {"address": "203.0.113.10", "device-ingest-address": "203.0.113.20"}
DB_PRIVATE_IP = "10.40.128.3"
DB_SERVER_CA = "-----BEGIN CERTIFICATE-----\nMIIBmockCloudSQLserverCA\n-----END CERTIFICATE-----\n"
"""The instance's server CA certificate (serverCaCerts[0].cert) as the mocks report it."""
CONFIG = {"gcp:project": PROJECT, "gcp:region": REGION}


def computed(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What GCP would compute for the outputs the components read; nothing for other types."""
    if type_ == "gcp:serviceaccount/account:Account":
        email = f"{inputs['accountId']}@{PROJECT}.iam.gserviceaccount.com"
        return {"email": email, "member": f"serviceAccount:{email}"}
    if type_ == "gcp:compute/globalAddress:GlobalAddress":
        return {"address": inputs.get("address") or EXTERNAL_ADDRESSES[name]}
    if type_ == "gcp:compute/address:Address":
        link = f"{API}/projects/{PROJECT}/regions/{inputs['region']}/addresses/{inputs['name']}"
        return {"address": "198.51.100.7", "selfLink": link}
    if type_ == "gcp:compute/instanceTemplate:InstanceTemplate":
        template = f"{inputs['namePrefix']}20261122"
        link = f"{API}/projects/{PROJECT}/global/instanceTemplates/{template}"
        return {"name": template, "selfLink": link, "selfLinkUnique": f"{link}?uniqueId=42"}
    if type_ == "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager":
        group = f"{API}/projects/{PROJECT}/regions/{inputs['region']}/instanceGroups/"
        return {"instanceGroup": group + inputs["name"]}
    if type_ == "gcp:sql/databaseInstance:DatabaseInstance":
        return {
            "privateIpAddress": DB_PRIVATE_IP,
            "serverCaCerts": [{"cert": DB_SERVER_CA, "commonName": "C=US,O=Google\\, Inc"}],
            "connectionName": f"{PROJECT}:{inputs['region']}:{inputs['name']}",
        }
    if type_ == "gcp:monitoring/notificationChannel:NotificationChannel":
        return {"name": f"projects/{PROJECT}/notificationChannels/{name}"}
    if type_ == "gcp:projects/iAMCustomRole:IAMCustomRole":
        return {"name": f"projects/{inputs['project']}/roles/{inputs['roleId']}"}
    if type_ == "gcp:secretmanager/secret:Secret":
        # The provider fills in the project from its config; `name` carries the project number.
        project = inputs.get("project") or PROJECT
        return {
            "project": project,
            "name": f"projects/{PROJECT_NUMBER}/secrets/{inputs['secretId']}",
        }
    if type_ == "random:index/randomPassword:RandomPassword":
        if inputs.get("special") is False:  # letters and digits only, at the length asked for
            digest = hashlib.sha256(name.encode()).hexdigest()
            return {"result": ("Gen" + digest * 2)[: int(inputs["length"])]}
        return {"result": f"generated-{name}-Zq8v"}
    return {}


def get_project(args: dict[str, Any]) -> dict[str, Any]:
    if args.get("projectId") != PROJECT:
        raise LookupError(f"asked for the wrong project: {args}")
    return {"projectId": PROJECT, "number": PROJECT_NUMBER, "name": PROJECT}


INVOKES = {"gcp:organizations/getProject:getProject": get_project}
