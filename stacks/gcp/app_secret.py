"""AppSecret: a generated value (e.g. the app tier's session signing key) kept as a Pulumi secret
and in Secret Manager; hosts get only a reference to it."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from stacks.blueprints.model import Access
from stacks.common.args import AppSecretArgs
from stacks.gcp.common import BindingGrants, labels, physical


def secret_reference(
    secret: gcp.secretmanager.Secret, version: gcp.secretmanager.SecretVersion
) -> pulumi.Output[str]:
    """`gcp-secretmanager://projects/<project>/secrets/<id>/versions/latest`, the reference the
    reference apps resolve with the VM's service account (reference_apps/backends/secrets.py).
    It names the secret, never its value, so it is not a secret output; it resolves once the
    version is stored, so no host boots before there is a value to read."""
    return pulumi.Output.all(secret.project, secret.secret_id, version.id).apply(
        lambda values: (
            f"gcp-secretmanager://projects/{values[0]}/secrets/{values[1]}/versions/latest"
        )
    )


class AppSecret(BindingGrants, pulumi.ComponentResource):
    """The value is generated here, not on a host, so every instance of a tier reads the same one
    (a session signed by one app server must verify on the next); user data carries only `ref`,
    and the only grant a tier needs is secretAccessor on this one secret."""

    def __init__(
        self, name: str, args: AppSecretArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:AppSecret", name, None, opts)
        context = args.context
        child = pulumi.ResourceOptions(parent=self)
        self.logical_name = name
        generated = random.RandomPassword(
            f"{name}-value", length=args.length, special=False, opts=child
        )
        self.value: pulumi.Output[str] = pulumi.Output.secret(generated.result)
        self.secret = gcp.secretmanager.Secret(
            f"{name}-secret",
            secret_id=physical(context, name),
            replication={"user_managed": {"replicas": [{"location": context.settings.region}]}},
            labels=labels(context),
            annotations={"description": args.purpose},
            opts=child,
        )
        version = gcp.secretmanager.SecretVersion(
            f"{name}-version", secret=self.secret.id, secret_data=self.value, opts=child
        )
        self.physical_name: pulumi.Output[str] = self.secret.secret_id
        self.ref: pulumi.Output[str] = secret_reference(self.secret, version)
        self.register_outputs(
            {
                "physical_name": self.physical_name,
                "ref": self.ref,
                "value": self.value,
                "secret": self.secret.id,
            }
        )

    def bind(
        self, name: str, member: pulumi.Input[str], access: Access, parent: pulumi.Resource
    ) -> list[pulumi.CustomResource]:
        """Access "read" only: reading this one secret's value is all a tier does with it."""
        self.require_access("app secret", access, ["read"])
        return [
            gcp.secretmanager.SecretIamMember(
                name,
                secret_id=self.secret.id,
                role="roles/secretmanager.secretAccessor",
                member=member,
                opts=pulumi.ResourceOptions(parent=parent),
            )
        ]
