"""TierIdentity on Azure: role assignments exactly on what each tier uses, resolved."""

from __future__ import annotations

from stacks.azure.common import ROLES
from tests.stacks.azure.conftest import SUBSCRIPTION

FORBIDDEN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "b24988ac-6180-42a0-ab88-20f7a0b0d1ca",  # Contributor
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
}


def _assignments(run, principal):
    return {
        (a.inputs["scope"], a.inputs["roleDefinitionId"].rsplit("/", 1)[1])
        for a in run.of_type("azure-native:authorization:RoleAssignment")
        if a.inputs["principalId"] == principal
    }


def test_identities_get_exactly_their_grants_on_exactly_those_resources(dev):
    assert _assignments(dev, "principal-image-processing-dev-web-id") == {
        ("images-container-id", ROLES["storage-blob-data-contributor"]),
        ("jobs-queue-id", ROLES["service-bus-data-sender"]),
        # The app role's password, and the admin's for root's converge step.
        ("network-vault-id/secrets/app-db-admin-password", ROLES["key-vault-secrets-user"]),
        ("network-vault-id/secrets/app-db-app-password", ROLES["key-vault-secrets-user"]),
        ("network-vault-id/secrets/web-session-key", ROLES["key-vault-secrets-user"]),
    }
    assert _assignments(dev, "principal-image-processing-dev-filter-worker-id") == {
        ("images-container-id", ROLES["storage-blob-data-reader"]),
        ("jobs-queue-id", ROLES["service-bus-data-receiver"]),
        ("job-done-service-id", ROLES["communication-and-email-service-owner"]),
    }
    for assignment in dev.of_type("azure-native:authorization:RoleAssignment"):
        inputs = assignment.inputs
        assert inputs["roleDefinitionId"].startswith(f"/subscriptions/{SUBSCRIPTION}/providers/")
        assert inputs["roleDefinitionId"].rsplit("/", 1)[1] not in FORBIDDEN_ROLES
        assert inputs["principalType"] == "ServicePrincipal"
        assert not inputs["scope"].startswith("/subscriptions/")  # a resource, never a scope
