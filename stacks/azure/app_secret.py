"""AppSecret: a generated value (letters and digits) kept as a Pulumi secret and as a secret in
the stack's Key Vault, where hosts read it with their managed identity. User data carries only
the reference `azure-keyvault://<vault>.vault.azure.net/<secret name>`, never the value."""

from __future__ import annotations

import re

import pulumi
import pulumi_random as random
from pulumi_azure_native import keyvault

from stacks.azure.common import (
    child,
    component_opts,
    grant_to,
    network_of,
)
from stacks.blueprints.model import Access
from stacks.common.args import AppSecretArgs
from stacks.common.contracts import Principal

SECRETS_USER_ROLE = "key-vault-secrets-user"


def keyvault_ref(
    vault_name: pulumi.Input[str], secret_name: pulumi.Input[str]
) -> pulumi.Output[str]:
    """The reference the reference apps resolve with their identity (the latest version)."""
    return pulumi.Output.concat("azure-keyvault://", vault_name, ".vault.azure.net/", secret_name)


class AppSecret(pulumi.ComponentResource):
    """physical_name is the Key Vault secret's name; ref the reference hosts get (not a secret
    output); value the generated value (a secret).

    The vault is the stack's own (Network's, passed in the Args like the data
    components'); a tier granted "read" gets Key Vault Secrets User on this one secret."""

    def __init__(
        self, name: str, args: AppSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:AppSecret", name, None, component_opts(opts))
        self.logical_name = name
        context = args.context
        net = network_of(args, name)
        self.network = net
        # Key Vault secret names: 1-127 letters, digits and dashes.
        self.secret_name = re.sub(r"[^A-Za-z0-9-]", "-", name)[:127]
        generated = random.RandomPassword(
            f"{name}-value", length=args.length, special=False, opts=child(self)
        )
        self.value: pulumi.Output[str] = pulumi.Output.secret(generated.result)
        self.secret = keyvault.Secret(
            f"{name}-secret",
            secret_name=self.secret_name,
            vault_name=net.vault.name,
            resource_group_name=net.resource_group_name,
            properties={"value": self.value, "content_type": "text/plain"},
            tags={**context.tags, "purpose": args.purpose[:256]},
            opts=child(self),
        )
        self.physical_name: pulumi.Output[str] = self.secret.name
        # From the secret's own outputs: hosts and grants wait until the secret exists.
        self.ref: pulumi.Output[str] = keyvault_ref(net.vault.name, self.secret.name)
        self.secret_id: pulumi.Output[str] = pulumi.Output.concat(
            net.vault_id, "/secrets/", self.secret.name
        )
        self.register_outputs(
            {"physical_name": self.physical_name, "ref": self.ref, "value": self.value}
        )

    def grant(self, principal: Principal, access: Access) -> list[pulumi.Resource]:
        """Key Vault Secrets User on this secret only (never the vault or the resource group)."""
        if access != "read":
            raise ValueError(
                f"{principal.name}: an app secret grants only 'read' access, not {access!r}"
            )
        return grant_to(
            principal,
            access,
            label=self.secret_name,
            role=SECRETS_USER_ROLE,
            scope=self.secret_id,
            subscription_id=self.network.subscription_id,
            anchor=(self.network.vault_name, self.secret_name),
        )
