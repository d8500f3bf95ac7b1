"""GCP identity: no primitive roles, no long-lived service account keys."""

from __future__ import annotations

from ..crosscloud import no_long_lived_keys
from ..registry import Config, Family, Findings, Props
from ..values import value
from .types import PROJECT_IAM, SERVICE_ACCOUNT_KEY

family = Family("gcp", "identity")
PRIMITIVE_ROLES = {"roles/owner", "roles/editor"}


@family.resource(
    "gcp-iam-no-primitive-roles",
    severity="critical",
    level="mandatory",
    types=PROJECT_IAM,
    description="No project, folder or organization grant of roles/owner or roles/editor.",
    remediation="Grant predefined roles scoped to the need (e.g. roles/storage.objectAdmin).",
)
def _check_primitive_roles(props: Props, _config: Config, _type: str) -> Findings:
    role = value(props, "role")
    if role in PRIMITIVE_ROLES:
        yield f"grants the primitive role {role}; grant predefined or custom roles instead"


no_long_lived_keys(
    family,
    "gcp-iam-no-service-account-keys",
    [SERVICE_ACCOUNT_KEY],
    message="creates a long-lived service account key; use attached service accounts or WIF",
    description="No long-lived service account keys are created.",
    remediation="Remove gcp.serviceaccount.Key; attach the service account to the VM, or use "
    "workload identity federation for CI.",
)
