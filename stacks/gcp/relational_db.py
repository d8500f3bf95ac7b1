"""RelationalDb: Cloud SQL for PostgreSQL on a private IP only, TLS required, backups with
point-in-time recovery, and a generated password kept as a Pulumi secret and in Secret Manager."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from stacks.blueprints.model import Access
from stacks.common.args import RelationalDbArgs
from stacks.common.database_tls import VERIFY_CA, app_role
from stacks.gcp.app_secret import secret_reference
from stacks.gcp.common import BindingGrants, labels, physical
from stacks.gcp.sizes import DB_TIERS

POSTGRES_PORT = 5432
ADMIN_USER = "tierstack_admin"
"""The login Cloud SQL makes through its API (a member of cloudsqlsuperuser): it only creates
the app role at converge; the apps never connect as it."""
AUDIT_FLAGS = {
    "log_connections": "on",
    "log_disconnections": "on",
    "log_checkpoints": "on",
    "log_lock_waits": "on",
    "log_temp_files": "0",
    "log_min_error_statement": "error",
    "log_hostname": "on",
    "log_duration": "on",
    "log_statement": "ddl",
    "cloudsql.enable_pgaudit": "on",
}
"""The CIS benchmark's logging flags for Cloud SQL PostgreSQL (schema changes logged as
statements, every statement's duration, client host names, pgAudit available)."""
SERVER_CA_MODE = "GOOGLE_MANAGED_INTERNAL_CA"
"""A CA of this instance's own signs its server certificate (cloud.google.com/sql/docs/postgres/
authorize-ssl, "Certificate authority (CA) hierarchies": the per-instance CA). Google documents
hostname verification (verify-full) only by the instance's DNS name, never by its IP address
(docs/postgres/configure-ssl-instance): with the shared CA (GOOGLE_MANAGED_CAS_CA) the
certificate names INSTANCE_UID.PROJECT_DNS_LABEL.REGION.sql-psa.goog, which the VPC would have to
resolve through a private DNS zone. The hosts connect to the private IP, so they check the chain
(verify-ca) against this instance's CA, which signs for no other server: a valid chain is this
instance."""


class RelationalDb(BindingGrants, pulumi.ComponentResource):
    """Hosts connect straight to the private address with `sslmode=verify-ca` against the
    instance's own CA (`host_role_vars`: its certificate, which the hosts of the tiers that use
    the database write to the sslrootcert file) and read the password from Secret Manager; the
    only grant a tier needs is secretAccessor on this one secret. Not verify-full: the server
    certificate cannot name the private IP the hosts dial (SERVER_CA_MODE)."""

    def __init__(
        self, name: str, args: RelationalDbArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:gcp:RelationalDb", name, None, opts)
        context, spec = args.context, args.spec
        settings = context.settings
        sizing = settings.sizing
        child = pulumi.ResourceOptions(parent=self)
        self.logical_name = name
        self.user_name = app_role(spec.database)
        self.admin_user = ADMIN_USER
        private_services = args.network.private_services_access()

        self.instance = gcp.sql.DatabaseInstance(
            f"{name}-instance",
            name=physical(context, spec.name),
            region=settings.region,
            database_version=f"POSTGRES_{spec.engine_version}",
            deletion_protection=sizing.deletion_protection,
            settings={
                "tier": DB_TIERS[sizing.db_size],
                "edition": "ENTERPRISE",
                "availability_type": "REGIONAL" if sizing.db_high_availability else "ZONAL",
                "disk_type": "PD_SSD",
                "disk_size": sizing.db_storage_gb,
                "disk_autoresize": True,
                "deletion_protection_enabled": sizing.deletion_protection,
                "ip_configuration": {
                    "ipv4_enabled": False,
                    "private_network": args.network.vpc.id,
                    # TLS only, password authentication (no client certificate).
                    "ssl_mode": "ENCRYPTED_ONLY",
                    "server_ca_mode": SERVER_CA_MODE,
                    "enable_private_path_for_google_cloud_services": True,
                },
                "backup_configuration": {
                    "enabled": True,
                    "point_in_time_recovery_enabled": True,
                    "start_time": "02:00",
                    "transaction_log_retention_days": min(sizing.backup_retention_days, 7),
                    "backup_retention_settings": {
                        "retained_backups": sizing.backup_retention_days,
                        "retention_unit": "COUNT",
                    },
                },
                "maintenance_window": {"day": 7, "hour": 3, "update_track": "stable"},
                "insights_config": {"query_insights_enabled": True},
                "database_flags": [
                    {"name": flag, "value": setting} for flag, setting in AUDIT_FLAGS.items()
                ],
                "user_labels": labels(context),
            },
            # disk_autoresize grows the disk; without this a later run would try to shrink it
            # back, which Cloud SQL refuses (a replacement of the instance).
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[private_services],
                ignore_changes=["settings.diskSize"],
            ),
        )
        self.database = gcp.sql.Database(
            f"{name}-database", name=spec.database, instance=self.instance.name, opts=child
        )
        generated = random.RandomPassword(
            f"{name}-password", length=32, special=True, override_special="-_.~", opts=child
        )
        self.password: pulumi.Output[str] = pulumi.Output.secret(generated.result)
        self.user = gcp.sql.User(
            f"{name}-app-user",
            name=ADMIN_USER,
            instance=self.instance.name,
            password=self.password,
            # PostgreSQL refuses to drop a role that still owns objects; keep it on destroy.
            deletion_policy="ABANDON",
            opts=child,
        )
        self.password_secret, self.admin_password_ref = self._store_password(
            name, "password", self.password, args
        )
        # The app's own login, created at converge by ADMIN_USER (not through the API, which
        # would make it a member of cloudsqlsuperuser).
        app_generated = random.RandomPassword(
            f"{name}-app-password", length=32, special=True, override_special="-_.~", opts=child
        )
        self.app_password_secret, self.password_ref = self._store_password(
            name, "app-password", app_generated.result, args
        )
        self.physical_name: pulumi.Output[str] = self.instance.name
        self.endpoint: pulumi.Output[str] = self.instance.private_ip_address
        self.backend_url: pulumi.Output[str] = pulumi.Output.concat(
            "postgresql://",
            self.user_name,
            "@",
            self.endpoint,
            f":{POSTGRES_PORT}/",
            spec.database,
            f"?{VERIFY_CA}",
        )
        # The instance's CA certificates (the active one, and one prepared for a rotation when
        # there is one): each of its per-instance CAs signs for this instance only.
        self.ca_cert: pulumi.Output[str] = self.instance.server_ca_certs.apply(
            lambda certs: "\n".join(cert.cert.strip() for cert in certs if cert.cert) + "\n"
        )
        self.host_role_vars: dict[str, pulumi.Input[object]] = {
            "blueprint_host_database_ca": self.ca_cert
        }
        self.register_outputs(
            {
                "physical_name": self.physical_name,
                "endpoint": self.endpoint,
                "backend_url": self.backend_url,
                "password_secret": self.password_secret.id,
                "password_ref": self.password_ref,
                "admin_password_ref": self.admin_password_ref,
                "password": self.password,
            }
        )

    def _store_password(
        self, name: str, label: str, password: pulumi.Output[str], args: RelationalDbArgs
    ) -> tuple[gcp.secretmanager.Secret, pulumi.Output[str]]:
        """A login's password in Secret Manager (in the stack's region), and the reference the
        hosts resolve, which waits for the stored version."""
        context, child = args.context, pulumi.ResourceOptions(parent=self)
        secret = gcp.secretmanager.Secret(
            f"{name}-{label}-secret",
            secret_id=physical(context, f"{args.spec.name}-{label}"),
            replication={"user_managed": {"replicas": [{"location": context.settings.region}]}},
            labels=labels(context),
            opts=child,
        )
        version = gcp.secretmanager.SecretVersion(
            f"{name}-{label}-version",
            secret=secret.id,
            secret_data=pulumi.Output.secret(password),
            opts=child,
        )
        return secret, secret_reference(secret, version)

    def bind(
        self, name: str, member: pulumi.Input[str], access: Access, parent: pulumi.Resource
    ) -> list[pulumi.CustomResource]:
        """read and read-write alike get the password; what they may do is the database's
        business (its roles), not IAM's."""
        if access not in ("read", "read-write"):
            raise ValueError(f"database {self.logical_name}: access {access!r} does not apply")
        # The app role's password for the app; the admin's for root's converge step that
        # creates the app role (a VM has one service account).
        return [
            gcp.secretmanager.SecretIamMember(
                name,
                secret_id=self.app_password_secret.id,
                role="roles/secretmanager.secretAccessor",
                member=member,
                opts=pulumi.ResourceOptions(parent=parent),
            ),
            gcp.secretmanager.SecretIamMember(
                f"{name}-admin",
                secret_id=self.password_secret.id,
                role="roles/secretmanager.secretAccessor",
                member=member,
                opts=pulumi.ResourceOptions(parent=parent),
            ),
        ]
