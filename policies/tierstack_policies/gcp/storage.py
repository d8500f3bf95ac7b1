"""GCP object storage: Cloud Storage bucket access, versioning and lifecycle."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props
from ..values import UNKNOWN, elements, scalars, switched_off, value
from .types import BUCKET, BUCKET_IAM_BINDING, BUCKET_IAM_MEMBER

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


@family.resource(
    "gcp-storage-bucket-no-public-members",
    severity="critical",
    level="mandatory",
    types=(BUCKET_IAM_MEMBER, BUCKET_IAM_BINDING),
    description="No bucket IAM grant to allUsers or allAuthenticatedUsers.",
    remediation="Grant roles to specific service accounts or groups; serve public content via "
    "a CDN.",
)
def _check_public_members(props: Props, _config: Config, _type: str) -> Findings:
    members = scalars(props, "member") + scalars(props, "members")
    for member in members:
        if member in PUBLIC_MEMBERS:
            yield f"grants {value(props, 'role')} to {member}"


@family.resource(
    "gcp-storage-bucket-uniform-access",
    severity="high",
    level="mandatory",
    types=[BUCKET],
    description="Cloud Storage buckets use uniform bucket-level access (IAM only, no object ACLs).",
    remediation="Set uniform_bucket_level_access=True.",
)
def _check_uniform_access(props: Props, _config: Config, _type: str) -> Findings:
    if switched_off(props, "uniformBucketLevelAccess"):
        yield "uniformBucketLevelAccess is not true (object ACLs stay possible)"


@family.resource(
    "gcp-storage-bucket-versioning-enabled",
    severity="medium",
    level="mandatory",
    types=[BUCKET],
    description="Cloud Storage buckets keep object versions.",
    remediation="Set versioning={'enabled': True}.",
)
def _check_versioning(props: Props, _config: Config, _type: str) -> Findings:
    if switched_off(props, "versioning", "enabled"):
        yield "versioning is not enabled"


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
