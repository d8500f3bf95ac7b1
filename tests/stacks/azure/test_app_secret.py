"""AppSecret: the generated value in the stack's vault and its read grant."""

from __future__ import annotations

import re

import pytest

from stacks.azure import AppSecret, Network, TierIdentity
from stacks.azure.common import ROLES, stable_guid
from stacks.common.args import AppSecretArgs, Grant, NetworkArgs, TierIdentityArgs
from tests.stacks.azure.conftest import SUBSCRIPTION, make_context

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def plain(value):
    """A secret input is recorded in Pulumi's secret envelope; the test reads what is inside."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return value["value"]
    return value


def _vault_name(run):
    return run.one("azure-native:keyvault:Vault").inputs["vaultName"]


def test_app_secret_is_a_generated_48_char_alnum_secret_in_the_stack_vault(dev):
    component = dev.named("web-session-key")
    assert component.type == "tierstack:azure:AppSecret"
    generated = dev.named("web-session-key-value")
    assert generated.type == "random:index/randomPassword:RandomPassword"
    assert (generated.inputs["length"], generated.inputs["special"]) == (48, False)
    assert generated.parent_urn == component.urn
    value = dev.result["session_key"]
    assert re.fullmatch(r"[A-Za-z0-9]{48}", value)
    assert dev.result["session_key_is_secret"] is True
    secret = dev.one("azure-native:keyvault:Secret", "web-session-key-secret")
    assert secret.parent_urn == component.urn
    assert secret.inputs["secretName"] == dev.result["session_key_name"] == "web-session-key"
    assert secret.inputs["vaultName"] == _vault_name(dev)
    assert secret.inputs["resourceGroupName"] == "image-processing-dev-rg"
    assert SECRET_SIG in secret.inputs["properties"]  # the value travels as a secret
    assert plain(secret.inputs["properties"]) == {"value": value, "contentType": "text/plain"}
    assert secret.inputs["tags"]["purpose"] == "session signing key"


def test_secret_references_name_the_vault_and_the_secret_and_are_not_secret(dev):
    vault = _vault_name(dev)
    assert dev.result["session_key_ref"] == (
        f"azure-keyvault://{vault}.vault.azure.net/web-session-key"
    )
    assert dev.result["password_ref"] == (
        f"azure-keyvault://{vault}.vault.azure.net/app-db-app-password"
    )
    assert dev.result["session_key_ref_is_secret"] is False
    assert dev.result["password_ref_is_secret"] is False


def test_session_key_read_grant_is_secrets_user_on_that_one_secret(dev):
    on_key = [
        a
        for a in dev.of_type("azure-native:authorization:RoleAssignment")
        if "web-session-key" in a.inputs["scope"]
    ]
    assert [a.name for a in on_key] == ["web-web-session-key-read"]
    assert on_key[0].parent_urn == dev.named("web-identity").urn
    role = "key-vault-secrets-user"
    assert on_key[0].inputs == {
        "roleAssignmentName": stable_guid("web", _vault_name(dev), "web-session-key", role),
        "scope": "network-vault-id/secrets/web-session-key",  # not the vault, not the group
        "principalId": "principal-image-processing-dev-web-id",
        "principalType": "ServicePrincipal",
        "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/"
        f"Microsoft.Authorization/roleDefinitions/{ROLES[role]}",
    }


@pytest.mark.parametrize("access", ["read-write", "publish", "consume"])
def test_app_secret_grants_nothing_but_read(access):
    from tests.stacks.azure.conftest import INVOKES, computed
    from tests.stacks.harness import run_pulumi

    context = make_context()

    def program():
        net = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        key = AppSecret(
            "web-session-key", AppSecretArgs(context, "session signing key", network=net)
        )
        TierIdentity(
            "web-identity", TierIdentityArgs(context, "web", [Grant(key, access)], network=net)
        )

    with pytest.raises(Exception, match=f"grants only 'read' access, not '{access}'"):
        run_pulumi(program, computed=computed, invokes=INVOKES)
