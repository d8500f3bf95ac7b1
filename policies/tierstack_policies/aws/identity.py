"""AWS identity: no wildcard admin policies, no long-lived access keys."""

from __future__ import annotations

from ..crosscloud import no_long_lived_keys
from ..registry import Config, Family, Findings, Props
from ..values import as_list, json_document, value
from .types import ACCESS_KEY, IAM_ATTACHMENTS, IAM_DOCUMENTS

family = Family("aws", "identity")
ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"


@family.resource(
    "aws-iam-no-wildcard-admin",
    severity="critical",
    level="mandatory",
    types=(*IAM_DOCUMENTS, *IAM_ATTACHMENTS),
    description="No IAM policy allows Action * on Resource *, and AdministratorAccess is not "
    "attached.",
    remediation="Grant the specific actions on the specific resource ARNs the workload needs.",
)
def _check_wildcard_admin(props: Props, _config: Config, type_: str) -> Findings:
    if type_ in IAM_ATTACHMENTS:
        if value(props, "policyArn") == ADMIN_POLICY_ARN:
            yield "attaches AdministratorAccess"
        return
    document = json_document(value(props, "policy"))
    if not isinstance(document, dict):
        return
    for statement in as_list(document.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "*" in as_list(statement.get("Action")) and "*" in as_list(statement.get("Resource")):
            yield "a statement allows Action * on Resource *"


no_long_lived_keys(
    family,
    "aws-iam-no-access-keys",
    [ACCESS_KEY],
    message="creates a long-lived IAM access key; use roles (instance profiles, OIDC) instead",
    description="No long-lived IAM user access keys are created.",
    remediation="Remove aws.iam.AccessKey; give hosts an instance profile and CI an OIDC role.",
)
