"""GCP object storage: Cloud Storage bucket access, versioning and lifecycle."""

from __future__ import annotations

from typing import Any

from ..registry import Config, Family, Findings, Props
from ..shared import flag_check
from ..values import UNKNOWN, as_list, elements, json_document, scalars, value
from .types import (
    ACL_ENTRIES,
    ACL_LISTS,
    BUCKET,
    BUCKET_IAM_BINDING,
    BUCKET_IAM_MEMBER,
    BUCKET_IAM_POLICY,
)

family = Family("gcp", "object-storage")
PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}


@family.resource(
    "gcp-storage-bucket-public-access-prevented",
    severity="critical",
    level="mandatory",
    types=[BUCKET],
    description="Cloud Storage buckets enforce public access prevention.",
    remediation="Set public_access_prevention='enforced'.",
)
def _check_public_prevention(props: Props, _config: Config, _type: str) -> Findings:
    prevention = value(props, "publicAccessPrevention")
    if prevention not in ("enforced", UNKNOWN):
        yield f"publicAccessPrevention is {prevention or 'inherited'}, not 'enforced'"


def _bound_members(props: Props) -> list[tuple[Any, Any]]:
    """(role, member) pairs of an IAM policy document (policyData, a JSON string)."""
    document = json_document(value(props, "policyData"))
    if not isinstance(document, dict):
        return []
    return [
        (binding.get("role"), member)
        for binding in as_list(document.get("bindings"))
        if isinstance(binding, dict)
        for member in as_list(binding.get("members"))
    ]


@family.resource(
    "gcp-storage-bucket-no-public-members",
    severity="critical",
    level="mandatory",
    types=(BUCKET_IAM_MEMBER, BUCKET_IAM_BINDING, BUCKET_IAM_POLICY, *ACL_LISTS, *ACL_ENTRIES),
    description="No bucket IAM grant (member, binding or whole policy) or ACL entry to allUsers "
    "or allAuthenticatedUsers.",
    remediation="Grant roles to specific service accounts or groups; serve public content via "
    "a CDN.",
)
def _check_public_members(props: Props, _config: Config, type_: str) -> Findings:
    if type_ in ACL_LISTS:
        for entry in scalars(props, "roleEntities"):
            role, _, entity = entry.partition(":") if isinstance(entry, str) else ("", "", "")
            if entity in PUBLIC_MEMBERS:
                yield f"ACL gives {role} to {entity}"
        return
    if type_ in ACL_ENTRIES:
        if value(props, "entity") in PUBLIC_MEMBERS:
            yield f"ACL gives {value(props, 'role')} to {value(props, 'entity')}"
        return
    pairs = [(value(props, "role"), member) for member in scalars(props, "member")]
    pairs += [(value(props, "role"), member) for member in scalars(props, "members")]
    for role, member in pairs + _bound_members(props):
        if member in PUBLIC_MEMBERS:
            yield f"grants {role} to {member}"


family.resource(
    "gcp-storage-bucket-uniform-access",
    severity="high",
    level="mandatory",
    types=[BUCKET],
    description="Cloud Storage buckets use uniform bucket-level access (IAM only, no object ACLs).",
    remediation="Set uniform_bucket_level_access=True.",
)(
    flag_check(
        ["uniformBucketLevelAccess"],
        "uniformBucketLevelAccess is not true (object ACLs stay possible)",
    )
)


family.resource(
    "gcp-storage-bucket-versioning-enabled",
    severity="medium",
    level="mandatory",
    types=[BUCKET],
    description="Cloud Storage buckets keep object versions.",
    remediation="Set versioning={'enabled': True}.",
)(flag_check(["versioning", "enabled"], "versioning is not enabled"))


@family.resource(
    "gcp-storage-bucket-lifecycle-configured",
    severity="low",
    level="advisory",
    types=[BUCKET],
    description="Cloud Storage buckets have lifecycle rules.",
    remediation="Add lifecycle_rules (e.g. delete noncurrent versions after 30 days).",
)
def _check_lifecycle(props: Props, _config: Config, _type: str) -> Findings:
    if not elements(props, "lifecycleRules"):
        yield "no lifecycleRules"
