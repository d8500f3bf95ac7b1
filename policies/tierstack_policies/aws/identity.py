"""AWS identity: no wildcard admin policies, no long-lived access keys."""

from __future__ import annotations

from typing import Any

from ..crosscloud import no_long_lived_keys
from ..registry import Config, Family, Findings, Props
from ..values import as_list, elements, json_document, value
from .types import ACCESS_KEY, IAM_ATTACHMENTS, IAM_DOCUMENTS, IAM_ROLE

family = Family("aws", "identity")
ADMIN_POLICY = ":iam::aws:policy/AdministratorAccess"  # in every partition (aws, aws-cn, ...)


def _grants_everything(statement: dict[str, Any]) -> str | None:
    """What an Allow statement on Resource * grants wholesale: every action, every action of a
    service (s3:*), or every action but a few (NotAction)."""
    if statement.get("Effect") != "Allow" or "*" not in as_list(statement.get("Resource")):
        return None
    if statement.get("NotAction") is not None:
        return "every action but NotAction"
    for action in as_list(statement.get("Action")):
        if isinstance(action, str) and (action == "*" or action.endswith(":*")):
            return f"Action {action}"
    return None


def _document_findings(document: Any) -> Findings:
    if not isinstance(document, dict):
        return
    for statement in as_list(document.get("Statement")):
        granted = _grants_everything(statement) if isinstance(statement, dict) else None
        if granted:
            yield f"a statement allows {granted} on Resource *"


@family.resource(
    "aws-iam-no-wildcard-admin",
    severity="critical",
    level="mandatory",
    types=(*IAM_DOCUMENTS, *IAM_ATTACHMENTS, IAM_ROLE),
    description="No IAM policy (also a role's inline policy) allows * or a whole service (s3:*) "
    "or NotAction on Resource *, and AdministratorAccess is not attached.",
    remediation="Grant the specific actions on the specific resource ARNs the workload needs.",
)
def _check_wildcard_admin(props: Props, _config: Config, type_: str) -> Findings:
    if type_ == IAM_ROLE:
        policies = elements(props, "inlinePolicies")
        for inline in policies if isinstance(policies, list) else []:
            yield from _document_findings(json_document(value(inline, "policy")))
        arns = elements(props, "managedPolicyArns")
        if isinstance(arns, list) and any(_is_admin(arn) for arn in arns):
            yield "attaches AdministratorAccess (managedPolicyArns)"
        return
    if type_ in IAM_ATTACHMENTS:
        if _is_admin(value(props, "policyArn")):
            yield "attaches AdministratorAccess"
        return
    yield from _document_findings(json_document(value(props, "policy")))


def _is_admin(arn: Any) -> bool:
    return isinstance(arn, str) and arn.startswith("arn:") and arn.endswith(ADMIN_POLICY)


no_long_lived_keys(
    family,
    "aws-iam-no-access-keys",
    [ACCESS_KEY],
    message="creates a long-lived IAM access key; use roles (instance profiles, OIDC) instead",
    description="No long-lived IAM user access keys are created.",
    remediation="Remove aws.iam.AccessKey; give hosts an instance profile and CI an OIDC role.",
)
