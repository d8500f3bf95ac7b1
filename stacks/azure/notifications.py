"""Notifications: Azure Communication Services e-mail with an Azure-managed sender domain.

MAIL_URL is `smtp://smtp.azurecomm.net:587?starttls=true&from=DoNotReply@<domain>`: the apps send
through the Communication Services SMTP relay (STARTTLS); the publishing tier's identity gets
"Communication and Email Service Owner" on this resource only. Local (key) auth is off.

The relay does not take a managed identity: it authenticates an Entra application, username
`<resource name>.<application id>.<tenant id>`, password a client secret of that application
("Send email with SMTP", learn.microsoft.com/azure/communication-services/quickstarts/email/
send-email-smtp/send-email-smtp). Creating the application needs directory rights and the
azuread provider, so the operator creates it once and gives the stack its id
(`tierstack:smtpAppId`) and secret (`tierstack:smtpPassword`, a Pulumi secret). The secret goes
into the stack's Key Vault; the publishing tier gets `SMTP_USERNAME` and `SMTP_PASSWORD_REF`
(`azure-keyvault://…`) in its environment and Key Vault Secrets User on that one secret."""

from __future__ import annotations

import re

import pulumi
from pulumi_azure_native import communication, keyvault

from stacks.azure.app_secret import SECRETS_USER_ROLE, keyvault_ref
from stacks.azure.common import (
    child,
    component_opts,
    dashed_name,
    grant_role,
    network_of,
)
from stacks.blueprints.model import Access
from stacks.blueprints.settings import SettingsError
from stacks.common.args import NotificationsArgs
from stacks.common.contracts import Principal

SMTP_RELAY = "smtp.azurecomm.net:587"
SMTP_PASSWORD_KEY = "tierstack:smtpPassword"


def smtp_password() -> pulumi.Output[str] | None:
    """The client secret from stack config, refused unless it is stored as a Pulumi secret
    (a plain value would sit readable in the stack file)."""
    value = pulumi.Config("tierstack").get_secret("smtpPassword")
    if value is None:
        return None
    if not pulumi.runtime.is_config_secret(SMTP_PASSWORD_KEY):
        raise SettingsError(
            f"{SMTP_PASSWORD_KEY} must be a secret: pulumi config set --secret {SMTP_PASSWORD_KEY}"
        )
    return value


def data_location(region: str) -> str:
    """Where Communication Services keeps data at rest, from the stack's region."""
    for prefix, place in (("uk", "UK"), ("us", "United States"), ("europe", "Europe")):
        if region.startswith(prefix) or region.endswith(prefix):
            return place
    if region.endswith("europe") or region.startswith(("germany", "france", "sweden", "norway")):
        return "Europe"
    if region.startswith(("east", "west", "central", "north", "south")) and region.endswith("us"):
        return "United States"
    return "Europe"


class Notifications(pulumi.ComponentResource):
    """physical_name is the Communication Services resource; backend_url the SMTP relay URL."""

    def __init__(
        self, name: str, args: NotificationsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:Notifications", name, None, component_opts(opts))
        self.logical_name = name
        context, spec = args.context, args.spec
        net = network_of(args, name)
        self.network = net
        where = data_location(context.settings.region)
        self.service_name = dashed_name(context, spec.name, max_length=63)
        email = communication.EmailService(
            f"{name}-email",
            email_service_name=f"{self.service_name}-email",
            resource_group_name=net.resource_group_name,
            location="global",
            data_location=where,
            tags=context.tags,
            opts=child(self),
        )
        domain = communication.Domain(
            f"{name}-domain",
            domain_name="AzureManagedDomain",
            email_service_name=email.name,
            resource_group_name=net.resource_group_name,
            location="global",
            domain_management="AzureManaged",
            user_engagement_tracking="Disabled",
            tags=context.tags,
            opts=child(self),
        )
        self.service = communication.CommunicationService(
            f"{name}-service",
            communication_service_name=self.service_name,
            resource_group_name=net.resource_group_name,
            location="global",
            data_location=where,
            linked_domains=[domain.id],
            disable_local_auth=True,
            tags=context.tags,
            opts=child(self),
        )
        self.physical_name: pulumi.Output[str] = self.service.name
        self.backend_url = pulumi.Output.concat(
            f"smtp://{SMTP_RELAY}?starttls=true&from=DoNotReply@", domain.from_sender_domain
        )
        self.credentials_env: dict[str, pulumi.Output[str]] = {}
        """What a tier using MAIL_URL also needs: the relay's username and a reference to its
        password (never the value). Empty until `smtpAppId`/`smtpPassword` are set."""
        self.smtp_secret: keyvault.Secret | None = None
        # Key Vault secret names: letters, digits and dashes.
        self.smtp_secret_name = re.sub(r"[^A-Za-z0-9-]", "-", f"{spec.name}-smtp-password")
        password = smtp_password()
        if settings_app_id := context.settings.smtp_app_id:
            if password is None:
                raise SettingsError(f"tierstack:smtpAppId is set but {SMTP_PASSWORD_KEY} is not")
            self.smtp_secret = keyvault.Secret(
                f"{name}-smtp-password",
                secret_name=self.smtp_secret_name,
                vault_name=net.vault.name,
                resource_group_name=net.resource_group_name,
                properties={"value": password, "content_type": "text/plain"},
                tags={**context.tags, "purpose": "Communication Services SMTP client secret"},
                opts=child(self),
            )
            self.credentials_env = {
                "SMTP_USERNAME": pulumi.Output.concat(
                    self.service.name, ".", settings_app_id, ".", net.tenant_id
                ),
                # From the secret's own name output: the hosts wait until it is stored.
                "SMTP_PASSWORD_REF": keyvault_ref(net.vault.name, self.smtp_secret.name),
            }
        self.register_outputs(
            {"physical_name": self.physical_name, "backend_url": self.backend_url}
        )

    def grant(self, principal: Principal, access: Access) -> list[pulumi.Resource]:
        """Permission to send through this Communication Services resource only, and to read
        the SMTP password secret when the stack has one."""
        role = "communication-and-email-service-owner"
        grants = [
            grant_role(
                f"{principal.name}-{self.service_name}-{access}",
                role=role,
                scope=self.service.id,
                principal_id=principal.id,
                subscription_id=self.network.subscription_id,
                guid_parts=(principal.name, self.service_name, role),
                parent=principal.parent,
            )
        ]
        if self.smtp_secret is not None:
            grants.append(
                grant_role(
                    f"{principal.name}-{self.smtp_secret_name}-read",
                    role=SECRETS_USER_ROLE,
                    scope=pulumi.Output.concat(
                        self.network.vault_id, "/secrets/", self.smtp_secret.name
                    ),
                    principal_id=principal.id,
                    subscription_id=self.network.subscription_id,
                    guid_parts=(
                        principal.name,
                        self.network.vault_name,
                        self.smtp_secret_name,
                        SECRETS_USER_ROLE,
                    ),
                    parent=principal.parent,
                )
            )
        return grants
