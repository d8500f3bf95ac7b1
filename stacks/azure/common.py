"""Small helpers every Azure component shares: naming, ids, built-in roles, the stack's network.

Azure needs a resource group before anything else and ARM ids that embed the subscription, so
this module answers three questions once: the stack's network from a component's Args
(`network_of`), what the subscription and tenant are (`client_ids`), and what a built-in role's
full id is (`role_definition_id`).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_azure_native as azure_native

from stacks.blueprints.model import Access
from stacks.common.args import StackContext
from stacks.common.contracts import Principal

if TYPE_CHECKING:
    from stacks.azure.network import Network

# Built-in role definition GUIDs (the same in every tenant).
ROLES: dict[str, str] = {
    "storage-blob-data-reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "storage-blob-data-contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "storage-blob-data-owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "service-bus-data-sender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
    "service-bus-data-receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
    "key-vault-secrets-user": "4633458b-17de-408a-b874-0445c86b69e6",
    "communication-and-email-service-owner": "09976791-48a7-449e-bb21-39d1a415f350",
}
# Cosmos DB data-plane roles live in the account, not in Azure RBAC.
COSMOS_TABLE_ROLES: dict[str, str] = {
    "read": "00000000-0000-0000-0000-000000000001",
    "read-write": "00000000-0000-0000-0000-000000000002",
}


def network_of(args: Any, component: str) -> Network:
    """The stack's Network from a component's Args: on Azure it owns the resource group,
    workspace and vault every component lives in, so it is required here."""
    if args.network is None:
        raise ValueError(
            f"{component}: Azure components need the stack's Network in their Args "
            "(network=stacks.azure.Network(...)); it owns the stack's resource group"
        )
    return args.network


def _without_version_aliases(
    args: pulumi.ResourceTransformationArgs,
) -> pulumi.ResourceTransformationResult | None:
    """Drops the aliases azure-native adds to every resource (about 30 each, one per API-versioned
    type token such as azure-native:network/v20230201:Subnet). They only matter for stacks
    created from versioned modules, which this repo never uses, and the SDK turns each one into
    a URN at registration: 3,350 per stack, 90% of a preview's run time."""
    aliases = args.opts.aliases
    if not args.type_.startswith("azure-native:") or not aliases:
        return None
    kept = [
        alias
        for alias in aliases
        if not (
            isinstance(alias, pulumi.Alias)
            and isinstance(alias.type_, str)
            and alias.type_.startswith("azure-native:")
            and alias.name is ...
        )
    ]
    args.opts.aliases = kept or None
    return pulumi.ResourceTransformationResult(args.props, args.opts)


def component_opts(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Options every Azure component registers with (its children inherit the transformation)."""
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(transformations=[_without_version_aliases])
    )


def child(parent: pulumi.Resource, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options for a component's child resource."""
    return pulumi.ResourceOptions(parent=parent, **kwargs)


def short_hash(*parts: str, length: int = 6) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def compact_name(context: StackContext, name: str, max_length: int = 24) -> str:
    """A globally unique lowercase alphanumeric name (storage accounts, vaults' cousins):
    readable start, a hash of stack and name at the end so stacks never collide."""
    suffix = short_hash(context.stack, context.settings.region, name)
    stem = re.sub(r"[^a-z0-9]", "", f"{context.prefix}{name}".lower())
    return stem[: max_length - len(suffix)] + suffix


def dashed_name(context: StackContext, name: str, max_length: int = 24) -> str:
    """A globally unique name that may hold dashes (vaults, namespaces, servers)."""
    suffix = short_hash(context.stack, context.settings.region, name, length=5)
    stem = re.sub(r"[^a-z0-9-]", "-", f"{context.prefix}-{name}".lower())
    stem = stem[: max_length - len(suffix) - 1].rstrip("-")
    return f"{stem}-{suffix}"


def stable_guid(*parts: str) -> str:
    """Role assignment names must be GUIDs; deriving them keeps previews free of churn."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "tierstack/" + "/".join(parts)))


def client_ids() -> pulumi.Output[dict[str, str]]:
    """Subscription and tenant: from `azure-native:subscriptionId`/`tenantId` config when set,
    else from the provider's client config (the offline preview answers it)."""
    config = pulumi.Config("azure-native")
    subscription, tenant = config.get("subscriptionId"), config.get("tenantId")
    if subscription and tenant:
        return pulumi.Output.from_input({"subscription_id": subscription, "tenant_id": tenant})
    found = azure_native.authorization.get_client_config_output()
    return pulumi.Output.all(found.subscription_id, found.tenant_id).apply(
        lambda ids: {
            "subscription_id": subscription or ids[0],
            "tenant_id": tenant or ids[1],
        }
    )


def role_definition_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    """The full ARM id of a built-in role, as role assignments want it."""
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/providers/Microsoft.Authorization/roleDefinitions/",
        ROLES[role],
    )


def grant_role(
    name: str,
    *,
    role: str,
    scope: pulumi.Input[str],
    principal_id: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    guid_parts: tuple[str, ...],
    parent: pulumi.Resource,
) -> pulumi.Resource:
    """One built-in role for a tier's identity on exactly one resource (never a resource group
    or the subscription); the assignment's GUID is derived, so previews stay free of churn."""
    return azure_native.authorization.RoleAssignment(
        name,
        role_assignment_name=stable_guid(*guid_parts),
        scope=scope,
        principal_id=principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=role_definition_id(subscription_id, role),
        opts=child(parent),
    )


def grant_to(
    principal: Principal,
    access: Access,
    *,
    label: str,
    role: str,
    scope: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    anchor: tuple[str, ...],
) -> list[pulumi.Resource]:
    """The one role assignment a component's `grant` gives, named `<tier>-<label>-<access>`;
    `anchor` names the resource in the GUID, so two stacks never share an assignment."""
    return [
        grant_role(
            f"{principal.name}-{label}-{access}",
            role=role,
            scope=scope,
            principal_id=principal.id,
            subscription_id=subscription_id,
            guid_parts=(principal.name, *anchor, role),
            parent=principal.parent,
        )
    ]


def iso_seconds(seconds: int) -> str:
    """ISO 8601 duration (PT...S), the format Service Bus and Monitor take."""
    return f"PT{int(seconds)}S"


POSTGRES_ROOT_CAS = (
    "DigiCert_Global_Root_G2",
    "Microsoft_RSA_Root_Certificate_Authority_2017",
    "DigiCert_Global_Root_CA",
)
"""The roots that Azure Database for PostgreSQL flexible server's certificates chain to
(learn.microsoft.com/azure/postgresql/security/security-tls-how-to-connect: DigiCert
Global Root G2 and Microsoft RSA Root CA 2017, DigiCert Global Root CA during the rotation).
Hosts take them from the distribution's ca-certificates package, which apt verifies."""


def host_role_vars(app_port: int | None) -> dict[str, object]:
    """Application Gateway v2 probes and forwards from its own subnet, inside the network CIDR
    the hosts already admit; outbound NTP is open (the NSGs filter inbound only). The database's
    CA file holds only the roots its server certificates chain to (sslmode=verify-full)."""
    return {"blueprint_host_database_ca_system_roots": list(POSTGRES_ROOT_CAS)}


def host_env(context: StackContext) -> dict[str, str]:
    """Application Gateway sends the client as 'ip:port' in X-Forwarded-For: the app drops the
    port, or every connection would be a new rate-limit bucket. The SDKs take the account from
    the URLs and the managed identity."""
    return {"PROXY_HOPS": "1", "PROXY_ADDRESS_FORMAT": "ip:port"}
