"""Azure policies: one compliant prod program passes them all; each violation fires its exact id."""

import pulumi_azure_native as azure
import pytest

from tests.policies.helpers import PACK, Violation, assert_violation, fired, run, tags
from tierstack.policy_engine import describe

IDS = [item["policy"] for item in describe(PACK) if item["tags"][0] == "azure"]
T = tags("prod")
RG = "rg-app"
SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
GATEWAY_ID = f"{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/applicationGateways/web"
LIFECYCLE_RULE = {
    "name": "old-versions",
    "type": "Lifecycle",
    "enabled": True,
    "definition": {
        "filters": {"blob_types": ["blockBlob"]},
        "actions": {"version": {"delete": {"days_after_creation_greater_than": 30}}},
    },
}


def account(
    name: str = "docs",
    *,
    versioning: bool = True,
    lifecycle: bool = True,
    lifecycle_rules: list | None = None,
    **overrides,
) -> azure.storage.StorageAccount:
    args = {
        "resource_group_name": RG,
        "kind": "StorageV2",
        "sku": {"name": "Standard_ZRS"},
        "enable_https_traffic_only": True,
        "minimum_tls_version": "TLS1_2",
        "allow_blob_public_access": False,
        "allow_shared_key_access": False,
        "tags": T,
    }
    args.update(overrides)
    storage = azure.storage.StorageAccount(name, **args)
    azure.storage.BlobServiceProperties(
        f"{name}-blob",
        account_name=storage.name,
        resource_group_name=RG,
        is_versioning_enabled=versioning,
        delete_retention_policy={"enabled": True, "days": 7},
    )
    if lifecycle:
        azure.storage.ManagementPolicy(
            f"{name}-lifecycle",
            account_name=storage.name,
            resource_group_name=RG,
            policy={"rules": [LIFECYCLE_RULE] if lifecycle_rules is None else lifecycle_rules},
        )
    return storage


def _hierarchical_account(*, soft_delete: bool) -> None:
    """ADLS Gen2: Azure refuses versioning here, so soft delete is what the policy asks for."""
    storage = azure.storage.StorageAccount(
        "lake",
        resource_group_name=RG,
        kind="StorageV2",
        sku={"name": "Standard_ZRS"},
        is_hns_enabled=True,
        enable_https_traffic_only=True,
        minimum_tls_version="TLS1_2",
        allow_blob_public_access=False,
        allow_shared_key_access=False,
        tags=T,
    )
    azure.storage.BlobServiceProperties(
        "lake-blob",
        account_name=storage.name,
        resource_group_name=RG,
        delete_retention_policy={"enabled": soft_delete, "days": 7},
    )


def test_hierarchical_account_with_soft_delete_needs_no_versioning():
    assert not fired(
        run(lambda: _hierarchical_account(soft_delete=True)), "azure-storage-blob-versioning"
    )


def test_cosmos_and_iot_hub_need_governance_tags():
    def untagged() -> None:
        azure.cosmosdb.DatabaseAccount(
            "kv",
            resource_group_name=RG,
            database_account_offer_type="Standard",
            locations=[{"location_name": "westeurope"}],
        )
        azure.iothub.IotHubResource(
            "hub", resource_group_name=RG, sku={"name": "S1", "capacity": 1}
        )

    hits = fired(run(untagged), "azure-resource-required-tags")
    assert {hit["resource"].rsplit("::", 1)[1] for hit in hits} == {"kv", "hub"}


def scale_set(name: str = "app", *, env: str = "prod", **overrides):
    args = {
        "resource_group_name": RG,
        "tags": tags(env),
        "zones": ["1", "2", "3"],
        "sku": {"name": "Standard_D2s_v5", "capacity": 2},
        "identity": {"type": "SystemAssigned"},
        "virtual_machine_profile": {
            "os_profile": {
                "computer_name_prefix": "app",
                "admin_username": "ops",
                "linux_configuration": {"disable_password_authentication": True},
            },
            "security_profile": {"encryption_at_host": True},
            "network_profile": {
                "network_interface_configurations": [
                    {
                        "name": "nic",
                        "primary": True,
                        "ip_configurations": [{"name": "ip", "subnet": {"id": "subnet"}}],
                    }
                ]
            },
        },
    }
    args.update(overrides)
    return azure.compute.VirtualMachineScaleSet(name, **args)


def gateway(
    *,
    https: bool = True,
    redirect: bool = True,
    ssl_policy: dict | None = None,
    http_protocol: str = "Http",
    https_protocol: str = "Https",
    redirect_to: dict | None = None,
):
    """A compliant gateway; `redirect_to` replaces the redirect's target (listener or URL)."""
    listeners = [{"name": "http", "protocol": http_protocol}]
    rules = [
        {
            "name": "http",
            "priority": 10,
            "rule_type": "Basic",
            "http_listener": {"id": f"{GATEWAY_ID}/httpListeners/http"},
        }
    ]
    if redirect:
        rules[0]["redirect_configuration"] = {"id": f"{GATEWAY_ID}/redirectConfigurations/https"}
    if https:
        listeners.append({"name": "https", "protocol": https_protocol})
    target = redirect_to or {"target_listener": {"id": f"{GATEWAY_ID}/httpListeners/https"}}
    policy = ssl_policy or {"policy_type": "Predefined", "policy_name": "AppGwSslPolicy20220101"}
    web = azure.network.ApplicationGateway(
        "web",
        resource_group_name=RG,
        tags=T,
        http_listeners=listeners,
        request_routing_rules=rules,
        redirect_configurations=[{"name": "https", "redirect_type": "Permanent", **target}],
        ssl_policy=policy,
    )
    azure.monitor.DiagnosticSetting(
        "web-logs", resource_uri=web.id, logs=[{"category_group": "allLogs", "enabled": True}]
    )
    return web


def postgres(
    name: str = "db", *, lock: bool = True, log_statement: str | None = "ddl", **overrides
):
    args = {
        "resource_group_name": RG,
        "tags": T,
        "version": "16",
        "sku": {"name": "Standard_D2ds_v5", "tier": "GeneralPurpose"},
        "network": {"delegated_subnet_resource_id": "subnet-db"},
        "backup": {"backup_retention_days": 7},
        "high_availability": {"mode": "ZoneRedundant"},
    }
    args.update(overrides)
    server = azure.dbforpostgresql.Server(name, **args)
    if log_statement is not None:
        azure.dbforpostgresql.Configuration(
            f"{name}-log-statement",
            configuration_name="log_statement",
            value=log_statement,
            source="user-override",
            server_name=server.name,
            resource_group_name=RG,
        )
    if lock:
        azure.authorization.ManagementLockAtResourceLevel(
            f"{name}-lock",
            level="CanNotDelete",
            resource_group_name=RG,
            resource_name_=server.name,
            resource_provider_namespace="Microsoft.DBforPostgreSQL",
            resource_type="flexibleServers",
            parent_resource_path="",
            api_version="2024-08-01",
        )
    return server


def compliant() -> None:
    storage = account()
    azure.storage.BlobContainer(
        "docs", account_name=storage.name, resource_group_name=RG, public_access="None"
    )
    network = azure.network.VirtualNetwork(
        "main", resource_group_name=RG, tags=T, address_space={"address_prefixes": ["10.0.0.0/16"]}
    )
    azure.network.FlowLog(
        "main-flow",
        resource_group_name="NetworkWatcherRG",
        network_watcher_name="nw",
        target_resource_id=network.id,
        storage_id="storage",
        enabled=True,
    )
    azure.network.NetworkSecurityGroup(
        "app",
        resource_group_name=RG,
        tags=T,
        security_rules=[
            {
                "name": "https",
                "priority": 100,
                "direction": "Inbound",
                "access": "Allow",
                "protocol": "Tcp",
                "source_address_prefix": "Internet",
                "source_port_range": "*",
                "destination_address_prefix": "*",
                "destination_port_range": "443",
            },
            {
                "name": "ssh-bastion",
                "priority": 110,
                "direction": "Inbound",
                "access": "Allow",
                "protocol": "Tcp",
                "source_address_prefix": "10.0.254.0/24",
                "source_port_range": "*",
                "destination_address_prefix": "*",
                "destination_port_range": "22",
            },
        ],
    )
    scale_set()
    azure.monitor.AutoscaleSetting(
        "app",
        resource_group_name=RG,
        tags=T,
        target_resource_uri="vmss",
        profiles=[
            {
                "name": "default",
                "rules": [],
                "capacity": {"minimum": "2", "maximum": "10", "default": "2"},
            }
        ],
    )
    gateway()
    postgres()
    namespace = azure.servicebus.Namespace(
        "bus", resource_group_name=RG, tags=T, minimum_tls_version="1.2", sku={"name": "Standard"}
    )
    azure.servicebus.Queue(
        "jobs",
        namespace_name=namespace.name,
        resource_group_name=RG,
        dead_lettering_on_message_expiration=True,
        max_delivery_count=5,
    )
    azure.authorization.RoleAssignment(
        "app-blob",
        principal_id="p",
        scope=f"{SUB}/resourceGroups/{RG}",
        role_definition_id=f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    )


@pytest.fixture(scope="module")
def compliant_results():
    return run(compliant)


@pytest.mark.parametrize("policy_id", IDS)
def test_compliant_program_passes(policy_id, compliant_results):
    assert fired(compliant_results, policy_id) == []


def test_compliant_program_passes_every_azure_policy(compliant_results):
    assert [r for r in compliant_results if r["policy"].startswith("azure-")] == []


def _nsg_rule(name: str, source: str, port: str):
    return lambda: azure.network.SecurityRule(
        name,
        resource_group_name=RG,
        network_security_group_name="app",
        priority=100,
        direction="Inbound",
        access="Allow",
        protocol="*",
        source_address_prefix=source,
        source_port_range="*",
        destination_address_prefix="*",
        destination_port_range=port,
    )


def _owner_at_subscription():
    azure.authorization.RoleAssignment(
        "owner",
        principal_id="p",
        scope=SUB,
        role_definition_id=f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    )


OWNER_GUID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def _assignment(scope: str, role: str):
    return azure.authorization.RoleAssignment(
        "broad",
        principal_id="p",
        scope=scope,
        role_definition_id=f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
    )


def _linux_profile(**changes):
    profile = {
        "computer_name_prefix": "app",
        "admin_username": "ops",
        "linux_configuration": {"disable_password_authentication": True},
    }
    profile.update(changes)
    return {"os_profile": profile, "security_profile": {"encryption_at_host": True}}


VIOLATIONS = [
    Violation("azure-storage-https-only", lambda: account(enable_https_traffic_only=False), "docs"),
    Violation("azure-storage-min-tls-1-2", lambda: account(minimum_tls_version="TLS1_0"), "docs"),
    Violation(
        "azure-storage-no-public-blob-access",
        lambda: account(allow_blob_public_access=True),
        "docs",
        "account",
    ),
    Violation(
        "azure-storage-no-public-blob-access",
        lambda: azure.storage.BlobContainer(
            "site", account_name="docs", resource_group_name=RG, public_access="Blob"
        ),
        "site",
        "container",
    ),
    Violation("azure-storage-blob-versioning", lambda: account(versioning=False), "docs"),
    Violation(
        "azure-storage-blob-versioning",
        lambda: _hierarchical_account(soft_delete=False),
        "lake",
        "hierarchical-without-soft-delete",
    ),
    Violation("azure-storage-lifecycle-configured", lambda: account(lifecycle=False), "docs"),
    Violation(
        "azure-network-nsg-no-public-admin-ingress", _nsg_rule("ssh", "*", "22"), "ssh", "ssh"
    ),
    Violation(
        "azure-network-nsg-no-public-admin-ingress",
        _nsg_rule("rdp", "Internet", "3000-4000"),
        "rdp",
        "rdp-range",
    ),
    # the world written another way than * or 0.0.0.0/0
    Violation(
        "azure-network-nsg-no-public-admin-ingress",
        _nsg_rule("ssh", "0.0.0.0/00", "22"),
        "ssh",
        "ssh-zero-spelling",
    ),
    Violation(
        "azure-network-nsg-no-public-admin-ingress",
        _nsg_rule("rdp", "0.0.0.0/1", "3389"),
        "rdp",
        "rdp-half",
    ),
    Violation(
        "azure-compute-no-public-ip",
        lambda: scale_set(
            virtual_machine_profile={
                "network_profile": {
                    "network_interface_configurations": [
                        {
                            "name": "nic",
                            "ip_configurations": [
                                {"name": "ip", "public_ip_address_configuration": {"name": "pip"}}
                            ],
                        }
                    ]
                }
            }
        ),
        "app",
    ),
    Violation(
        "azure-network-flow-logs",
        lambda: azure.network.VirtualNetwork("quiet", resource_group_name=RG, tags=T),
        "quiet",
    ),
    Violation(
        "azure-network-app-gateway-logging",
        lambda: azure.network.ApplicationGateway("dark", resource_group_name=RG, tags=T),
        "dark",
    ),
    Violation("azure-compute-managed-identity", lambda: scale_set(identity=None), "app"),
    Violation(
        "azure-compute-no-password-auth",
        lambda: scale_set(
            virtual_machine_profile=_linux_profile(
                linux_configuration={"disable_password_authentication": False},
                admin_password="hunter2",
            )
        ),
        "app",
    ),
    Violation(
        "azure-compute-encryption-at-host",
        lambda: scale_set(virtual_machine_profile={"os_profile": _linux_profile()["os_profile"]}),
        "app",
    ),
    Violation(
        "azure-postgres-no-public-access",
        lambda: postgres(network={"public_network_access": "Enabled"}),
        "db",
    ),
    Violation(
        "azure-postgres-backup-retention",
        lambda: postgres(backup={"backup_retention_days": 3}),
        "db",
    ),
    Violation("azure-postgres-deletion-lock-prod", lambda: postgres(lock=False), "db"),
    # no Configuration: the server default (none), which the program never wrote
    Violation(
        "azure-postgres-statement-logging", lambda: postgres(log_statement=None), "db", "default"
    ),
    # the Configuration present, switched off
    Violation(
        "azure-postgres-statement-logging", lambda: postgres(log_statement="none"), "db", "off"
    ),
    # the setting as its own resource, but naming the server by a literal string
    Violation(
        "azure-postgres-statement-logging",
        lambda: (
            postgres(log_statement=None),
            azure.dbforpostgresql.Configuration(
                "literal",
                configuration_name="log_statement",
                value="all",
                source="user-override",
                server_name="db",
                resource_group_name=RG,
            ),
        ),
        "db",
        "literal-server",
    ),
    Violation(
        "azure-servicebus-dead-lettering",
        lambda: azure.servicebus.Queue("jobs", namespace_name="bus", resource_group_name=RG),
        "jobs",
    ),
    Violation(
        "azure-servicebus-min-tls-1-2",
        lambda: azure.servicebus.Namespace(
            "bus", resource_group_name=RG, tags=T, minimum_tls_version="1.0"
        ),
        "bus",
    ),
    Violation("azure-app-gateway-https-listener", lambda: gateway(https=False), "web"),
    Violation("azure-app-gateway-http-redirects-to-https", lambda: gateway(redirect=False), "web"),
    Violation(
        "azure-app-gateway-modern-tls-policy",
        lambda: gateway(
            ssl_policy={"policy_type": "Predefined", "policy_name": "AppGwSslPolicy20150501"}
        ),
        "web",
    ),
    Violation("azure-authorization-no-subscription-owner", _owner_at_subscription, "owner"),
    Violation(
        "azure-storage-shared-key-disabled", lambda: account(allow_shared_key_access=True), "docs"
    ),
    Violation(
        "azure-resource-required-tags",
        lambda: azure.network.VirtualNetwork(
            "untagged", resource_group_name=RG, tags={"env": "staging"}
        ),
        "untagged",
    ),
    Violation(
        "azure-compute-vm-size-allowed",
        lambda: scale_set(sku={"name": "Standard_M416ms_v2", "capacity": 2}),
        "app",
    ),
    Violation(
        "azure-monitor-autoscale-max-capped",
        lambda: azure.monitor.AutoscaleSetting(
            "app",
            resource_group_name=RG,
            tags=T,
            target_resource_uri="vmss",
            profiles=[
                {
                    "name": "default",
                    "rules": [],
                    "capacity": {"minimum": "2", "maximum": "100", "default": "2"},
                }
            ],
        ),
        "app",
    ),
    Violation("azure-compute-vmss-zones-prod", lambda: scale_set(zones=["1"]), "app", "zone"),
    Violation(
        "azure-compute-vmss-zones-prod",
        lambda: scale_set(sku={"name": "Standard_D2s_v5", "capacity": 1}),
        "app",
        "capacity",
    ),
    Violation(
        "azure-postgres-high-availability-prod",
        lambda: postgres(high_availability={"mode": "Disabled"}),
        "db",
    ),
    # --- the way real mistakes look, family by family --------------------------------------
    # storage: settings never written (public blobs allowed, TLS 1.0 accepted)
    Violation(
        "azure-storage-no-public-blob-access",
        lambda: account(allow_blob_public_access=None),
        "docs",
        "default",
    ),
    Violation(
        "azure-storage-min-tls-1-2", lambda: account(minimum_tls_version=None), "docs", "default"
    ),
    # storage: blob service properties present, naming the account by a literal string
    Violation(
        "azure-storage-blob-versioning",
        lambda: (
            account("docs", versioning=False),
            azure.storage.BlobServiceProperties(
                "docs-blob-literal",
                account_name="docs",
                resource_group_name=RG,
                is_versioning_enabled=True,
                delete_retention_policy={"enabled": True, "days": 7},
            ),
        ),
        "docs",
        "literal-account",
    ),
    # storage: a lifecycle policy present, its only rule switched off; another with no rule
    Violation(
        "azure-storage-lifecycle-configured",
        lambda: account(lifecycle_rules=[{**LIFECYCLE_RULE, "enabled": False}]),
        "docs",
        "rule-disabled",
    ),
    Violation(
        "azure-storage-lifecycle-configured",
        lambda: account(lifecycle_rules=[]),
        "docs",
        "no-rules",
    ),
    # compute: identity present, type None
    Violation(
        "azure-compute-managed-identity",
        lambda: scale_set(identity={"type": "None"}),
        "app",
        "type-none",
    ),
    # compute: the Linux block present, password login left to its default
    Violation(
        "azure-compute-no-password-auth",
        lambda: scale_set(virtual_machine_profile=_linux_profile(linux_configuration={})),
        "app",
        "default",
    ),
    # compute: the security profile present, encryption at host switched off
    Violation(
        "azure-compute-encryption-at-host",
        lambda: scale_set(
            virtual_machine_profile={
                "os_profile": _linux_profile()["os_profile"],
                "security_profile": {"encryption_at_host": False, "security_type": "TrustedLaunch"},
            }
        ),
        "app",
        "off",
    ),
    # queues: dead-lettering switched off
    Violation(
        "azure-servicebus-dead-lettering",
        lambda: azure.servicebus.Queue(
            "jobs",
            namespace_name="bus",
            resource_group_name=RG,
            dead_lettering_on_message_expiration=False,
            max_delivery_count=5,
        ),
        "jobs",
        "off",
    ),
    # queues: the queue written as a topic subscription, dead-lettering left to its default
    Violation(
        "azure-servicebus-dead-lettering",
        lambda: azure.servicebus.Subscription(
            "jobs-reader", namespace_name="bus", topic_name="jobs", resource_group_name=RG
        ),
        "jobs-reader",
        "topic-subscription",
    ),
    # queues: the namespace's TLS minimum never written
    Violation(
        "azure-servicebus-min-tls-1-2",
        lambda: azure.servicebus.Namespace(
            "bus", resource_group_name=RG, tags=T, sku={"name": "Standard"}
        ),
        "bus",
        "default",
    ),
    # load balancers: the HTTP listener spelt in capitals, routed to the backend
    Violation(
        "azure-app-gateway-http-redirects-to-https",
        lambda: gateway(http_protocol="HTTP", redirect=False),
        "web",
        "uppercase-forward",
    ),
    # load balancers: a redirect present, back to the HTTP listener itself
    Violation(
        "azure-app-gateway-http-redirects-to-https",
        lambda: gateway(
            redirect_to={"target_listener": {"id": f"{GATEWAY_ID}/httpListeners/http"}}
        ),
        "web",
        "redirect-to-http-listener",
    ),
    # load balancers: a redirect present, to a plain http:// URL
    Violation(
        "azure-app-gateway-http-redirects-to-https",
        lambda: gateway(redirect_to={"target_url": "http://www.example.com"}),
        "web",
        "redirect-to-http-url",
    ),
    # load balancers: an old predefined policy (TLS 1.1), and a custom one with TLS 1.1
    Violation(
        "azure-app-gateway-modern-tls-policy",
        lambda: gateway(
            ssl_policy={"policy_type": "Predefined", "policy_name": "AppGwSslPolicy20170401"}
        ),
        "web",
        "old-name",
    ),
    Violation(
        "azure-app-gateway-modern-tls-policy",
        lambda: gateway(ssl_policy={"policy_type": "CustomV2", "min_protocol_version": "TLSv1_1"}),
        "web",
        "custom-tls-1-1",
    ),
    # load balancers: the HTTPS listener declared as Http on port 443
    Violation(
        "azure-app-gateway-https-listener",
        lambda: gateway(https_protocol="Http"),
        "web",
        "http-443",
    ),
    # identity: Owner over a management group (every subscription under it) and the tenant root
    Violation(
        "azure-authorization-no-subscription-owner",
        lambda: _assignment(
            "/providers/Microsoft.Management/managementGroups/platform", OWNER_GUID
        ),
        "broad",
        "management-group",
    ),
    Violation(
        "azure-authorization-no-subscription-owner",
        lambda: _assignment("/", OWNER_GUID.upper()),
        "broad",
        "tenant-root",
    ),
    # identity: User Access Administrator at subscription scope can make itself Owner
    Violation(
        "azure-authorization-no-subscription-owner",
        lambda: _assignment(SUB, "18d7d88d-d35e-4fb5-a5c3-7773c4a72d9d"),
        "broad",
        "user-access-administrator",
    ),
    # identity: Owner as a custom role: every action, assignable over the subscription
    Violation(
        "azure-authorization-no-subscription-owner",
        lambda: azure.authorization.RoleDefinition(
            "ops-all",
            role_name="ops-all",
            scope=SUB,
            assignable_scopes=[f"{SUB}/resourceGroups/{RG}", SUB],
            permissions=[{"actions": ["Microsoft.Storage/*/read", "*"], "not_actions": []}],
        ),
        "ops-all",
        "custom-role",
    ),
    # identity: shared keys never switched off (allowed by default)
    Violation(
        "azure-storage-shared-key-disabled",
        lambda: account(allow_shared_key_access=None),
        "docs",
        "default",
    ),
    # governance: tags on the resource group only (resources do not inherit them)
    Violation(
        "azure-resource-required-tags",
        lambda: (
            azure.resources.ResourceGroup("rg", resource_group_name=RG, tags=T),
            azure.network.VirtualNetwork("main", resource_group_name=RG),
        ),
        "main",
        "resource-group-only",
    ),
    Violation(
        "azure-resource-required-tags",
        lambda: azure.network.VirtualNetwork(
            "main", resource_group_name=RG, tags={**T, "owner": " "}
        ),
        "main",
        "blank-owner",
    ),
    # cost: a single VM rather than a scale set
    Violation(
        "azure-compute-vm-size-allowed",
        lambda: azure.compute.VirtualMachine(
            "ops", resource_group_name=RG, tags=T, hardware_profile={"vm_size": "Standard_M128s"}
        ),
        "ops",
        "vm",
    ),
    # cost: the default profile is capped, a weekend profile is not
    Violation(
        "azure-monitor-autoscale-max-capped",
        lambda: azure.monitor.AutoscaleSetting(
            "app",
            resource_group_name=RG,
            tags=T,
            target_resource_uri="vmss",
            profiles=[
                {
                    "name": "default",
                    "rules": [],
                    "capacity": {"minimum": "2", "maximum": "10", "default": "2"},
                },
                {
                    "name": "weekend",
                    "rules": [],
                    "capacity": {"minimum": "2", "maximum": "80", "default": "2"},
                },
            ],
        ),
        "app",
        "second-profile",
    ),
    # cost: no autoscale setting, a fixed capacity above the cap
    Violation(
        "azure-monitor-autoscale-max-capped",
        lambda: scale_set(sku={"name": "Standard_D2s_v5", "capacity": 40}),
        "app",
        "fixed-capacity",
    ),
    # reliability: zones never written, and one zone written twice
    Violation("azure-compute-vmss-zones-prod", lambda: scale_set(zones=None), "app", "default"),
    Violation(
        "azure-compute-vmss-zones-prod",
        lambda: scale_set(zones=["1", "1"]),
        "app",
        "same-zone-twice",
    ),
    # reliability: HA on, but the standby in the primary's zone; HA never written
    Violation(
        "azure-postgres-high-availability-prod",
        lambda: postgres(high_availability={"mode": "SameZone"}),
        "db",
        "same-zone",
    ),
    Violation(
        "azure-postgres-high-availability-prod",
        lambda: postgres(high_availability=None),
        "db",
        "default",
    ),
]


@pytest.mark.parametrize("violation", VIOLATIONS, ids=lambda v: v.id)
def test_violation_fires_its_policy(violation):
    assert_violation(violation)


def test_every_azure_policy_has_a_violation_case():
    assert {violation.policy for violation in VIOLATIONS} == set(IDS)


def test_dev_scale_set_may_run_one_instance_in_one_zone():
    results = run(
        lambda: scale_set(env="dev", zones=["1"], sku={"name": "Standard_B2s", "capacity": 1})
    )
    assert fired(results, "azure-compute-vmss-zones-prod") == []
    assert fired(results, "azure-compute-vm-size-allowed") == []


def test_sharpened_rules_leave_the_safe_forms_alone():
    """Listeners spelt in capitals, a redirect to an https:// URL, Owner on one resource group,
    a narrow custom role over the subscription and a lifecycle rule that leaves `enabled` to its
    default (on) are not mistakes."""

    def program():
        gateway(
            http_protocol="HTTP",
            https_protocol="HTTPS",
            redirect_to={"target_url": "https://www.example.com"},
        )
        account(
            lifecycle_rules=[
                {key: rule for key, rule in LIFECYCLE_RULE.items() if key != "enabled"}
            ]
        )
        _assignment(f"{SUB}/resourceGroups/{RG}", OWNER_GUID)
        azure.authorization.RoleDefinition(
            "blob-reader",
            role_name="blob-reader",
            scope=SUB,
            assignable_scopes=[SUB],
            permissions=[{"actions": ["Microsoft.Storage/storageAccounts/blobServices/*/read"]}],
        )

    assert [r for r in run(program) if r["policy"].startswith("azure-")] == []


def _namespace(**overrides) -> None:
    azure.servicebus.Namespace(
        "bus", resource_group_name=RG, tags=T, sku={"name": "Standard"}, **overrides
    )


@pytest.mark.parametrize(
    ("policy", "program", "messages"),
    [
        (
            "azure-storage-min-tls-1-2",
            lambda: account(minimum_tls_version="TLS1_0"),
            ["docs: minimumTlsVersion is TLS1_0"],
        ),
        (
            "azure-storage-min-tls-1-2",
            lambda: account(minimum_tls_version=None),
            ["docs: minimumTlsVersion is unset (TLS1_0 on older API versions)"],
        ),
        ("azure-storage-min-tls-1-2", lambda: account(minimum_tls_version="TLS1_3"), []),
        (
            "azure-servicebus-min-tls-1-2",
            lambda: _namespace(minimum_tls_version="1.1"),
            ["bus: minimumTlsVersion is 1.1, not 1.2"],
        ),
        (
            "azure-servicebus-min-tls-1-2",
            _namespace,
            ["bus: minimumTlsVersion is unset, not 1.2"],
        ),
        ("azure-servicebus-min-tls-1-2", lambda: _namespace(minimum_tls_version="1.3"), []),
    ],
    ids=["storage-old", "storage-unset", "storage-1-3", "bus-old", "bus-unset", "bus-1-3"],
)
def test_tls_minimums_accept_each_services_spelling(policy, program, messages):
    """Each service spells its minimum its own way: storage accounts 'TLS1_0' to 'TLS1_3'
    (@azure/arm-storage KnownMinimumTlsVersion), Service Bus namespaces '1.0' to '1.3' (Azure
    docs, "Configure the minimum TLS version for a Service Bus namespace": `--min-tls 1.3`)."""
    assert [result["message"] for result in fired(run(program), policy)] == messages
