"""AWS databases: RDS exposure, encryption, backups and deletion protection; DynamoDB PITR."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props
from ..shared import ENV_SCHEMA, retention_schema, tag_env
from ..values import UNKNOWN, number, switched_off, truthy, value
from .types import DYNAMODB_TABLE, RDS_CLUSTER, RDS_CLUSTER_INSTANCE, RDS_INSTANCE

family = Family("aws", "databases")


@family.resource(
    "aws-rds-not-public",
    severity="critical",
    level="mandatory",
    types=(RDS_INSTANCE, RDS_CLUSTER_INSTANCE),
    description="RDS databases are not publicly accessible.",
    remediation="Set publicly_accessible=False and keep the DB in private subnets.",
)
def _check_rds_public(props: Props, _config: Config, _type: str) -> Findings:
    if truthy(value(props, "publiclyAccessible")):
        yield "publiclyAccessible is true"


@family.resource(
    "aws-rds-storage-encrypted",
    severity="high",
    level="mandatory",
    types=(RDS_INSTANCE, RDS_CLUSTER),
    description="RDS storage is encrypted.",
    remediation="Set storage_encrypted=True (optionally kms_key_id).",
)
def _check_rds_encrypted(props: Props, _config: Config, _type: str) -> Findings:
    if switched_off(props, "storageEncrypted"):
        yield "storageEncrypted is not true"


@family.resource(
    "aws-rds-backup-retention",
    severity="medium",
    level="mandatory",
    types=(RDS_INSTANCE, RDS_CLUSTER),
    description="RDS automated backups are on, and kept at least minRetentionDays (7) in prod.",
    remediation="Set backup_retention_period to 7 or more (35 max).",
    config=retention_schema("Least backup retention in prod, in days."),
)
def _check_rds_backups(props: Props, config: Config, _type: str) -> Findings:
    retention = value(props, "backupRetentionPeriod")
    if retention is UNKNOWN:
        return
    days = number(retention)
    if days == 0:
        yield "automated backups are disabled (backupRetentionPeriod 0)"
    elif tag_env(props, config) == "prod" and (days is None or days < config["minRetentionDays"]):
        shown = "unset (1 day)" if days is None else f"{days:g} days"
        yield f"backup retention {shown} is below {config['minRetentionDays']} days in prod"


@family.resource(
    "aws-rds-deletion-protection",
    severity="medium",
    level="mandatory",
    types=(RDS_INSTANCE, RDS_CLUSTER),
    description="Prod RDS databases have deletion protection.",
    remediation="Set deletion_protection=True.",
    config=ENV_SCHEMA,
)
def _check_rds_deletion(props: Props, config: Config, _type: str) -> Findings:
    if tag_env(props, config) == "prod" and switched_off(props, "deletionProtection"):
        yield "deletionProtection is not true in prod"


@family.resource(
    "aws-dynamodb-pitr-enabled",
    severity="medium",
    level="advisory",
    types=[DYNAMODB_TABLE],
    description="DynamoDB tables have point-in-time recovery (continuous backups).",
    remediation="Set point_in_time_recovery={'enabled': True}.",
)
def _check_dynamodb_pitr(props: Props, _config: Config, _type: str) -> Findings:
    if switched_off(props, "pointInTimeRecovery", "enabled"):
        yield "point-in-time recovery is not enabled"
