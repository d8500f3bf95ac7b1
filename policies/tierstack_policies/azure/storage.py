"""Azure object storage: storage accounts, their containers, blob service and lifecycle."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props, Resources, StackFindings
from ..shared import linked_urns, min_tls_check, of_type, uncovered
from ..values import UNKNOWN, elements, falsy, truthy, value
from .types import BLOB_CONTAINER, BLOB_SERVICE, MANAGEMENT_POLICY, STORAGE_ACCOUNT

family = Family("azure", "object-storage")


@family.resource(
    "azure-storage-https-only",
    severity="high",
    level="mandatory",
    types=[STORAGE_ACCOUNT],
    description="Storage accounts accept HTTPS traffic only.",
    remediation="Leave enable_https_traffic_only True.",
)
def _check_https_only(props: Props, _config: Config, _type: str) -> Findings:
    if falsy(value(props, "enableHttpsTrafficOnly")):
        yield "enableHttpsTrafficOnly is false"


family.resource(
    "azure-storage-min-tls-1-2",
    severity="high",
    level="mandatory",
    types=[STORAGE_ACCOUNT],
    description="Storage accounts require TLS 1.2 or newer.",
    remediation="Set minimum_tls_version='TLS1_2'.",
)(min_tls_check(("TLS1_2", "TLS1_3"), unset="unset (TLS1_0 on older API versions)"))


@family.resource(
    "azure-storage-no-public-blob-access",
    severity="critical",
    level="mandatory",
    types=(STORAGE_ACCOUNT, BLOB_CONTAINER),
    description="Storage accounts disallow public blob access and no container is public.",
    remediation="Set allow_blob_public_access=False on the account and public_access='None' on "
    "containers.",
)
def _check_public_blobs(props: Props, _config: Config, type_: str) -> Findings:
    if type_ == BLOB_CONTAINER:
        access = value(props, "publicAccess")
        if access in ("Blob", "Container"):
            yield f"container publicAccess is {access}"
        return
    allowed = value(props, "allowBlobPublicAccess")
    if allowed is not UNKNOWN and not falsy(allowed):
        yield "allowBlobPublicAccess is not false"


def _enabled_or_unknown(props: Props, *path: str) -> bool:
    found = value(props, *path)
    return found is UNKNOWN or truthy(found)


@family.stack(
    "azure-storage-blob-versioning",
    severity="medium",
    level="mandatory",
    description="Every storage account has blob versioning and soft delete enabled.",
    remediation="Add azure_native.storage.BlobServiceProperties(account_name=account.name, "
    "is_versioning_enabled=True, delete_retention_policy={'enabled': True, 'days': 7}).",
)
def _check_versioning(resources: Resources, _config: Config) -> StackFindings:
    # Azure refuses blob versioning on hierarchical-namespace (ADLS Gen2) accounts: for those,
    # soft delete is the protection that exists, and it is required.
    hierarchical = {
        account.urn
        for account in of_type(resources, STORAGE_ACCOUNT)
        if truthy(value(account.props, "isHnsEnabled"))
    }
    covered: set[str] = set()
    for item in of_type(resources, BLOB_SERVICE):
        accounts = linked_urns(item, "accountName")
        soft_delete = _enabled_or_unknown(item.props, "deleteRetentionPolicy", "enabled")
        versioning = _enabled_or_unknown(item.props, "isVersioningEnabled")
        if soft_delete and (versioning or (accounts and accounts <= hierarchical)):
            covered |= accounts
    for account in of_type(resources, STORAGE_ACCOUNT):
        if account.urn not in covered:
            what = "soft delete" if account.urn in hierarchical else "versioning and soft delete"
            yield (
                f"storage account {account.name} has no blob service properties with "
                f"{what} enabled (linked by accountName)",
                account.urn,
            )


def _has_enabled_rule(props: Props) -> bool:
    """A management policy with no rule, or only disabled ones, manages nothing."""
    rules = elements(props, "policy", "rules")
    if rules is UNKNOWN:
        return True
    return any(not falsy(value(rule, "enabled")) for rule in rules)


@family.stack(
    "azure-storage-lifecycle-configured",
    severity="low",
    level="advisory",
    description="Every storage account has a lifecycle management policy with an enabled rule.",
    remediation="Add azure_native.storage.ManagementPolicy(account_name=account.name, policy="
    "{'rules': [...]}) with at least one rule not disabled.",
)
def _check_lifecycle(resources: Resources, _config: Config) -> StackFindings:
    for account in uncovered(
        resources, [STORAGE_ACCOUNT], [MANAGEMENT_POLICY], "accountName", _has_enabled_rule
    ):
        yield (
            f"storage account {account.name} has no lifecycle management policy with an enabled "
            "rule (linked by accountName)",
            account.urn,
        )
