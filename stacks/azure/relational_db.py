"""RelationalDb: PostgreSQL Flexible Server injected into the VNet's delegated subnet (no public
endpoint), TLS required, backups, zone-redundant HA in prod, and a generated admin password kept
as a Pulumi secret and in the stack's Key Vault, where hosts read it with their identity."""

from __future__ import annotations

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, dbforpostgresql, keyvault, monitor

from stacks.azure.app_secret import keyvault_ref
from stacks.azure.common import (
    child,
    component_opts,
    dashed_name,
    grant_role,
)
from stacks.azure.sizes import DB_SKUS
from stacks.blueprints.model import Access
from stacks.common.args import RelationalDbArgs
from stacks.common.contracts import Principal
from stacks.common.database_tls import VERIFY_FULL, app_role

ADMIN_LOGIN = "tierstack_admin"
PORT = 5432


STORAGE_SIZES_GB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
"""The sizes Flexible Server accepts (Premium SSD; learn.microsoft.com/azure/postgresql/
flexible-server/concepts-storage): 32 GiB is the minimum and 100 is not a size."""


def storage_size_gb(requested: int) -> int:
    """The smallest allowed size that holds `requested` GiB (dev asks 20, prod 100)."""
    fitting = [size for size in STORAGE_SIZES_GB if size >= requested]
    if not fitting:
        raise ValueError(f"dbStorageGb={requested}: Flexible Server allows at most 32768 GiB")
    return fitting[0]


class RelationalDb(pulumi.ComponentResource):
    """physical_name is the server name; endpoint its private FQDN; password a secret.

    backend_url (DATABASE_URL) carries no password: hosts get `password_ref`
    (DATABASE_PASSWORD_REF, `azure-keyvault://<vault>.vault.azure.net/<secret name>`) and read
    the password from Key Vault with their managed identity (Key Vault Secrets User on that one
    secret)."""

    def __init__(
        self, name: str, args: RelationalDbArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:azure:RelationalDb", name, None, component_opts(opts))
        self.logical_name = name
        context, spec, net = args.context, args.spec, args.network
        settings = context.settings
        sizing = settings.sizing
        self.network = net
        self.server_name = dashed_name(context, spec.name, max_length=63)
        zone_name = f"{context.prefix}-{spec.name}.private.postgres.database.azure.com"
        dns_zone = net.private_dns_zone(zone_name)

        password = random.RandomPassword(
            f"{name}-admin-password",
            length=32,
            special=True,
            override_special="-_.~",
            min_lower=2,
            min_upper=2,
            min_numeric=2,
            opts=child(self),
        )
        self.password: pulumi.Output[str] = pulumi.Output.secret(password.result)
        sku_name, sku_tier = DB_SKUS[sizing.db_size]
        self.server = dbforpostgresql.Server(
            f"{name}-server",
            server_name=self.server_name,
            resource_group_name=net.resource_group_name,
            location=net.location,
            version=spec.engine_version,
            administrator_login=ADMIN_LOGIN,
            administrator_login_password=self.password,
            sku={"name": sku_name, "tier": sku_tier},
            storage={
                "storage_size_gb": storage_size_gb(sizing.db_storage_gb),
                "auto_grow": "Enabled",
            },
            backup={
                "backup_retention_days": sizing.backup_retention_days,
                "geo_redundant_backup": "Enabled" if settings.is_prod else "Disabled",
            },
            high_availability=(
                {"mode": "ZoneRedundant", "standby_availability_zone": settings.zones[1]}
                if sizing.db_high_availability
                else {"mode": "Disabled"}
            ),
            availability_zone=settings.zones[0],
            network={
                "delegated_subnet_resource_id": net.subnet_ids["data"],
                "private_dns_zone_arm_resource_id": dns_zone.id,
                "public_network_access": "Disabled",
            },
            auth_config={"password_auth": "Enabled", "active_directory_auth": "Disabled"},
            tags=context.tags,
            opts=child(
                self,
                depends_on=[net.dns_zone_links[zone_name]],
                protect=sizing.deletion_protection,
                additional_secret_outputs=["administratorLoginPassword"],
                # Auto-grow enlarges the disk; storage can never shrink, so a later run must not
                # ask for the original size again.
                ignore_changes=["storage.storageSizeGB"],
            ),
        )
        if sizing.deletion_protection:
            authorization.ManagementLockByScope(
                f"{name}-delete-lock",
                lock_name="do-not-delete",
                scope=self.server.id,
                level="CanNotDelete",
                notes="Deletion protection (tierstack sizing.deletionProtection).",
                opts=child(self),
            )
        dbforpostgresql.Configuration(
            f"{name}-require-tls",
            configuration_name="require_secure_transport",
            server_name=self.server.name,
            resource_group_name=net.resource_group_name,
            value="on",
            source="user-override",
            opts=child(self),
        )
        dbforpostgresql.Database(
            f"{name}-database",
            database_name=spec.database,
            server_name=self.server.name,
            resource_group_name=net.resource_group_name,
            charset="UTF8",
            collation="en_US.utf8",
            opts=child(self),
        )
        self.secret_name = f"{spec.name}-admin-password"
        self.secret = self._store_password(
            f"{name}-password-secret", self.secret_name, self.password, args
        )
        self.password_secret_uri = f"{net.vault_uri}secrets/{self.secret_name}"
        # From the secret's outputs, so hosts (and the grant) wait until the secret exists.
        self.admin_user = ADMIN_LOGIN
        self.admin_password_ref: pulumi.Output[str] = keyvault_ref(net.vault.name, self.secret.name)
        # The app's own login, created at converge by the administrator.
        self.app_user = app_role(spec.database)
        app_password = random.RandomPassword(
            f"{name}-app-password",
            length=32,
            special=True,
            override_special="-_.~",
            opts=child(self),
        )
        self.app_secret_name = f"{spec.name}-app-password"
        self.app_secret = self._store_password(
            f"{name}-app-password-secret", self.app_secret_name, app_password.result, args
        )
        self.password_ref: pulumi.Output[str] = keyvault_ref(net.vault.name, self.app_secret.name)
        monitor.DiagnosticSetting(
            f"{name}-diagnostics",
            name="to-log-analytics",
            resource_uri=self.server.id,
            workspace_id=net.workspace_id,
            logs=[{"category_group": "allLogs", "enabled": True}],
            metrics=[{"category": "AllMetrics", "enabled": True}],
            opts=child(self),
        )
        self.endpoint = pulumi.Output.concat(self.server.name, ".postgres.database.azure.com")
        self.physical_name: pulumi.Output[str] = self.server.name
        self.backend_url = pulumi.Output.concat(
            "postgresql://",
            self.app_user,
            "@",
            self.endpoint,
            f":{PORT}/{spec.database}",
            f"?{VERIFY_FULL}",
        )
        self.register_outputs(
            {
                "physical_name": self.physical_name,
                "backend_url": self.backend_url,
                "endpoint": self.endpoint,
                "password": self.password,
                "password_ref": self.password_ref,
                "admin_password_ref": self.admin_password_ref,
            }
        )

    def _store_password(
        self, name: str, secret_name: str, password: pulumi.Output[str], args: RelationalDbArgs
    ) -> keyvault.Secret:
        """A login's password in the stack's Key Vault, where the hosts read it."""
        return keyvault.Secret(
            name,
            secret_name=secret_name,
            vault_name=args.network.vault.name,
            resource_group_name=args.network.resource_group_name,
            properties={"value": pulumi.Output.secret(password), "content_type": "text/plain"},
            tags=args.context.tags,
            opts=child(self),
        )

    def grant(self, principal: Principal, access: Access) -> list[pulumi.Resource]:
        """Key Vault Secrets User on the password secret only (the SQL rights are the login's)."""
        role = "key-vault-secrets-user"
        # The app role's password for the app; the admin's for root's converge step that
        # creates the app role (a VM has one identity).
        return [
            grant_role(
                f"{principal.name}-{secret_name}-{access}",
                role=role,
                scope=pulumi.Output.concat(self.network.vault_id, "/secrets/", secret.name),
                principal_id=principal.id,
                subscription_id=self.network.subscription_id,
                guid_parts=(principal.name, self.server_name, role, *suffix),
                parent=principal.parent,
            )
            for secret_name, secret, suffix in (
                (self.secret_name, self.secret, ()),
                (self.app_secret_name, self.app_secret, ("app",)),
            )
        ]
