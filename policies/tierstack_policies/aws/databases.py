"""AWS databases: RDS exposure, encryption, backups and deletion protection; DynamoDB PITR."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props, Resources, StackFindings
from ..shared import (
    ENV_SCHEMA,
    STATEMENT_LOGGING,
    flag_check,
    linked_urns,
    of_type,
    retention_schema,
    tag_env,
)
from ..values import UNKNOWN, elements, number, truthy, value
from .types import (
    DYNAMODB_TABLE,
    RDS_CLUSTER,
    RDS_CLUSTER_INSTANCE,
    RDS_INSTANCE,
    RDS_PARAMETER_GROUP,
)

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


family.resource(
    "aws-rds-storage-encrypted",
    severity="high",
    level="mandatory",
    types=(RDS_INSTANCE, RDS_CLUSTER),
    description="RDS storage is encrypted.",
    remediation="Set storage_encrypted=True (optionally kms_key_id).",
)(flag_check(["storageEncrypted"], "storageEncrypted is not true"))


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


family.resource(
    "aws-rds-deletion-protection",
    severity="medium",
    level="mandatory",
    types=(RDS_INSTANCE, RDS_CLUSTER),
    description="Prod RDS databases have deletion protection.",
    remediation="Set deletion_protection=True.",
    config=ENV_SCHEMA,
)(flag_check(["deletionProtection"], "deletionProtection is not true in prod", prod_only=True))


family.resource(
    "aws-dynamodb-pitr-enabled",
    severity="medium",
    level="advisory",
    types=[DYNAMODB_TABLE],
    description="DynamoDB tables have point-in-time recovery (continuous backups).",
    remediation="Set point_in_time_recovery={'enabled': True}.",
)(flag_check(["pointInTimeRecovery", "enabled"], "point-in-time recovery is not enabled"))


@family.stack(
    "aws-rds-statement-logging",
    severity="low",
    level="advisory",
    description="PostgreSQL RDS instances log schema changes: their parameter group sets "
    "log_statement to ddl, mod or all (the default parameter group logs none).",
    remediation="Give the instance an aws.rds.ParameterGroup with parameters=[{'name': "
    "'log_statement', 'value': 'ddl'}] and parameter_group_name=group.name.",
)
def _check_rds_statement_logging(resources: Resources, _config: Config) -> StackFindings:
    """Follows parameterGroupName to the group the program declared; a group named by a literal
    string, or none at all, is the default one as far as the program shows."""
    groups = {group.urn: group for group in of_type(resources, RDS_PARAMETER_GROUP)}
    for instance in of_type(resources, RDS_INSTANCE):
        if "postgres" not in str(value(instance.props, "engine") or ""):
            continue
        linked = [
            groups[urn] for urn in linked_urns(instance, "parameterGroupName") if urn in groups
        ]
        if not linked:
            yield (f"{instance.name} uses a parameter group that logs no statements", instance.urn)
            continue
        settings = [
            value(item, "value")
            for group in linked
            for item in (elements(group.props, "parameters") or [])
            if value(item, "name") == "log_statement"
        ]
        if UNKNOWN in settings:
            continue
        if not any(setting in STATEMENT_LOGGING for setting in settings):
            shown = settings[0] if settings else "unset (none)"
            yield (
                f"{instance.name}: its parameter group's log_statement is {shown}",
                instance.urn,
            )
