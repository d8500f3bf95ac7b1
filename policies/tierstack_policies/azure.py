"""Azure policies (pulumi-azure-native 3 resource types; camelCase wire names).

Not checked because Azure gives no choice: encryption at rest of storage accounts, managed disks,
Service Bus and PostgreSQL flexible servers (always on, platform keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyResource, Severity

from .common import (
    ADMIN_PORTS,
    ENV_SCHEMA,
    PUBLIC_CIDRS,
    REQUIRED_TAGS_SCHEMA,
    UNKNOWN,
    Meta,
    cap_exceeded,
    cap_schema,
    elements,
    env_of,
    falsy,
    linked_urns,
    number,
    of_type,
    required_tags_check,
    resource_policy,
    scalars,
    size_allowed,
    sizes_schema,
    stack_policy,
    tags_of,
    truthy,
    value,
)

MANDATORY, ADVISORY = EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY
LOW, MEDIUM, HIGH, CRITICAL = Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL

STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
BLOB_CONTAINER = "azure-native:storage:BlobContainer"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
MANAGEMENT_POLICY = "azure-native:storage:ManagementPolicy"
NSG = "azure-native:network:NetworkSecurityGroup"
SECURITY_RULE = "azure-native:network:SecurityRule"
NIC = "azure-native:network:NetworkInterface"
VNET = "azure-native:network:VirtualNetwork"
FLOW_LOG = "azure-native:network:FlowLog"
APP_GATEWAY = "azure-native:network:ApplicationGateway"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
VM = "azure-native:compute:VirtualMachine"
POSTGRES = "azure-native:dbforpostgresql:Server"
LOCKS = (
    "azure-native:authorization:ManagementLockAtResourceLevel",
    "azure-native:authorization:ManagementLockAtResourceGroupLevel",
    "azure-native:authorization:ManagementLockByScope",
)
SB_NAMESPACE = "azure-native:servicebus:Namespace"
SB_QUEUE = "azure-native:servicebus:Queue"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
AUTOSCALE = "azure-native:monitor:AutoscaleSetting"

TAGGED = (
    STORAGE_ACCOUNT,
    NSG,
    VNET,
    NIC,
    APP_GATEWAY,
    VMSS,
    VM,
    POSTGRES,
    SB_NAMESPACE,
    AUTOSCALE,
    "azure-native:resources:ResourceGroup",
    "azure-native:network:PublicIPAddress",
    "azure-native:network:NatGateway",
    "azure-native:cosmosdb:DatabaseAccount",
    "azure-native:iothub:IotHubResource",
    "azure-native:hdinsight:Cluster",
)
PUBLIC_SOURCES = {*PUBLIC_CIDRS, "*", "Internet", "Any", "0.0.0.0"}
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR_ROLE = "b24988ac-6180-42a0-ab88-20f7382dd24c"
MODERN_PREDEFINED = ["AppGwSslPolicy20220101", "AppGwSslPolicy20220101S"]
DEFAULT_SIZES = {
    "dev": ["Standard_B1s", "Standard_B1ms", "Standard_B2s", "Standard_B2ms"],
    "prod": [
        "Standard_B2ms",
        "Standard_D2s_v5",
        "Standard_D4s_v5",
        "Standard_D2as_v5",
        "Standard_D4as_v5",
        "Standard_F2s_v2",
        "Standard_F4s_v2",
    ],
}
DEFAULT_CAPS = {"dev": 4, "prod": 20}


def _meta(
    policy_id: str, family: str, severity: Any, level: Any, description: str, remediation: str
) -> Meta:
    return Meta(policy_id, "azure", family, severity, level, description, remediation)


def _env(props: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    return env_of(tags_of(props), config)


# --- object storage ---------------------------------------------------------------------------


def _check_https_only(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    if falsy(value(props, "enableHttpsTrafficOnly")):
        yield "enableHttpsTrafficOnly is false"


def _check_min_tls(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    version = value(props, "minimumTlsVersion")
    if version not in ("TLS1_2", "TLS1_3", UNKNOWN):
        yield f"minimumTlsVersion is {version or 'unset (TLS1_0 on older API versions)'}"


def _check_public_blobs(props: Mapping[str, Any], _config: Mapping[str, Any], type_: str):
    if type_ == BLOB_CONTAINER:
        access = value(props, "publicAccess")
        if access in ("Blob", "Container"):
            yield f"container publicAccess is {access}"
        return
    allowed = value(props, "allowBlobPublicAccess")
    if allowed is not UNKNOWN and not falsy(allowed):
        yield "allowBlobPublicAccess is not false"


def _accounts_without(resources: list[PolicyResource], companion: str, is_good: Any, what: str):
    covered: set[str] = set()
    for item in of_type(resources, companion):
        if is_good(item.props):
            covered |= linked_urns(item, "accountName")
    for account in of_type(resources, STORAGE_ACCOUNT):
        if account.urn not in covered:
            yield f"storage account {account.name} has no {what}", account.urn


def _versioning_ok(props: Mapping[str, Any]) -> bool:
    versioning = value(props, "isVersioningEnabled")
    soft_delete = value(props, "deleteRetentionPolicy", "enabled")
    return (versioning is UNKNOWN or truthy(versioning)) and (
        soft_delete is UNKNOWN or truthy(soft_delete)
    )


def _soft_delete_ok(props: Mapping[str, Any]) -> bool:
    soft_delete = value(props, "deleteRetentionPolicy", "enabled")
    return soft_delete is UNKNOWN or truthy(soft_delete)


def _check_versioning(resources: list[PolicyResource], _config: Mapping[str, Any]):
    # Azure refuses blob versioning on hierarchical-namespace (ADLS Gen2) accounts: for those,
    # soft delete is the protection that exists, and it is required.
    hierarchical = {
        account.urn
        for account in of_type(resources, STORAGE_ACCOUNT)
        if truthy(value(account.props, "isHnsEnabled"))
    }
    covered: set[str] = set()
    for item in of_type(resources, BLOB_SERVICE):
        accounts = linked_urns(item, "accountName")
        if _versioning_ok(item.props) or (
            accounts and accounts <= hierarchical and _soft_delete_ok(item.props)
        ):
            covered |= accounts
    for account in of_type(resources, STORAGE_ACCOUNT):
        if account.urn not in covered:
            what = "soft delete" if account.urn in hierarchical else "versioning and soft delete"
            yield (
                (
                    f"storage account {account.name} has no blob service properties with "
                    f"{what} enabled (linked by accountName)"
                ),
                account.urn,
            )


def _check_lifecycle(resources: list[PolicyResource], _config: Mapping[str, Any]):
    yield from _accounts_without(
        resources,
        MANAGEMENT_POLICY,
        lambda _props: True,
        "lifecycle management policy (linked by accountName)",
    )


def _check_shared_key(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    allowed = value(props, "allowSharedKeyAccess")
    if allowed is not UNKNOWN and not falsy(allowed):
        yield "allowSharedKeyAccess is not false: long-lived account keys stay usable"


# --- network ----------------------------------------------------------------------------------


def _port_exposes(port_range: Any) -> str | None:
    if port_range == "*":
        return "all ports"
    if not isinstance(port_range, str):
        return None
    low, _, high = port_range.partition("-")
    low_port, high_port = number(low), number(high or low)
    if low_port is None or high_port is None:
        return None
    if low_port <= 0 and high_port >= 65535:
        return "all ports"
    for port, name in ADMIN_PORTS.items():
        if low_port <= port <= high_port:
            return f"{name} (port {port})"
    return None


def _rule_findings(rule: Any):
    if value(rule, "direction") != "Inbound" or value(rule, "access") != "Allow":
        return
    sources = scalars(rule, "sourceAddressPrefix") + scalars(rule, "sourceAddressPrefixes")
    world = next((source for source in sources if source in PUBLIC_SOURCES), None)
    if world is None:
        return
    ports = scalars(rule, "destinationPortRange") + scalars(rule, "destinationPortRanges")
    for port_range in ports:
        exposed = _port_exposes(port_range)
        if exposed:
            yield f"rule {value(rule, 'name') or ''} allows {exposed} from {world}".replace(
                "rule  ", "rule "
            )
            return


def _check_nsg(props: Mapping[str, Any], _config: Mapping[str, Any], type_: str):
    if type_ == SECURITY_RULE:
        yield from _rule_findings(props)
        return
    rules = elements(props, "securityRules")
    for rule in rules if isinstance(rules, list) else []:
        yield from _rule_findings(rule)


def _check_no_public_ip(props: Mapping[str, Any], _config: Mapping[str, Any], type_: str):
    if type_ == NIC:
        configs = elements(props, "ipConfigurations")
        for config in configs if isinstance(configs, list) else []:
            if value(config, "publicIPAddress") is not None:
                yield "a NIC IP configuration has a public IP address"
        return
    interfaces = elements(
        props, "virtualMachineProfile", "networkProfile", "networkInterfaceConfigurations"
    )
    for interface in interfaces if isinstance(interfaces, list) else []:
        configs = elements(interface, "ipConfigurations")
        for config in configs if isinstance(configs, list) else []:
            if value(config, "publicIPAddressConfiguration") is not None:
                yield "instances get a public IP (publicIPAddressConfiguration)"


def _check_flow_logs(resources: list[PolicyResource], _config: Mapping[str, Any]):
    covered: set[str] = set()
    for flow_log in of_type(resources, FLOW_LOG):
        covered |= linked_urns(flow_log, "targetResourceId")
    for network in of_type(resources, VNET):
        if network.urn not in covered:
            yield f"virtual network {network.name} has no flow log (targetResourceId)", network.urn


def _check_gateway_logging(resources: list[PolicyResource], _config: Mapping[str, Any]):
    covered: set[str] = set()
    for setting in of_type(resources, DIAGNOSTIC_SETTING):
        covered |= linked_urns(setting, "resourceUri")
    for gateway in of_type(resources, APP_GATEWAY):
        if gateway.urn not in covered:
            yield (
                f"application gateway {gateway.name} has no diagnostic setting (access logs)",
                gateway.urn,
            )


# --- compute ----------------------------------------------------------------------------------


def _check_identity(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    kind = value(props, "identity", "type")
    if kind is not UNKNOWN and (not isinstance(kind, str) or "Assigned" not in kind):
        yield "no managed identity (identity.type SystemAssigned or UserAssigned)"


def _os_profile(props: Mapping[str, Any], type_: str) -> Any:
    if type_ == VMSS:
        return value(props, "virtualMachineProfile", "osProfile")
    return value(props, "osProfile")


def _check_password_auth(props: Mapping[str, Any], _config: Mapping[str, Any], type_: str):
    profile = _os_profile(props, type_)
    if profile is UNKNOWN or profile is None:
        return
    if value(profile, "windowsConfiguration") is not None:
        yield "Windows hosts log in with passwords; app tiers run Linux with SSH keys"
        return
    disabled = value(profile, "linuxConfiguration", "disablePasswordAuthentication")
    if disabled is not UNKNOWN and not truthy(disabled):
        yield "linuxConfiguration.disablePasswordAuthentication is not true"
    if value(profile, "adminPassword") is not None:
        yield "an adminPassword is set"


def _check_encryption_at_host(props: Mapping[str, Any], _config: Mapping[str, Any], type_: str):
    security = (
        value(props, "virtualMachineProfile", "securityProfile")
        if type_ == VMSS
        else value(props, "securityProfile")
    )
    if security is UNKNOWN:
        return
    if not truthy(value(security, "encryptionAtHost")):
        yield "encryptionAtHost is not true (temp disks and caches unencrypted)"


# --- databases --------------------------------------------------------------------------------


def _check_pg_public(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    network = value(props, "network")
    if network is UNKNOWN:
        return
    if value(network, "delegatedSubnetResourceId") is not None:
        return
    if value(network, "publicNetworkAccess") != "Disabled":
        yield "server is reachable publicly (no delegated subnet, publicNetworkAccess not Disabled)"


def _check_pg_backups(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    days = number(value(props, "backup", "backupRetentionDays"))
    if _env(props, config) == "prod" and days is not None and days < config["minRetentionDays"]:
        yield f"backup retention {days:g} days is below {config['minRetentionDays']} in prod"


def _check_pg_deletion(resources: list[PolicyResource], config: Mapping[str, Any]):
    """Prod servers need a CanNotDelete lock: on the server, or on its resource group."""
    locked: set[str] = set()
    for lock in of_type(resources, *LOCKS):
        if value(lock.props, "level") == "CanNotDelete":
            locked |= linked_urns(lock, "resourceName", "resourceGroupName", "scope")
    for server in of_type(resources, POSTGRES):
        if _env(server.props, config) != "prod":
            continue
        targets = {server.urn} | linked_urns(server, "resourceGroupName")
        if not targets & locked:
            yield (
                f"prod server {server.name} has no CanNotDelete lock on it or its resource group",
                server.urn,
            )


def _check_pg_ha(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    mode = value(props, "highAvailability", "mode")
    if _env(props, config) == "prod" and mode not in ("ZoneRedundant", "SameZone", UNKNOWN):
        yield f"highAvailability.mode is {mode or 'Disabled'} in prod"


# --- queues -----------------------------------------------------------------------------------


def _check_dead_lettering(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    enabled = value(props, "deadLetteringOnMessageExpiration")
    if enabled is not UNKNOWN and not truthy(enabled):
        yield "deadLetteringOnMessageExpiration is not true (expired messages are dropped)"


def _check_sb_tls(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    version = value(props, "minimumTlsVersion")
    if version not in ("1.2", "1.3", UNKNOWN):
        yield f"minimumTlsVersion is {version or 'unset'}, not 1.2"


# --- load balancers ---------------------------------------------------------------------------


def _check_gateway_https(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    listeners = elements(props, "httpListeners")
    if listeners is UNKNOWN:
        return
    if not any(value(listener, "protocol") in ("Https", UNKNOWN) for listener in listeners):
        yield "no HTTPS listener"


def _check_gateway_redirect(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    """Every HTTP listener is routed by a rule that has a redirect configuration."""
    listeners = elements(props, "httpListeners")
    rules = elements(props, "requestRoutingRules")
    if listeners is UNKNOWN or rules is UNKNOWN:
        return
    for listener in listeners:
        name = value(listener, "name")
        if value(listener, "protocol") != "Http" or not isinstance(name, str):
            continue
        routed = [
            rule
            for rule in rules
            if isinstance(value(rule, "httpListener", "id"), str)
            and value(rule, "httpListener", "id").endswith(f"/httpListeners/{name}")
        ]
        if any(value(rule, "httpListener", "id") is UNKNOWN for rule in rules):
            continue
        if not routed or any(value(rule, "redirectConfiguration") is None for rule in routed):
            yield f"HTTP listener {name} is not routed to a redirect to HTTPS"


def _check_gateway_tls(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    policy = value(props, "sslPolicy")
    if policy is UNKNOWN:
        return
    kind = value(policy, "policyType")
    if kind == "Predefined" and value(policy, "policyName") in config["allowedPolicies"]:
        return
    if kind in ("Custom", "CustomV2") and value(policy, "minProtocolVersion") in (
        "TLSv1_2",
        "TLSv1_3",
    ):
        return
    yield "sslPolicy is not a TLS 1.2+ policy (use AppGwSslPolicy20220101 or CustomV2)"


# --- identity ---------------------------------------------------------------------------------


def _check_subscription_roles(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    role, scope = value(props, "roleDefinitionId"), value(props, "scope")
    if not isinstance(role, str) or not isinstance(scope, str):
        return
    parts = [part for part in scope.lower().split("/") if part]
    at_subscription = len(parts) <= 2 and (not parts or parts[0] == "subscriptions")
    role_id = role.lower().rsplit("/", 1)[-1]
    names = {OWNER_ROLE: "Owner", CONTRIBUTOR_ROLE: "Contributor"}
    if at_subscription and role_id in names:
        yield f"assigns {names[role_id]} at subscription scope {scope}"


# --- cost and reliability ---------------------------------------------------------------------


def _check_vm_size(props: Mapping[str, Any], config: Mapping[str, Any], type_: str):
    size = (
        value(props, "sku", "name") if type_ == VMSS else value(props, "hardwareProfile", "vmSize")
    )
    message = size_allowed(size, _env(props, config), config)
    if message:
        yield message


def _check_autoscale_cap(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    profiles = elements(props, "profiles")
    for profile in profiles if isinstance(profiles, list) else []:
        message = cap_exceeded(value(profile, "capacity", "maximum"), _env(props, config), config)
        if message:
            yield f"profile {value(profile, 'name')}: {message}"


def _check_vmss_zones(props: Mapping[str, Any], config: Mapping[str, Any], _type: str):
    if _env(props, config) != "prod":
        return
    zones = elements(props, "zones")
    if isinstance(zones, list) and len(zones) < 2:
        yield "scale set spans fewer than 2 availability zones in prod"
    capacity = number(value(props, "sku", "capacity"))
    if capacity is not None and capacity < 2:
        yield f"sku.capacity {capacity:g} is below 2 in prod"


POLICIES = [
    resource_policy(
        _meta(
            "azure-storage-https-only",
            "object-storage",
            HIGH,
            MANDATORY,
            "Storage accounts accept HTTPS traffic only.",
            "Leave enable_https_traffic_only True.",
        ),
        [STORAGE_ACCOUNT],
        _check_https_only,
    ),
    resource_policy(
        _meta(
            "azure-storage-min-tls-1-2",
            "object-storage",
            HIGH,
            MANDATORY,
            "Storage accounts require TLS 1.2 or newer.",
            "Set minimum_tls_version='TLS1_2'.",
        ),
        [STORAGE_ACCOUNT],
        _check_min_tls,
    ),
    resource_policy(
        _meta(
            "azure-storage-no-public-blob-access",
            "object-storage",
            CRITICAL,
            MANDATORY,
            "Storage accounts disallow public blob access and no container is public.",
            "Set allow_blob_public_access=False on the account and public_access='None' on "
            "containers.",
        ),
        (STORAGE_ACCOUNT, BLOB_CONTAINER),
        _check_public_blobs,
    ),
    stack_policy(
        _meta(
            "azure-storage-blob-versioning",
            "object-storage",
            MEDIUM,
            MANDATORY,
            "Every storage account has blob versioning and soft delete enabled.",
            "Add azure_native.storage.BlobServiceProperties(account_name=account.name, "
            "is_versioning_enabled=True, delete_retention_policy={'enabled': True, 'days': 7}).",
        ),
        _check_versioning,
    ),
    stack_policy(
        _meta(
            "azure-storage-lifecycle-configured",
            "object-storage",
            LOW,
            ADVISORY,
            "Every storage account has a lifecycle management policy.",
            "Add azure_native.storage.ManagementPolicy(account_name=account.name, policy=...).",
        ),
        _check_lifecycle,
    ),
    resource_policy(
        _meta(
            "azure-network-nsg-no-public-admin-ingress",
            "network",
            CRITICAL,
            MANDATORY,
            "No NSG rule allows SSH, RDP or all ports inbound from the internet.",
            "Restrict source_address_prefix to a VPN or Bastion subnet; use Azure Bastion.",
        ),
        (NSG, SECURITY_RULE),
        _check_nsg,
    ),
    resource_policy(
        _meta(
            "azure-compute-no-public-ip",
            "network",
            HIGH,
            MANDATORY,
            "Scale set instances and NICs have no public IP.",
            "Remove public_ip_address_configuration / public_ip_address; front the tier with "
            "Application Gateway and reach the internet through a NAT gateway.",
        ),
        (VMSS, NIC),
        _check_no_public_ip,
    ),
    stack_policy(
        _meta(
            "azure-network-flow-logs",
            "network",
            MEDIUM,
            ADVISORY,
            "Every virtual network has a flow log (Network Watcher).",
            "Add azure_native.network.FlowLog(target_resource_id=vnet.id, storage_id=..., "
            "enabled=True).",
        ),
        _check_flow_logs,
    ),
    stack_policy(
        _meta(
            "azure-network-app-gateway-logging",
            "network",
            LOW,
            ADVISORY,
            "Every Application Gateway sends its access logs to a diagnostic setting.",
            "Add azure_native.monitor.DiagnosticSetting(resource_uri=gateway.id, logs=[...]).",
        ),
        _check_gateway_logging,
    ),
    resource_policy(
        _meta(
            "azure-compute-managed-identity",
            "compute",
            HIGH,
            MANDATORY,
            "Scale sets and VMs use a managed identity (no secrets on hosts).",
            "Set identity={'type': 'SystemAssigned'} (or UserAssigned).",
        ),
        (VMSS, VM),
        _check_identity,
    ),
    resource_policy(
        _meta(
            "azure-compute-no-password-auth",
            "compute",
            CRITICAL,
            MANDATORY,
            "Linux hosts disable password login and set no admin password.",
            "Set linux_configuration={'disable_password_authentication': True, 'ssh': {...}} "
            "and remove admin_password.",
        ),
        (VMSS, VM),
        _check_password_auth,
    ),
    resource_policy(
        _meta(
            "azure-compute-encryption-at-host",
            "compute",
            MEDIUM,
            ADVISORY,
            "Scale sets and VMs encrypt at host (temp disks and disk caches too).",
            "Set security_profile={'encryption_at_host': True} (register the "
            "EncryptionAtHost feature once per subscription).",
        ),
        (VMSS, VM),
        _check_encryption_at_host,
    ),
    resource_policy(
        _meta(
            "azure-postgres-no-public-access",
            "databases",
            CRITICAL,
            MANDATORY,
            "PostgreSQL servers are VNet-integrated or have public network access disabled.",
            "Set network={'delegated_subnet_resource_id': subnet.id, 'private_dns_zone_arm_"
            "resource_id': zone.id} or public_network_access='Disabled'.",
        ),
        [POSTGRES],
        _check_pg_public,
    ),
    resource_policy(
        _meta(
            "azure-postgres-backup-retention",
            "databases",
            MEDIUM,
            MANDATORY,
            "PostgreSQL backups are kept at least minRetentionDays (7) in prod.",
            "Set backup={'backup_retention_days': 7} or more.",
        ),
        [POSTGRES],
        _check_pg_backups,
        {
            "minRetentionDays": {
                "type": "integer",
                "minimum": 1,
                "default": 7,
                "description": "Least backup retention in prod, in days.",
            },
            **ENV_SCHEMA,
        },
    ),
    stack_policy(
        _meta(
            "azure-postgres-deletion-lock-prod",
            "databases",
            MEDIUM,
            MANDATORY,
            "Prod PostgreSQL servers are protected by a CanNotDelete management lock.",
            "Add a ManagementLockAtResourceLevel(level='CanNotDelete') on the server, "
            "or one on its resource group.",
        ),
        _check_pg_deletion,
        ENV_SCHEMA,
    ),
    resource_policy(
        _meta(
            "azure-servicebus-dead-lettering",
            "queues",
            MEDIUM,
            MANDATORY,
            "Service Bus queues dead-letter expired messages.",
            "Set dead_lettering_on_message_expiration=True (max_delivery_count bounds retries).",
        ),
        [SB_QUEUE],
        _check_dead_lettering,
    ),
    resource_policy(
        _meta(
            "azure-servicebus-min-tls-1-2",
            "queues",
            MEDIUM,
            MANDATORY,
            "Service Bus namespaces require TLS 1.2 (data is always encrypted at rest).",
            "Set minimum_tls_version='1.2'.",
        ),
        [SB_NAMESPACE],
        _check_sb_tls,
    ),
    resource_policy(
        _meta(
            "azure-app-gateway-https-listener",
            "load-balancers",
            HIGH,
            MANDATORY,
            "Application Gateways have an HTTPS listener.",
            "Add an http_listener with protocol 'Https' and an ssl_certificate.",
        ),
        [APP_GATEWAY],
        _check_gateway_https,
    ),
    resource_policy(
        _meta(
            "azure-app-gateway-http-redirects-to-https",
            "load-balancers",
            HIGH,
            MANDATORY,
            "Application Gateway HTTP listeners only redirect to HTTPS.",
            "Route each Http listener with a request_routing_rule whose redirect_configuration "
            "targets the Https listener.",
        ),
        [APP_GATEWAY],
        _check_gateway_redirect,
    ),
    resource_policy(
        _meta(
            "azure-app-gateway-modern-tls-policy",
            "load-balancers",
            MEDIUM,
            MANDATORY,
            "Application Gateways use a TLS 1.2+ SSL policy.",
            "Set ssl_policy={'policy_type': 'Predefined', 'policy_name': "
            "'AppGwSslPolicy20220101'}.",
        ),
        [APP_GATEWAY],
        _check_gateway_tls,
        {
            "allowedPolicies": {
                "type": "array",
                "items": {"type": "string"},
                "default": MODERN_PREDEFINED,
                "description": "Predefined SSL policies allowed.",
            }
        },
    ),
    resource_policy(
        _meta(
            "azure-authorization-no-subscription-owner",
            "identity",
            CRITICAL,
            MANDATORY,
            "No Owner or Contributor role assignment at subscription scope.",
            "Assign a narrower built-in role at resource-group or resource scope.",
        ),
        [ROLE_ASSIGNMENT],
        _check_subscription_roles,
    ),
    resource_policy(
        _meta(
            "azure-storage-shared-key-disabled",
            "identity",
            MEDIUM,
            ADVISORY,
            "Storage accounts disable shared-key (long-lived access key) authorization.",
            "Set allow_shared_key_access=False and grant the managed identity a data role.",
        ),
        [STORAGE_ACCOUNT],
        _check_shared_key,
    ),
    resource_policy(
        _meta(
            "azure-resource-required-tags",
            "governance",
            MEDIUM,
            MANDATORY,
            "Taggable resources carry the tags project, env (dev|prod), owner and cost-center.",
            "Pass tags={'project': ..., 'env': 'dev'|'prod', 'owner': ..., 'cost-center': ...}.",
        ),
        TAGGED,
        required_tags_check("tags", "tags"),
        REQUIRED_TAGS_SCHEMA,
    ),
    resource_policy(
        _meta(
            "azure-compute-vm-size-allowed",
            "cost",
            MEDIUM,
            MANDATORY,
            "VM and scale set sizes are on the allowed list for the environment.",
            "Pick an allowed size for the env, or extend allowedSizes in policy config.",
        ),
        (VMSS, VM),
        _check_vm_size,
        sizes_schema(DEFAULT_SIZES),
    ),
    resource_policy(
        _meta(
            "azure-monitor-autoscale-max-capped",
            "cost",
            MEDIUM,
            MANDATORY,
            "Autoscale settings keep capacity.maximum within the environment's cap.",
            "Lower the profile's capacity maximum, or raise maxSizeCap in policy config.",
        ),
        [AUTOSCALE],
        _check_autoscale_cap,
        cap_schema(DEFAULT_CAPS),
    ),
    resource_policy(
        _meta(
            "azure-compute-vmss-zones-prod",
            "reliability",
            HIGH,
            MANDATORY,
            "Prod scale sets run at least 2 instances across at least 2 zones.",
            "Set zones=['1', '2', '3'] and sku.capacity >= 2 (and autoscale minimum >= 2).",
        ),
        [VMSS],
        _check_vmss_zones,
        ENV_SCHEMA,
    ),
    resource_policy(
        _meta(
            "azure-postgres-high-availability-prod",
            "reliability",
            HIGH,
            MANDATORY,
            "Prod PostgreSQL servers are zone-redundant (HA standby).",
            "Set high_availability={'mode': 'ZoneRedundant'}.",
        ),
        [POSTGRES],
        _check_pg_ha,
        ENV_SCHEMA,
    ),
]
