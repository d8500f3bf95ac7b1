"""The five Azure stacks end to end: the real program for each stack file, outputs resolved,
secure-by-default checks over every resource, prod sizing, and inventory snapshots.

Update the snapshots after an intended change with `make snapshots` and review the YAML diff."""

from __future__ import annotations

import base64
import re

import pytest
import yaml

from stacks.azure.common import ROLES
from stacks.azure.mapreduce_cluster import CLUSTER_OPERATOR_ROLE
from stacks.blueprints import BLUEPRINTS
from tests.playbook_check import assert_boot_script_converges_its_tier, boot_vars
from tests.stacks.azure.conftest import INVOKES, PROD, computed
from tests.stacks.harness import REPO_ROOT, Registered, Run, inventory, run_stack, stack_names
from tests.stacks.snapshots import check_snapshot

STACKS = stack_names("azure")
PROD_OVERRIDES = {f"tierstack:{key}": value for key, value in PROD.items()}
KEY_PROPERTIES = {
    "azure-native:resources:ResourceGroup": ["resourceGroupName", "location"],
    "azure-native:network:Subnet": ["addressPrefix", "defaultOutboundAccess"],
    "azure-native:network:SecurityRule": [
        "networkSecurityGroupName",
        "priority",
        "access",
        "sourceAddressPrefix",
        "destinationPortRanges",
    ],
    "azure-native:network:ApplicationGateway": [
        "sku.name",
        "sslPolicy.policyName",
        "probes.0.path",
        "zones",
    ],
    "azure-native:storage:StorageAccount": [
        "sku.name",
        "minimumTlsVersion",
        "allowBlobPublicAccess",
        "allowSharedKeyAccess",
        "isHnsEnabled",
    ],
    "azure-native:storage:BlobServiceProperties": [
        "isVersioningEnabled",
        "deleteRetentionPolicy.days",
    ],
    "azure-native:servicebus:Namespace": ["disableLocalAuth", "minimumTlsVersion"],
    "azure-native:servicebus:Queue": [
        "maxDeliveryCount",
        "lockDuration",
        "deadLetteringOnMessageExpiration",
    ],
    "azure-native:cosmosdb:DatabaseAccount": [
        "publicNetworkAccess",
        "disableLocalAuth",
        "backupPolicy.type",
    ],
    "azure-native:dbforpostgresql:Server": [
        "version",
        "sku.name",
        "highAvailability.mode",
        "network.publicNetworkAccess",
        "backup.backupRetentionDays",
    ],
    "azure-native:compute:VirtualMachineScaleSet": [
        "sku.name",
        "sku.capacity",
        "zones",
        "upgradePolicy.mode",
        "virtualMachineProfile.osProfile.linuxConfiguration.disablePasswordAuthentication",
    ],
    "azure-native:monitor:AutoscaleSetting": [
        "profiles.0.capacity",
        "profiles.0.rules.0.metricTrigger.metricName",
        "profiles.0.rules.0.metricTrigger.threshold",
    ],
    "azure-native:authorization:RoleAssignment": ["scope", "roleDefinitionId"],
    "azure-native:monitor:MetricAlert": [
        "criteria.allOf.0.metricName",
        "criteria.allOf.0.threshold",
    ],
    "azure-native:hdinsight:Cluster": [
        "properties.clusterVersion",
        "properties.clusterDefinition.kind",
    ],
    "azure-native:iothub:IotHubResource": ["properties.routing.routes"],
}
# Resources ARM does not tag (sub-resources, assignments, settings, locks) and non-Azure ones.
UNTAGGED = {
    "azure-native:network:Subnet",
    "azure-native:network:SecurityRule",
    "azure-native:network:PrivateDnsZoneGroup",
    "azure-native:storage:BlobContainer",
    "azure-native:storage:BlobServiceProperties",
    "azure-native:storage:ManagementPolicy",
    "azure-native:storage:Blob",
    "azure-native:servicebus:Queue",
    "azure-native:cosmosdb:TableResourceTable",
    "azure-native:cosmosdb:TableResourceTableRoleAssignment",
    "azure-native:dbforpostgresql:Configuration",
    "azure-native:dbforpostgresql:Database",
    "azure-native:authorization:RoleAssignment",
    "azure-native:authorization:ManagementLockByScope",
    "azure-native:monitor:DiagnosticSetting",
}
GOVERNANCE = {"project", "app", "env", "owner", "cost-center"}
FORBIDDEN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "b24988ac-6180-42a0-ab88-20f7a0b0d1ca",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
}  # Owner, Contributor, UAA
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRETS_USER = ROLES["key-vault-secrets-user"]
_RUNS: dict[tuple[str, str], Run] = {}


def stack_run(stack: str, env: str = "dev") -> Run:
    """Each stack runs once per session (a run takes seconds); tests only read it."""
    if (stack, env) not in _RUNS:
        overrides = PROD_OVERRIDES if env == "prod" else None
        _RUNS[stack, env] = run_stack(
            stack, computed=computed, invokes=INVOKES, overrides=overrides
        )
    return _RUNS[stack, env]


def test_there_are_five_azure_stacks():
    assert STACKS == [
        "azure-cloud-drive",
        "azure-image-processing",
        "azure-iot-gateway",
        "azure-mapreduce",
        "azure-social-analytics",
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_runs_and_matches_its_snapshot(stack, update_snapshots):
    run = stack_run(stack)
    outputs = run.result
    app = stack.removeprefix("azure-")
    assert outputs["cloud"] == "azure" and outputs["app"] == app
    assert re.fullmatch(
        rf"https://{app}-dev-[0-9a-f]{{6}}\.westeurope\.cloudapp\.azure\.com", outputs["app_url"]
    )
    assert outputs["dns_target"] == outputs["app_url"].removeprefix("https://")  # a CNAME's
    if stack == "azure-iot-gateway":
        assert re.fullmatch(
            r"mqtts://iot-gateway-dev-[\w-]+\.azure-devices\.net:8883", outputs["mqtt_endpoint"]
        )
    for name in outputs["object_stores"].values():
        account, container = name.split("/")
        assert re.fullmatch(r"[a-z0-9]{3,24}", account) and container
    for name in [*outputs["queues"].values(), *outputs["tables"].values()]:
        assert name.startswith(f"{app}-dev-"), name
    assert run.one("azure-native:resources:ResourceGroup").inputs["resourceGroupName"] == (
        f"{app}-dev-rg"
    )
    check_snapshot(stack, inventory(run, KEY_PROPERTIES), update_snapshots)


def _snake_case_keys(value, path=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            if re.search(r"[a-z]_[a-z]", key) and not key.startswith("restAuthCredential"):
                yield f"{path}.{key}"
            yield from _snake_case_keys(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from _snake_case_keys(inner, f"{path}[]")


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_is_tagged_and_sent_in_arm_casing(stack):
    run = stack_run(stack)
    for resource in run.resources:
        # A dict given for a union-typed input reaches ARM unconverted (snake_case keys).
        assert list(_snake_case_keys(resource.inputs)) == [], resource.name
        if not resource.type.startswith("azure-native:") or resource.type in UNTAGGED:
            continue
        tags = resource.inputs.get("tags") or {}
        assert set(tags) >= GOVERNANCE, f"{resource.type} {resource.name} lacks tags"
        assert tags["app"] == stack.removeprefix("azure-")


@pytest.mark.parametrize("stack", STACKS)
def test_stack_is_secure_by_default(stack):
    run = stack_run(stack)
    for rule in run.of_type("azure-native:network:SecurityRule"):
        inputs = rule.inputs
        if inputs["access"] == "Allow" and inputs["sourceAddressPrefix"] in ("Internet", "*"):
            assert inputs["networkSecurityGroupName"].endswith("-gateway-nsg")
            assert inputs["destinationPortRanges"] == ["80", "443"]
    for assignment in run.of_type("azure-native:authorization:RoleAssignment"):
        role = assignment.inputs["roleDefinitionId"].rsplit("/", 1)[1]
        assert role in {*ROLES.values(), CLUSTER_OPERATOR_ROLE} and role not in FORBIDDEN_ROLES
        assert (
            assignment.inputs["scope"].endswith("-id") or "/secrets/" in assignment.inputs["scope"]
        ), assignment.inputs["scope"]
    for account in run.of_type("azure-native:storage:StorageAccount"):
        assert account.inputs["allowBlobPublicAccess"] is False
        assert account.inputs["allowSharedKeyAccess"] is False
        assert account.inputs["minimumTlsVersion"] == "TLS1_2"
    for namespace in run.of_type("azure-native:servicebus:Namespace"):
        assert namespace.inputs["disableLocalAuth"] is True
    for vmss in run.of_type("azure-native:compute:VirtualMachineScaleSet"):
        profile = vmss.inputs["virtualMachineProfile"]
        assert profile["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"]
        nic = profile["networkProfile"]["networkInterfaceConfigurations"][0]
        assert all("publicIPAddressConfiguration" not in c for c in nic["ipConfigurations"])
        user_data = base64.b64decode(profile["osProfile"]["customData"]).decode()
        assert "ansible-pull" in user_data
        for password in run.of_type("random:index/randomPassword:RandomPassword"):
            assert password.outputs["result"] not in user_data


def _app_env(run: Run, tier: str) -> dict[str, str]:
    """The app environment a tier's scale set boots with (from its cloud-init vars file)."""
    vmss = run.one("azure-native:compute:VirtualMachineScaleSet", f"{tier}-vmss")
    return boot_vars(_boot_script(_decoded_custom_data(vmss)))["python_app_env"]


def _decoded_custom_data(vmss: Registered) -> str:
    return base64.b64decode(
        vmss.inputs["virtualMachineProfile"]["osProfile"]["customData"]
    ).decode()


def _boot_script(custom_data: str) -> str:
    """The boot script inside a scale set's cloud-config custom data."""
    return yaml.safe_load(custom_data)["write_files"][0]["content"]


def test_mapreduce_job_runner_alone_is_told_and_granted_its_cluster():
    run = stack_run("azure-mapreduce")
    cluster = run.one("azure-native:hdinsight:Cluster")
    cluster_name = cluster.inputs["clusterName"]
    assert _app_env(run, "job-runner")["MAPREDUCE_CLUSTER_URL"].startswith(
        f"hdinsight://admin@{cluster_name}?storage=azblob://"
    )
    assert "MAPREDUCE_CLUSTER_URL" not in _app_env(run, "web")
    on_cluster = [
        (a.inputs["principalId"], a.inputs["roleDefinitionId"].rsplit("/", 1)[1])
        for a in run.of_type("azure-native:authorization:RoleAssignment")
        if a.inputs["scope"] == f"{cluster.name}-id"
    ]
    assert on_cluster == [("principal-mapreduce-dev-job-runner-id", CLUSTER_OPERATOR_ROLE)]
    operators = [
        a.inputs["scope"]
        for a in run.of_type("azure-native:authorization:RoleAssignment")
        if a.inputs["roleDefinitionId"].endswith(CLUSTER_OPERATOR_ROLE)
    ]
    assert operators == [f"{cluster.name}-id"]


def test_database_stack_exports_a_secret_password_and_a_private_endpoint():
    run = stack_run("azure-cloud-drive")
    outputs = run.result
    assert outputs["db_endpoint"].endswith(".postgres.database.azure.com")
    assert outputs["db_password"] == "Pw-drive-db-admin-password-xxxxxxxx-9!"
    server = run.one("azure-native:dbforpostgresql:Server").inputs
    assert server["network"]["publicNetworkAccess"] == "Disabled"


@pytest.mark.parametrize("stack", ["azure-cloud-drive", "azure-image-processing"])
def test_prod_sizing(stack):
    run = stack_run(stack, "prod")
    for vmss in run.of_type("azure-native:compute:VirtualMachineScaleSet"):
        assert vmss.inputs["sku"]["capacity"] >= 2
        assert vmss.inputs["zones"] == ["1", "2"]
        assert vmss.inputs["sku"]["name"] == "Standard_D2s_v5"
    gateway = run.one("azure-native:network:ApplicationGateway").inputs
    assert gateway["sku"]["name"] == "WAF_v2"
    assert gateway["sslCertificates"][0]["keyVaultSecretId"] == PROD["certificate"]
    assert (
        run.one("azure-native:keyvault:Vault").inputs["properties"]["enablePurgeProtection"] is True
    )
    if stack == "azure-cloud-drive":
        server = run.one("azure-native:dbforpostgresql:Server").inputs
        assert server["highAvailability"]["mode"] == "ZoneRedundant"
        assert server["backup"]["geoRedundantBackup"] == "Enabled"
        lock = run.one("azure-native:authorization:ManagementLockByScope").inputs
        assert lock["level"] == "CanNotDelete"


def _custom_data(run: Run) -> dict[str, str]:
    return {
        vmss.name: _decoded_custom_data(vmss)
        for vmss in run.of_type("azure-native:compute:VirtualMachineScaleSet")
    }


def _keyvault_ref(run: Run, secret_name: str) -> str:
    vault = run.one("azure-native:keyvault:Vault").inputs["vaultName"]
    return f"azure-keyvault://{vault}.vault.azure.net/{secret_name}"


def _assignments_on(run: Run, scope: str) -> list[tuple[str, str]]:
    return [
        (a.inputs["principalId"], a.inputs["roleDefinitionId"].rsplit("/", 1)[1])
        for a in run.of_type("azure-native:authorization:RoleAssignment")
        if a.inputs["scope"] == scope
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_tiers_boot_in_production_mode_with_secret_references(stack):
    run = stack_run(stack)
    blueprint = BLUEPRINTS[stack.removeprefix("azure-")]()
    app = blueprint.app
    key = run.one("azure-native:keyvault:Secret", f"{app.name}-session-key-secret").inputs
    assert key["secretName"] == f"{app.name}-session-key"
    app_env = _app_env(run, app.name)
    assert app_env["APP_ENV"] == "production"
    assert app_env["SECRET_KEY_REF"] == _keyvault_ref(run, f"{app.name}-session-key")
    for worker in blueprint.workers:
        worker_env = _app_env(run, worker.name)
        assert worker_env["APP_ENV"] == "production"
        assert "SECRET_KEY_REF" not in worker_env
    for tier in (app, *blueprint.workers):
        env = _app_env(run, tier.name)
        databases = [use.target for use in tier.uses if use.env_var == "DATABASE_URL"]
        if databases:
            expected = _keyvault_ref(run, f"{databases[0]}-app-password")
            assert env["DATABASE_PASSWORD_REF"] == expected
        else:
            assert "DATABASE_PASSWORD_REF" not in env


def test_the_app_connects_as_its_own_role_and_only_root_gets_the_admin():
    """cloud-drive's web tier: DATABASE_URL names the app role and DATABASE_PASSWORD_REF its
    secret; the administrator's login and secret reach only the vars root's converge step
    reads. The tier's identity reads both secrets (root's step runs with the VM's identity)."""
    run = stack_run("azure-cloud-drive")
    vmss = run.one("azure-native:compute:VirtualMachineScaleSet", "web-vmss")
    host_vars = boot_vars(_boot_script(_decoded_custom_data(vmss)))
    env = host_vars["python_app_env"]
    server = run.one("azure-native:dbforpostgresql:Server").inputs
    assert server["administratorLogin"] == "tierstack_admin"
    assert env["DATABASE_URL"].startswith("postgresql://drive_app@")
    assert env["DATABASE_PASSWORD_REF"] == _keyvault_ref(run, "drive-db-app-password")
    admin_ref = _keyvault_ref(run, "drive-db-admin-password")
    assert admin_ref not in env.values()
    assert "tierstack_admin" not in env["DATABASE_URL"]
    assert host_vars["blueprint_host_database_admin_user"] == "tierstack_admin"
    assert host_vars["blueprint_host_database_admin_password_ref"] == admin_ref
    for secret in ("drive-db-app-password", "drive-db-admin-password"):
        assert _assignments_on(run, f"network-vault-id/secrets/{secret}") == [
            ("principal-cloud-drive-dev-web-id", SECRETS_USER)
        ]


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_reaches_any_custom_data(stack):
    run = stack_run(stack)
    app = BLUEPRINTS[stack.removeprefix("azure-")]().app
    values = {
        r.outputs["result"] for r in run.of_type("random:index/randomPassword:RandomPassword")
    }
    for secret in run.of_type("azure-native:keyvault:Secret"):
        properties = secret.inputs["properties"]
        values.add(
            properties["value"]["value"] if SECRET_SIG in properties else properties["value"]
        )
    key = run.one("azure-native:keyvault:Secret", f"{app.name}-session-key-secret").inputs
    assert SECRET_SIG in key["properties"], "the session key is not sent as a secret"
    session_key = run.named(f"{app.name}-session-key-value").outputs["result"]
    assert key["properties"]["value"]["value"] == session_key
    for name, user_data in _custom_data(run).items():
        assert "ansible-pull" in user_data
        for value in values:
            assert value not in user_data, f"{name} carries a secret value"


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_app_identity_reads_the_session_key(stack):
    run = stack_run(stack)
    blueprint = BLUEPRINTS[stack.removeprefix("azure-")]()
    app, prefix = blueprint.app, f"{stack.removeprefix('azure-')}-dev"
    scope = f"network-vault-id/secrets/{app.name}-session-key"
    assert _assignments_on(run, scope) == [(f"principal-{prefix}-{app.name}-id", SECRETS_USER)]
    workers = {f"principal-{prefix}-{worker.name}-id" for worker in blueprint.workers}
    # The one secret a worker reads: the MapReduce job runner's cluster gateway password.
    gateway = (
        "network-vault-id/secrets/hadoop-gateway-password",
        f"principal-{prefix}-job-runner-id",
    )
    for assignment in run.of_type("azure-native:authorization:RoleAssignment"):
        assert (
            not assignment.inputs["scope"].startswith("network-vault-id/secrets/")
            or assignment.inputs["principalId"] not in workers
            or (assignment.inputs["scope"], assignment.inputs["principalId"]) == gateway
        )
        # Secrets are granted one by one: never on the whole vault or resource group.
        assert assignment.inputs["scope"] not in ("network-vault-id", "network-rg-id")


def test_cloud_drive_app_reads_the_database_password_by_reference():
    run = stack_run("azure-cloud-drive")
    env = _app_env(run, "web")
    assert set(env) == {
        "APP_ENV",
        "DATABASE_PASSWORD_REF",
        "DATABASE_URL",
        "OBJECT_STORE_URL",
        "PROXY_ADDRESS_FORMAT",
        "PROXY_HOPS",
        "SECRET_KEY_REF",
    }
    assert env["DATABASE_PASSWORD_REF"] == _keyvault_ref(run, "drive-db-app-password")
    secret = run.one("azure-native:keyvault:Secret", "drive-db-app-password-secret").inputs
    assert secret["secretName"] == "drive-db-app-password"
    assert _assignments_on(run, "network-vault-id/secrets/drive-db-app-password") == [
        ("principal-cloud-drive-dev-web-id", SECRETS_USER)
    ]
    assert run.result["db_password"] not in _custom_data(run)["web-vmss"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_tier_boots_with_variables_its_playbook_accepts(stack, tmp_path):
    run = stack_run(stack)
    tiers = {}
    for name, custom_data in _custom_data(run).items():
        script = _boot_script(custom_data)
        tiers[name] = assert_boot_script_converges_its_tier(script, tmp_path)["tierstack_tier"]
    assert "app" in tiers.values()
    assert len(tiers) == len(run.of_type("azure-native:compute:VirtualMachineScaleSet"))


RESOURCE_PROVIDERS = {
    # The resource provider namespace behind each azure-native module the stacks use (Azure
    # docs, "Resource providers for Azure services", learn.microsoft.com/azure/azure-resource-
    # manager/management/azure-services-resource-providers). Microsoft.Resources and
    # Microsoft.Authorization are registered on every subscription by default (same page).
    "authorization": None,
    "resources": None,
    "communication": "Microsoft.Communication",
    "compute": "Microsoft.Compute",
    "cosmosdb": "Microsoft.DocumentDB",
    "dbforpostgresql": "Microsoft.DBforPostgreSQL",
    "hdinsight": "Microsoft.HDInsight",
    "iothub": "Microsoft.Devices",
    "keyvault": "Microsoft.KeyVault",
    "managedidentity": "Microsoft.ManagedIdentity",
    "monitor": "Microsoft.Insights",
    "network": "Microsoft.Network",
    "operationalinsights": "Microsoft.OperationalInsights",
    "privatedns": "Microsoft.Network",
    "servicebus": "Microsoft.ServiceBus",
    "storage": "Microsoft.Storage",
}


def _documented_providers() -> set[str]:
    """The namespaces the README's first-deploy `az provider register` loop registers."""
    readme = (REPO_ROOT / "stacks" / "azure" / "README.md").read_text()
    loop = re.search(r"for ns in ((?:[^;])+); do az provider register", readme)
    assert loop, "stacks/azure/README.md has no `az provider register` loop"
    return set(re.findall(r"Microsoft\.\w+", loop.group(1)))


@pytest.mark.parametrize("stack", STACKS)
def test_first_deploy_registers_every_resource_provider_the_stack_uses(stack: str) -> None:
    """The program does not register resource providers (that needs subscription-level
    rights): the README's first-deploy loop does, and must name the namespace of every
    resource the stack creates, or a fresh subscription answers MissingSubscriptionRegistration."""
    modules = {
        r.type.split(":")[1]
        for r in stack_run(stack).resources
        if r.type.startswith("azure-native:")
    }
    unknown = modules - RESOURCE_PROVIDERS.keys()
    assert not unknown, f"which provider serves {sorted(unknown)}? add it to RESOURCE_PROVIDERS"
    needed = {RESOURCE_PROVIDERS[m] for m in modules} - {None}
    assert needed - _documented_providers() == set()
