"""RelationalDb: RDS PostgreSQL in private subnets, encrypted, TLS-only, backed up, with a
generated password held as a Pulumi secret and in Secrets Manager for the hosts. The hosts verify
the server (sslmode=verify-full) against the Amazon RDS root CAs the repository holds."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from cryptography import x509

from stacks.aws.common import StatementGrants, child, tags
from stacks.aws.sizes import DB_INSTANCE_CLASSES
from stacks.common.args import RelationalDbArgs
from stacks.common.database_tls import VERIFY_FULL, app_role

PORT = 5432
MASTER_USER = "tierstack"
PASSWORD_LENGTH = 32
PASSWORD_SPECIALS = "!#$%^&*()-_=+[]{}<>:?"
"""RDS refuses '/', '@', '"' and spaces in master passwords."""
CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
"""The CA that signs the instance's server certificate, pinned so a changed account default
cannot move it to a root the hosts lack (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/
UsingWithRDS.SSL.html: rds-ca-rsa2048-g1 is the default CA, chained to the region's
"Amazon RDS <region> Root CA RSA2048 G1"; its certificates name the endpoint)."""
CA_BUNDLE = "amazon-rds-global-bundle.pem"
"""The Amazon RDS roots, shipped with the blueprint_host role (its header gives the source)."""
CA_BUNDLE_PATH = Path(__file__).resolve().parents[2] / "roles/blueprint_host/files" / CA_BUNDLE


@cache
def bundle_roots() -> frozenset[str]:
    """The common names of the roots in the bundle the hosts install."""
    return frozenset(
        attribute.value
        for cert in x509.load_pem_x509_certificates(CA_BUNDLE_PATH.read_bytes())
        for attribute in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if isinstance(attribute.value, str)
    )


def region_root(region: str) -> str:
    """The root of the region's rds-ca-rsa2048-g1 certificates; a region whose root the bundle
    lacks fails the preview (every connection would fail verify-full)."""
    root = f"Amazon RDS {region} Root CA RSA2048 G1"
    if root not in bundle_roots():
        raise ValueError(
            f"region {region}: {CA_BUNDLE} has no '{root}'; refresh the bundle from the source "
            "its header names"
        )
    return root


class RelationalDb(StatementGrants, pulumi.ComponentResource):
    """No ingress until a tier that uses the database opens its own security group to it."""

    endpoint: pulumi.Output[str]
    password: pulumi.Output[str]
    secret_arn: pulumi.Output[str]
    password_ref: pulumi.Output[str]
    admin_password_ref: pulumi.Output[str]
    admin_user: str = MASTER_USER
    security_group_id: pulumi.Output[str]
    logical_name: str
    physical_name: pulumi.Output[str]
    backend_url: pulumi.Output[str]
    host_role_vars: dict[str, object]
    port: int = PORT

    def __init__(
        self, name: str, args: RelationalDbArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tierstack:aws:RelationalDb", name, None, opts)
        self.logical_name = name
        context, spec, network = args.context, args.spec, args.network
        sizing = context.settings.sizing
        identifier = f"{context.prefix}-{spec.name}"
        region_root(context.settings.region)
        # The hosts of the tiers that use this database write the bundle to the file DATABASE_URL
        # names as sslrootcert.
        self.host_role_vars = {"blueprint_host_database_ca_bundles": [CA_BUNDLE]}

        password = random.RandomPassword(
            f"{name}-password",
            length=PASSWORD_LENGTH,
            special=True,
            override_special=PASSWORD_SPECIALS,
            opts=child(self),
        )
        self.password = pulumi.Output.secret(password.result)
        # The app's own login (created at converge by the master user, see the README).
        self.app_user = app_role(spec.database)
        app_password = random.RandomPassword(
            f"{name}-app-password",
            length=PASSWORD_LENGTH,
            special=True,
            override_special=PASSWORD_SPECIALS,
            opts=child(self),
        )

        subnets = aws.rds.SubnetGroup(
            name,
            name=identifier,
            subnet_ids=network.private_subnet_ids,
            tags=tags(context, spec.name),
            opts=child(self),
        )
        group = aws.ec2.SecurityGroup(
            name,
            name=f"{identifier}-db",
            description=f"PostgreSQL {spec.name}: ingress only from the tiers that use it",
            vpc_id=network.vpc_id,
            revoke_rules_on_delete=True,
            tags=tags(context, f"{spec.name}-db"),
            opts=child(self),
        )
        self.security_group_id = group.id
        major = spec.engine_version.split(".")[0]
        parameters = aws.rds.ParameterGroup(
            name,
            name=f"{identifier}-pg{major}",
            family=f"postgres{major}",
            parameters=[
                {"name": "rds.force_ssl", "value": "1"},
                {"name": "log_connections", "value": "1"},
                # Schema changes and statements slower than a second reach the log.
                {"name": "log_statement", "value": "ddl"},
                {"name": "log_min_duration_statement", "value": "1000"},
            ],
            tags=tags(context, spec.name),
            opts=child(self),
        )
        instance = aws.rds.Instance(
            name,
            identifier=identifier,
            engine="postgres",
            engine_version=spec.engine_version,
            instance_class=DB_INSTANCE_CLASSES[sizing.db_size],
            allocated_storage=sizing.db_storage_gb,
            max_allocated_storage=sizing.db_storage_gb * 4,
            storage_type="gp3",
            storage_encrypted=True,
            db_name=spec.database,
            username=MASTER_USER,
            password=password.result,
            port=PORT,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[group.id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            multi_az=sizing.db_high_availability,
            backup_retention_period=sizing.backup_retention_days,
            deletion_protection=sizing.deletion_protection,
            skip_final_snapshot=not context.settings.is_prod,
            final_snapshot_identifier=f"{identifier}-final" if context.settings.is_prod else None,
            copy_tags_to_snapshot=True,
            iam_database_authentication_enabled=True,
            ca_cert_identifier=CA_CERT_IDENTIFIER,
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=["postgresql"],
            tags=tags(context, spec.name),
            opts=child(self),
        )

        # Hosts read the passwords from here at boot (the user data never carries them).
        secret, self.admin_password_ref = self._store_login(
            name,
            f"tierstack/{identifier}/master",
            f"Master credentials of the {spec.name} database",
            MASTER_USER,
            password.result,
            instance.address,
            args,
        )
        # DATABASE_PASSWORD_REF: the app role's password.
        app_secret, self.password_ref = self._store_login(
            f"{name}-app",
            f"tierstack/{identifier}/app",
            f"Credentials of the app's own login on the {spec.name} database",
            self.app_user,
            app_password.result,
            instance.address,
            args,
        )
        self.secret_arn = secret.arn
        self.app_secret_arn = app_secret.arn
        self.endpoint = instance.address
        self.physical_name = instance.identifier
        self.backend_url = instance.address.apply(
            lambda host: f"postgresql://{self.app_user}@{host}:{PORT}/{spec.database}?{VERIFY_FULL}"
        )
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "physical_name": self.physical_name,
                "backend_url": self.backend_url,
                "secret_arn": self.secret_arn,
                "password_ref": self.password_ref,
                "admin_password_ref": self.admin_password_ref,
                "password": self.password,
            }
        )

    def _store_login(
        self,
        name: str,
        secret_name: str,
        description: str,
        user: str,
        password: pulumi.Output[str],
        address: pulumi.Output[str],
        args: RelationalDbArgs,
    ) -> tuple[aws.secretsmanager.Secret, pulumi.Output[str]]:
        """One login's credentials as a JSON secret, and the reference the hosts resolve; the
        reference waits for the stored value, so no host boots before it can read it."""
        context, spec = args.context, args.spec
        secret = aws.secretsmanager.Secret(
            name,
            name=secret_name,
            description=description,
            recovery_window_in_days=7 if context.settings.is_prod else 0,
            tags=tags(context, spec.name),
            opts=child(self),
        )
        version = aws.secretsmanager.SecretVersion(
            name,
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(
                pulumi.Output.all(address, password).apply(
                    lambda values: json.dumps(
                        {
                            "engine": "postgres",
                            "host": values[0],
                            "port": PORT,
                            "dbname": spec.database,
                            "username": user,
                            "password": values[1],
                        }
                    )
                )
            ),
            opts=child(self),
        )
        reference = pulumi.Output.all(secret.arn, version.id).apply(
            lambda values: f"aws-secretsmanager://{values[0]}#password"
        )
        return secret, reference

    def policy_statements(self, _access: str) -> pulumi.Output[list[dict[str, Any]]]:
        """Reading the app role's secret (the app) and the master's (root's converge step that
        creates the app role: a VM has one identity); network access comes from the tier's
        security group."""
        return pulumi.Output.all(self.app_secret_arn, self.secret_arn).apply(
            lambda arns: [
                {
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    "Resource": list(arns),
                }
            ]
        )
