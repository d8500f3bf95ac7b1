"""Notifications: Communication Services mail without keys."""

from __future__ import annotations

import base64

import pytest
import yaml

from stacks.azure.common import ROLES
from stacks.blueprints.settings import SettingsError, parse_settings
from tests.playbook_check import boot_vars
from tests.stacks.azure.conftest import FROM_DOMAIN, INVOKES, TENANT, computed
from tests.stacks.harness import run_stack


def test_notifications_use_the_smtp_relay_without_keys(dev):
    service = dev.one("azure-native:communication:CommunicationService").inputs
    assert service["disableLocalAuth"] is True
    assert service["linkedDomains"] == ["job-done-domain-id"]
    assert dev.result["mail"] == (
        f"smtp://smtp.azurecomm.net:587?starttls=true&from=DoNotReply@{FROM_DOMAIN}"
    )


# The Communication Services SMTP relay authenticates an Entra application: username
# `<resource name>.<application id>.<tenant id>`, password a client secret of that application,
# endpoint smtp.azurecomm.net port 587 with STARTTLS ("Send email with SMTP",
# learn.microsoft.com/azure/communication-services/quickstarts/email/send-email-smtp).
APP_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CLIENT_SECRET = "Smtp~Client.Secret-7f3Q"  # distinctive: it must appear nowhere but the vault
SMTP = {"tierstack:smtpAppId": APP_ID, "tierstack:smtpPassword": CLIENT_SECRET}
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def _env(run, tier: str) -> dict:
    [vmss] = [
        v.inputs
        for v in run.of_type("azure-native:compute:VirtualMachineScaleSet")
        if v.name == f"{tier}-vmss"
    ]
    text = base64.b64decode(vmss["virtualMachineProfile"]["osProfile"]["customData"]).decode()
    return boot_vars(yaml.safe_load(text)["write_files"][0]["content"])["python_app_env"]


@pytest.fixture(scope="module")
def with_smtp():
    return run_stack(
        "azure-mapreduce",
        computed=computed,
        invokes=INVOKES,
        overrides=SMTP,
        secret_keys=["tierstack:smtpPassword"],
    )


def test_smtp_secret_is_a_pulumi_secret_stored_in_the_stacks_key_vault(with_smtp):
    secret = with_smtp.one("azure-native:keyvault:Secret", "job-done-smtp-password").inputs
    assert SECRET_SIG in secret["properties"]  # travels as a Pulumi secret
    assert secret["properties"]["value"] == {"value": CLIENT_SECRET, "contentType": "text/plain"}
    assert secret["secretName"] == "job-done-smtp-password"
    vault = with_smtp.one("azure-native:keyvault:Vault").inputs["vaultName"]
    assert secret["vaultName"] == vault


def test_the_mailing_tier_gets_the_username_and_a_reference_never_the_value(with_smtp):
    vault = with_smtp.one("azure-native:keyvault:Vault").inputs["vaultName"]
    service = with_smtp.one("azure-native:communication:CommunicationService").inputs
    env = _env(with_smtp, "job-runner")
    assert env["MAIL_URL"] == (
        f"smtp://smtp.azurecomm.net:587?starttls=true&from=DoNotReply@{FROM_DOMAIN}"
    )
    assert env["SMTP_USERNAME"] == f"{service['communicationServiceName']}.{APP_ID}.{TENANT}"
    assert env["SMTP_PASSWORD_REF"] == (
        f"azure-keyvault://{vault}.vault.azure.net/job-done-smtp-password"
    )
    assert "SMTP_PASSWORD" not in env
    # The tier that does not mail gets none of it; no user data holds the secret.
    assert not {"SMTP_USERNAME", "SMTP_PASSWORD_REF"} & set(_env(with_smtp, "web"))
    for vmss in with_smtp.of_type("azure-native:compute:VirtualMachineScaleSet"):
        custom = vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"]
        assert CLIENT_SECRET not in base64.b64decode(custom).decode()


def test_only_the_mailing_tier_may_read_the_smtp_secret(with_smtp):
    on_secret = [
        a
        for a in with_smtp.of_type("azure-native:authorization:RoleAssignment")
        if a.inputs["scope"].endswith("/secrets/job-done-smtp-password")
    ]
    assert [a.name for a in on_secret] == ["job-runner-job-done-smtp-password-read"]
    assert on_secret[0].inputs["principalId"] == "principal-mapreduce-dev-job-runner-id"
    assert on_secret[0].inputs["roleDefinitionId"].endswith(ROLES["key-vault-secrets-user"])
    assert on_secret[0].inputs["scope"] == "network-vault-id/secrets/job-done-smtp-password"


def test_without_smtp_credentials_the_stack_declares_no_secret_and_no_username(
    run_azure_stack,
):
    run = run_azure_stack("azure-mapreduce")
    assert [s.name for s in run.of_type("azure-native:keyvault:Secret") if "smtp" in s.name] == []
    assert not {"SMTP_USERNAME", "SMTP_PASSWORD_REF"} & set(_env(run, "job-runner"))


def test_a_plain_smtp_password_is_refused(run_azure_stack):
    with pytest.raises(Exception, match="tierstack:smtpPassword must be a secret"):
        run_azure_stack("azure-mapreduce", overrides=SMTP)


@pytest.mark.parametrize(
    "config",
    [
        {"tierstack:smtpAppId": APP_ID},
        {"tierstack:smtpPassword": CLIENT_SECRET},
        {"tierstack:smtpAppId": "not-a-guid", "tierstack:smtpPassword": CLIENT_SECRET},
    ],
)
def test_smtp_settings_go_together(config):
    raw = {"tierstack:cloud": "azure", "tierstack:app": "mapreduce", **config}
    with pytest.raises(SettingsError, match="tierstack:smtpAppId"):
        parse_settings(raw)
    with pytest.raises(SettingsError, match="Azure stacks only"):
        parse_settings({**raw, "tierstack:cloud": "aws"})
