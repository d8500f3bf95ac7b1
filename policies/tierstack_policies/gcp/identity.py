"""GCP identity: no primitive roles, no long-lived service account keys."""

from __future__ import annotations

from ..crosscloud import no_long_lived_keys
from ..registry import Config, Family, Findings, Props
from ..values import as_list, json_document, value
from .types import HMAC_KEY, PROJECT_IAM, PROJECT_IAM_POLICIES, SERVICE_ACCOUNT_KEY

family = Family("gcp", "identity")
PRIMITIVE_ROLES = {"roles/owner", "roles/editor"}


@family.resource(
    "gcp-iam-no-primitive-roles",
    severity="critical",
    level="mandatory",
    types=(*PROJECT_IAM, *PROJECT_IAM_POLICIES),
    description="No project, folder or organization grant (member, binding or whole policy) of "
    "roles/owner or roles/editor.",
    remediation="Grant predefined roles scoped to the need (e.g. roles/storage.objectAdmin).",
)
def _check_primitive_roles(props: Props, _config: Config, type_: str) -> Findings:
    roles = [value(props, "role")]
    if type_ in PROJECT_IAM_POLICIES:
        document = json_document(value(props, "policyData"))
        bindings = as_list(document.get("bindings")) if isinstance(document, dict) else []
        roles = [binding.get("role") for binding in bindings if isinstance(binding, dict)]
    for role in roles:
        if role in PRIMITIVE_ROLES:
            yield f"grants the primitive role {role}; grant predefined or custom roles instead"


no_long_lived_keys(
    family,
    "gcp-iam-no-service-account-keys",
    [SERVICE_ACCOUNT_KEY, HMAC_KEY],
    message="creates a long-lived service account key (or HMAC key); use attached service "
    "accounts or WIF",
    description="No long-lived service account keys (JSON or HMAC) are created.",
    remediation="Remove gcp.serviceaccount.Key and gcp.storage.HmacKey; attach the service "
    "account to the VM, or use workload identity federation for CI.",
)
