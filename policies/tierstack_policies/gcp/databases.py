"""GCP databases: Cloud SQL exposure, TLS, backups and deletion protection."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props
from ..shared import ENV_SCHEMA, STATEMENT_LOGGING, retention_schema
from ..values import UNKNOWN, elements, falsy, number, truthy, value
from .types import SQL_INSTANCE, label_env

family = Family("gcp", "databases")


@family.resource(
    "gcp-sql-no-public-ip",
    severity="critical",
    level="mandatory",
    types=[SQL_INSTANCE],
    description="Cloud SQL instances have no public IP (private IP only).",
    remediation="Set settings.ip_configuration={'ipv4_enabled': False, 'private_network': vpc.id}.",
)
def _check_sql_public(props: Props, _config: Config, _type: str) -> Findings:
    ipv4 = value(props, "settings", "ipConfiguration", "ipv4Enabled")
    if ipv4 is not UNKNOWN and not falsy(ipv4):
        yield "a public IPv4 address is enabled (set ipConfiguration.ipv4Enabled false)"


@family.resource(
    "gcp-sql-ssl-enforced",
    severity="high",
    level="mandatory",
    types=[SQL_INSTANCE],
    description="Cloud SQL accepts encrypted connections only.",
    remediation="Set settings.ip_configuration.ssl_mode='ENCRYPTED_ONLY'.",
)
def _check_sql_ssl(props: Props, _config: Config, _type: str) -> Findings:
    mode = value(props, "settings", "ipConfiguration", "sslMode")
    if mode not in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED", UNKNOWN):
        yield f"sslMode is {mode or 'unset'}: unencrypted connections are accepted"


@family.resource(
    "gcp-sql-backups-enabled",
    severity="medium",
    level="mandatory",
    types=[SQL_INSTANCE],
    description="Cloud SQL backups are on; prod keeps minRetentionDays (7) backups and PITR.",
    remediation="Set settings.backup_configuration={'enabled': True, "
    "'point_in_time_recovery_enabled': True, 'backup_retention_settings': "
    "{'retained_backups': 7}}.",
    config=retention_schema("Least number of daily backups kept in prod."),
)
def _check_sql_backups(props: Props, config: Config, type_: str) -> Findings:
    backup = value(props, "settings", "backupConfiguration")
    if backup is UNKNOWN:
        return
    if not truthy(value(backup, "enabled")):
        yield "automated backups are not enabled"
        return
    if label_env(props, config, type_) != "prod":
        return
    retained = number(value(backup, "backupRetentionSettings", "retainedBackups"))
    if retained is not None and retained < config["minRetentionDays"]:
        yield f"keeps {retained:g} daily backups, below {config['minRetentionDays']} in prod"
    if (
        falsy(value(backup, "pointInTimeRecoveryEnabled"))
        or value(backup, "pointInTimeRecoveryEnabled") is None
    ):
        yield "point-in-time recovery is not enabled in prod"


@family.resource(
    "gcp-sql-deletion-protection",
    severity="medium",
    level="mandatory",
    types=[SQL_INSTANCE],
    description="Prod Cloud SQL instances keep deletion protection.",
    remediation="Leave deletion_protection True (the default).",
    config=ENV_SCHEMA,
)
def _check_sql_deletion(props: Props, config: Config, type_: str) -> Findings:
    if label_env(props, config, type_) == "prod" and falsy(value(props, "deletionProtection")):
        yield "deletionProtection is false in prod"


@family.resource(
    "gcp-sql-statement-logging",
    severity="low",
    level="advisory",
    types=[SQL_INSTANCE],
    description="Cloud SQL PostgreSQL logs schema changes: the log_statement flag is ddl, mod "
    "or all (unset means none).",
    remediation="Add {'name': 'log_statement', 'value': 'ddl'} to settings.database_flags.",
)
def _check_sql_statement_logging(props: Props, _config: Config, _type: str) -> Findings:
    if not str(value(props, "databaseVersion") or "").startswith("POSTGRES"):
        return
    flags = elements(props, "settings", "databaseFlags")
    if flags is UNKNOWN:
        return
    settings = [value(flag, "value") for flag in flags if value(flag, "name") == "log_statement"]
    if UNKNOWN in settings or any(setting in STATEMENT_LOGGING for setting in settings):
        return
    yield f"log_statement is {settings[0] if settings else 'unset (none)'}"
