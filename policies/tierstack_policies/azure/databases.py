"""Azure databases: PostgreSQL flexible server exposure, backups and deletion lock."""

from __future__ import annotations

from ..registry import Config, Family, Findings, Props, Resources, StackFindings
from ..shared import (
    ENV_SCHEMA,
    STATEMENT_LOGGING,
    linked_urns,
    of_type,
    retention_schema,
    tag_env,
)
from ..values import UNKNOWN, number, value
from .types import LOCKS, POSTGRES, POSTGRES_CONFIGURATION

family = Family("azure", "databases")


@family.resource(
    "azure-postgres-no-public-access",
    severity="critical",
    level="mandatory",
    types=[POSTGRES],
    description="PostgreSQL servers are VNet-integrated or have public network access disabled.",
    remediation="Set network={'delegated_subnet_resource_id': subnet.id, 'private_dns_zone_arm_"
    "resource_id': zone.id} or public_network_access='Disabled'.",
)
def _check_pg_public(props: Props, _config: Config, _type: str) -> Findings:
    network = value(props, "network")
    if network is UNKNOWN:
        return
    if value(network, "delegatedSubnetResourceId") is not None:
        return
    if value(network, "publicNetworkAccess") != "Disabled":
        yield "server is reachable publicly (no delegated subnet, publicNetworkAccess not Disabled)"


@family.resource(
    "azure-postgres-backup-retention",
    severity="medium",
    level="mandatory",
    types=[POSTGRES],
    description="PostgreSQL backups are kept at least minRetentionDays (7) in prod.",
    remediation="Set backup={'backup_retention_days': 7} or more.",
    config=retention_schema("Least backup retention in prod, in days."),
)
def _check_pg_backups(props: Props, config: Config, _type: str) -> Findings:
    days = number(value(props, "backup", "backupRetentionDays"))
    if tag_env(props, config) == "prod" and days is not None and days < config["minRetentionDays"]:
        yield f"backup retention {days:g} days is below {config['minRetentionDays']} in prod"


@family.stack(
    "azure-postgres-deletion-lock-prod",
    severity="medium",
    level="mandatory",
    description="Prod PostgreSQL servers are protected by a CanNotDelete management lock.",
    remediation="Add a ManagementLockAtResourceLevel(level='CanNotDelete') on the server, "
    "or one on its resource group.",
    config=ENV_SCHEMA,
)
def _check_pg_deletion(resources: Resources, config: Config) -> StackFindings:
    """Prod servers need a CanNotDelete lock: on the server, or on its resource group."""
    locked: set[str] = set()
    for lock in of_type(resources, *LOCKS):
        if value(lock.props, "level") == "CanNotDelete":
            locked |= linked_urns(lock, "resourceName", "resourceGroupName", "scope")
    for server in of_type(resources, POSTGRES):
        if tag_env(server.props, config) != "prod":
            continue
        targets = {server.urn} | linked_urns(server, "resourceGroupName")
        if not targets & locked:
            yield (
                f"prod server {server.name} has no CanNotDelete lock on it or its resource group",
                server.urn,
            )


@family.stack(
    "azure-postgres-statement-logging",
    severity="low",
    level="advisory",
    description="PostgreSQL servers log schema changes: a server Configuration sets "
    "log_statement to ddl, mod or all (the server default is none).",
    remediation="Add dbforpostgresql.Configuration(configuration_name='log_statement', "
    "value='ddl', source='user-override', server_name=server.name, ...).",
)
def _check_pg_statement_logging(resources: Resources, _config: Config) -> StackFindings:
    """Follows each Configuration's serverName to its server; a Configuration naming the server
    by a literal string does not count."""
    logging: set[str] = set()
    switched_off: dict[str, str] = {}
    for item in of_type(resources, POSTGRES_CONFIGURATION):
        if value(item.props, "configurationName") != "log_statement":
            continue
        setting = value(item.props, "value")
        for urn in linked_urns(item, "serverName"):
            if setting is UNKNOWN or setting in STATEMENT_LOGGING:
                logging.add(urn)
            else:
                switched_off[urn] = str(setting)
    for server in of_type(resources, POSTGRES):
        if server.urn in logging:
            continue
        shown = switched_off.get(server.urn, "unset (none)")
        yield (f"server {server.name} has log_statement {shown}", server.urn)
