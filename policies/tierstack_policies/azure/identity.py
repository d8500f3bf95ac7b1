"""Azure identity: no subscription-wide Owner/Contributor, no shared-key storage access."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props
from ..values import UNKNOWN, elements, falsy, value
from .types import ROLE_ASSIGNMENT, ROLE_DEFINITION, STORAGE_ACCOUNT

family = Family("azure", "identity")
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR_ROLE = "b24988ac-6180-42a0-ab88-20f7382dd24c"
# may assign any role, Owner included, to anyone (itself too)
USER_ACCESS_ADMIN_ROLE = "18d7d88d-d35e-4fb5-a5c3-7773c4a72d9d"
BROAD_ROLES = {
    OWNER_ROLE: "Owner",
    CONTRIBUTOR_ROLE: "Contributor",
    USER_ACCESS_ADMIN_ROLE: "User Access Administrator",
}


@family.resource(
    "azure-authorization-no-subscription-owner",
    severity="critical",
    level="mandatory",
    types=[ROLE_ASSIGNMENT, ROLE_DEFINITION],
    description="No Owner, Contributor or User Access Administrator role assignment (nor a "
    "custom role allowing *) at subscription scope or above (management group, tenant root).",
    remediation="Assign a narrower built-in role at resource-group or resource scope.",
)
def _check_subscription_roles(props: Props, _config: Config, type_: str) -> Findings:
    if type_ == ROLE_DEFINITION:
        yield from _custom_owner(props)
        return
    role, scope = value(props, "roleDefinitionId"), value(props, "scope")
    if not isinstance(role, str) or not isinstance(scope, str):
        return
    role_id = role.lower().rsplit("/", 1)[-1]
    if _at_or_above_subscription(scope) and role_id in BROAD_ROLES:
        yield f"assigns {BROAD_ROLES[role_id]} at subscription scope or above: {scope}"


def _custom_owner(props: Props) -> Findings:
    """A custom role allowing every action ("*"), assignable at subscription scope or above, is
    Owner (or Contributor) under another name."""
    scopes = elements(props, "assignableScopes")
    broad = [
        scope
        for scope in (scopes if isinstance(scopes, list) else [])
        if isinstance(scope, str) and _at_or_above_subscription(scope)
    ]
    permissions = elements(props, "permissions")
    for permission in permissions if broad and isinstance(permissions, list) else []:
        actions = elements(permission, "actions")
        if isinstance(actions, list) and "*" in actions:
            yield f"a custom role allows every action (*) and is assignable at {broad[0]}"


def _at_or_above_subscription(scope: str) -> bool:
    """A subscription, a management group (many subscriptions) or the tenant root ("/")."""
    parts = [part for part in scope.lower().split("/") if part]
    if len(parts) <= 2 and (not parts or parts[0] == "subscriptions"):
        return True
    return (
        parts[:3] == ["providers", "microsoft.management", "managementgroups"] and len(parts) <= 4
    )


@family.resource(
    "azure-storage-shared-key-disabled",
    severity="medium",
    level="advisory",
    types=[STORAGE_ACCOUNT],
    description="Storage accounts disable shared-key (long-lived access key) authorization.",
    remediation="Set allow_shared_key_access=False and grant the managed identity a data role.",
)
def _check_shared_key(props: Props, _config: Config, _type: str) -> Findings:
    allowed = value(props, "allowSharedKeyAccess")
    if allowed is not UNKNOWN and not falsy(allowed):
        yield "allowSharedKeyAccess is not false: long-lived account keys stay usable"
