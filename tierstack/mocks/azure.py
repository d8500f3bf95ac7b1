"""Mocks for the Azure stacks: the outputs azure-native, random and tls would compute, and the
one invoke the program may call. Anything else raises, so no value silently resolves to None.

The tls outputs are real keys and certificates (generated here with `cryptography`): the load
balancer turns them into a PFX, and a fake PEM would only test the fake."""

from __future__ import annotations

import datetime
import functools
import hashlib
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tierstack.mocks.certificates import self_signed

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
TENANT = "99999999-8888-7777-6666-555555555555"
FROM_DOMAIN = "0f1e2d3c.azurecomm.net"

# Keys whose value names a parent, not the resource itself.
_PARENT_KEYS = {
    "resourceGroupName",
    "accountName",
    "namespaceName",
    "networkSecurityGroupName",
    "virtualNetworkName",
    "serverName",
    "vaultName",
    "privateZoneName",
    "privateEndpointName",
    "emailServiceName",
}
_NAME_KEY = {
    "azure-native:storage:Blob": "blobName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:monitor:ActionGroup": "actionGroupName",
}


def _own_name(typ: str, inputs: dict[str, Any]) -> str:
    """The resource's own name among its inputs (accountName, queueName, ruleName, ...)."""
    if typ in _NAME_KEY:
        return inputs[_NAME_KEY[typ]]
    keys = [k for k in inputs if k.endswith("Name") or k in ("name", "roleAssignmentId")]
    own = [k for k in keys if k not in _PARENT_KEYS]
    if not own:
        own = [k for k in keys if k != "resourceGroupName"] or ["resourceGroupName"]
    if len(own) != 1:
        raise LookupError(f"{typ}: cannot tell its name among {keys}")
    return inputs[own[0]]


@functools.cache
def _rsa_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _openssh_public(key_pem: str) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def _plain(value: Any) -> Any:
    """Secret inputs reach the mock wrapped in Pulumi's secret envelope; unwrap them."""
    if isinstance(value, dict) and "value" in value and len(value) == 2:
        return value["value"]
    return value


def _self_signed(inputs: dict[str, Any]) -> str:
    key = serialization.load_pem_private_key(_plain(inputs["privateKeyPem"]).encode(), None)
    certificate = self_signed(
        key,
        inputs["dnsNames"],
        common_name=inputs["subject"]["commonName"],
        valid_for=datetime.timedelta(hours=inputs["validityPeriodHours"]),
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def computed(typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What the providers would return beyond the inputs."""
    if typ.startswith("tierstack:"):
        return {}
    if typ == "random:index/randomPassword:RandomPassword":
        if inputs.get("special") is False:
            # Letters and digits only, as long as asked: checks can test what was asked for.
            digest = hashlib.sha256(name.encode()).hexdigest()
            mixed = "".join(c.upper() if i % 3 == 0 else c for i, c in enumerate(digest))
            length = int(inputs["length"])  # numbers reach the mock as floats
            return {"result": (mixed * (length // len(mixed) + 1))[:length]}
        return {"result": f"Pw-{name}-{'x' * 8}-9!"}
    if typ == "tls:index/privateKey:PrivateKey":
        pem = _rsa_key_pem()
        return {"privateKeyPem": pem, "publicKeyOpenssh": _openssh_public(pem)}
    if typ == "tls:index/selfSignedCert:SelfSignedCert":
        return {"certPem": _self_signed(inputs)}
    if not typ.startswith("azure-native:"):
        raise LookupError(f"no computed outputs known for {typ}")
    # The harness makes every id `<logical name>-id`; the ARM name is the resource's own input.
    outputs: dict[str, Any] = {"name": _own_name(typ, inputs)}
    identity = inputs.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), list):
        # ARM answers with a map keyed by identity id, not the list the inputs take.
        ids = identity["userAssignedIdentities"]
        outputs["identity"] = {**identity, "userAssignedIdentities": {i: {} for i in ids}}
    if typ == "azure-native:managedidentity:UserAssignedIdentity":
        own = outputs["name"]
        outputs |= {"principalId": f"principal-{own}", "clientId": f"client-{own}"}
    if typ == "azure-native:communication:Domain":
        outputs["fromSenderDomain"] = FROM_DOMAIN
    return outputs


def client_config(_: dict[str, Any]) -> dict[str, Any]:
    return {"subscriptionId": SUBSCRIPTION, "tenantId": TENANT, "clientId": "c", "objectId": "o"}


INVOKES = {"azure-native:authorization:getClientConfig": client_config}


CONFIG = {"azure-native:location": "westeurope"}
