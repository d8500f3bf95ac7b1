"""RelationalDb, Notifications, AppSecret, TierIdentity, LoadBalancer, AppTier, WorkerTier, Alarms,
MapReduceCluster and IoTIngest, each checked on resolved inputs. One small program per
environment declares them together (each run costs seconds), and the tests read its record."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from stacks.azure import (
    Alarms,
    AppSecret,
    AppTier,
    IoTIngest,
    LoadBalancer,
    MapReduceCluster,
    Network,
    Notifications,
    ObjectStore,
    Queue,
    RelationalDb,
    TierIdentity,
    WorkerTier,
)
from stacks.azure.common import ROLES, stable_guid
from stacks.azure.mapreduce_cluster import CLUSTER_OPERATOR_ROLE as CLUSTER_OPERATOR
from stacks.blueprints import mapreduce
from stacks.blueprints.model import AppTier as AppSpec
from stacks.blueprints.model import IoTIngest as IoTSpec
from stacks.blueprints.model import Notifications as NotifySpec
from stacks.blueprints.model import ObjectStore as StoreSpec
from stacks.blueprints.model import Queue as QueueSpec
from stacks.blueprints.model import RelationalDb as DbSpec
from stacks.blueprints.model import WorkerTier as WorkerSpec
from stacks.common.args import (
    AlarmsArgs,
    AppSecretArgs,
    AppTierArgs,
    Grant,
    IoTIngestArgs,
    LoadBalancerArgs,
    MapReduceClusterArgs,
    NetworkArgs,
    NotificationsArgs,
    ObjectStoreArgs,
    QueueArgs,
    RelationalDbArgs,
    TierIdentityArgs,
    WorkerTierArgs,
)
from stacks.common.bootstrap import bootstrap_script
from tests.playbook_check import boot_vars
from tests.stacks.azure.conftest import FROM_DOMAIN, PROD, SUBSCRIPTION, make_context

SECRET_SIG = "4dabf18193072939515e22adb298388d"
REPO_ROOT = Path(__file__).resolve().parents[3]
APP = AppSpec("web", "pages", wsgi="reference_apps.x.wsgi:app", port=8000, health_path="/healthz")
WORKER = WorkerSpec(
    "filter-worker", "jobs", command="python -m x", scale_on="jobs", backlog_per_instance=10
)
FORBIDDEN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "b24988ac-6180-42a0-ab88-20f7a0b0d1ca",  # Contributor
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
}


def plain(value):
    """A secret input is recorded in Pulumi's secret envelope; the test reads what is inside."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return value["value"]
    return value


def tiers_program(context):
    def program():
        net = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        store = ObjectStore(
            "images", ObjectStoreArgs(context, StoreSpec("images", "blobs"), network=net)
        )
        queue = Queue("jobs", QueueArgs(context, QueueSpec("jobs", "work"), network=net))
        db = RelationalDb("app-db", RelationalDbArgs(context, DbSpec("app-db", "rows", "app"), net))
        mail = Notifications(
            "job-done", NotificationsArgs(context, NotifySpec("job-done", "mail"), network=net)
        )
        session_key = AppSecret(
            "web-session-key", AppSecretArgs(context, "session signing key", network=net)
        )
        app_identity = TierIdentity(
            "web-identity",
            TierIdentityArgs(
                context,
                "web",
                [
                    Grant(store, "read-write"),
                    Grant(queue, "publish"),
                    Grant(db, "read-write"),
                    Grant(session_key, "read"),
                ],
                network=net,
            ),
        )
        worker_identity = TierIdentity(
            "worker-identity",
            TierIdentityArgs(
                context,
                "filter-worker",
                [
                    Grant(store, "read"),
                    Grant(queue, "consume"),
                    Grant(mail, "publish"),
                ],
                network=net,
            ),
        )
        lb = LoadBalancer("web-lb", LoadBalancerArgs(context, net, APP.port, APP.health_path))
        app_env = {
            "OBJECT_STORE_URL": store.backend_url,
            "DATABASE_URL": db.backend_url,
            "DATABASE_PASSWORD_REF": db.password_ref,
            "SECRET_KEY_REF": session_key.ref,
        }
        app = AppTier(
            "web",
            AppTierArgs(
                context, APP, net, lb, app_identity, bootstrap_script(context, "app", app_env)
            ),
        )
        worker = WorkerTier(
            "filter-worker",
            WorkerTierArgs(
                context,
                WORKER,
                net,
                worker_identity,
                queue,
                bootstrap_script(context, "worker", {"QUEUE_URL": queue.backend_url}),
            ),
        )
        Alarms("alarms", AlarmsArgs(context, lb, [queue], [app, worker], network=net))
        return {
            "url": lb.url,
            "db": db.backend_url,
            "endpoint": db.endpoint,
            "password": db.password,
            "mail": mail.backend_url,
            "password_is_secret": db.password.is_secret(),
            "password_ref": db.password_ref,
            "password_ref_is_secret": db.password_ref.is_secret(),
            "session_key": session_key.value,
            "session_key_is_secret": session_key.value.is_secret(),
            "session_key_name": session_key.physical_name,
            "session_key_ref": session_key.ref,
            "session_key_ref_is_secret": session_key.ref.is_secret(),
        }

    return program


@pytest.fixture(scope="module")
def dev():
    from tests.stacks.azure.conftest import INVOKES, computed
    from tests.stacks.harness import run_pulumi

    return run_pulumi(
        tiers_program(make_context(alertEmail="ops@example.org")),
        computed=computed,
        invokes=INVOKES,
    )


@pytest.fixture(scope="module")
def prod():
    from tests.stacks.azure.conftest import INVOKES, computed
    from tests.stacks.harness import run_pulumi

    return run_pulumi(tiers_program(make_context(**PROD)), computed=computed, invokes=INVOKES)


def test_database_is_private_with_backups_and_no_password_in_its_url(dev):
    server = dev.one("azure-native:dbforpostgresql:Server").inputs
    assert server["network"] == {
        "delegatedSubnetResourceId": "network-data-id",
        "privateDnsZoneArmResourceId": dev.one("azure-native:privatedns:PrivateZone").name + "-id",
        "publicNetworkAccess": "Disabled",
    }
    assert server["version"] == "16"
    assert server["highAvailability"] == {"mode": "Disabled"}
    assert server["backup"] == {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled"}
    assert server["sku"] == {"name": "Standard_B1ms", "tier": "Burstable"}
    zone = dev.one("azure-native:privatedns:PrivateZone").inputs["privateZoneName"]
    assert zone.endswith(".private.postgres.database.azure.com")
    tls = dev.one("azure-native:dbforpostgresql:Configuration").inputs
    assert (tls["configurationName"], tls["value"]) == ("require_secure_transport", "on")
    password = dev.result["password"]
    assert dev.result["password_is_secret"] is True
    assert dev.result["db"] == (
        f"postgresql://tierstack_admin@{dev.result['endpoint']}:5432/app?sslmode=require"
    )
    assert password not in dev.result["db"]
    secret = dev.one("azure-native:keyvault:Secret", "app-db-password-secret").inputs
    assert secret["vaultName"] == dev.one("azure-native:keyvault:Vault").inputs["vaultName"]
    assert plain(secret["properties"])["value"] == password
    assert dev.of_type("azure-native:authorization:ManagementLockByScope") == []


def test_prod_database_is_zone_redundant_and_locked(prod):
    server = prod.one("azure-native:dbforpostgresql:Server").inputs
    assert server["highAvailability"] == {"mode": "ZoneRedundant", "standbyAvailabilityZone": "2"}
    assert server["availabilityZone"] == "1"
    assert server["backup"] == {"backupRetentionDays": 14, "geoRedundantBackup": "Enabled"}
    lock = prod.one("azure-native:authorization:ManagementLockByScope").inputs
    assert (lock["level"], lock["scope"]) == ("CanNotDelete", "app-db-server-id")


def _assignments(run, principal):
    return {
        (a.inputs["scope"], a.inputs["roleDefinitionId"].rsplit("/", 1)[1])
        for a in run.of_type("azure-native:authorization:RoleAssignment")
        if a.inputs["principalId"] == principal
    }


def test_identities_get_exactly_their_grants_on_exactly_those_resources(dev):
    assert _assignments(dev, "principal-image-processing-dev-web-id") == {
        ("images-container-id", ROLES["storage-blob-data-contributor"]),
        ("jobs-queue-id", ROLES["service-bus-data-sender"]),
        ("network-vault-id/secrets/app-db-admin-password", ROLES["key-vault-secrets-user"]),
        ("network-vault-id/secrets/web-session-key", ROLES["key-vault-secrets-user"]),
    }
    assert _assignments(dev, "principal-image-processing-dev-filter-worker-id") == {
        ("images-container-id", ROLES["storage-blob-data-reader"]),
        ("jobs-queue-id", ROLES["service-bus-data-receiver"]),
        ("job-done-service-id", ROLES["communication-and-email-service-owner"]),
    }
    for assignment in dev.of_type("azure-native:authorization:RoleAssignment"):
        inputs = assignment.inputs
        assert inputs["roleDefinitionId"].startswith(f"/subscriptions/{SUBSCRIPTION}/providers/")
        assert inputs["roleDefinitionId"].rsplit("/", 1)[1] not in FORBIDDEN_ROLES
        assert inputs["principalType"] == "ServicePrincipal"
        assert not inputs["scope"].startswith("/subscriptions/")  # a resource, never a scope


def _vault_name(run):
    return run.one("azure-native:keyvault:Vault").inputs["vaultName"]


def test_app_secret_is_a_generated_48_char_alnum_secret_in_the_stack_vault(dev):
    component = dev.named("web-session-key")
    assert component.type == "tierstack:azure:AppSecret"
    generated = dev.named("web-session-key-value")
    assert generated.type == "random:index/randomPassword:RandomPassword"
    assert (generated.inputs["length"], generated.inputs["special"]) == (48, False)
    assert generated.parent_urn == component.urn
    value = dev.result["session_key"]
    assert re.fullmatch(r"[A-Za-z0-9]{48}", value)
    assert dev.result["session_key_is_secret"] is True
    secret = dev.one("azure-native:keyvault:Secret", "web-session-key-secret")
    assert secret.parent_urn == component.urn
    assert secret.inputs["secretName"] == dev.result["session_key_name"] == "web-session-key"
    assert secret.inputs["vaultName"] == _vault_name(dev)
    assert secret.inputs["resourceGroupName"] == "image-processing-dev-rg"
    assert SECRET_SIG in secret.inputs["properties"]  # the value travels as a secret
    assert plain(secret.inputs["properties"]) == {"value": value, "contentType": "text/plain"}
    assert secret.inputs["tags"]["purpose"] == "session signing key"


def test_secret_references_name_the_vault_and_the_secret_and_are_not_secret(dev):
    vault = _vault_name(dev)
    assert dev.result["session_key_ref"] == (
        f"azure-keyvault://{vault}.vault.azure.net/web-session-key"
    )
    assert dev.result["password_ref"] == (
        f"azure-keyvault://{vault}.vault.azure.net/app-db-admin-password"
    )
    assert dev.result["session_key_ref_is_secret"] is False
    assert dev.result["password_ref_is_secret"] is False


def test_session_key_read_grant_is_secrets_user_on_that_one_secret(dev):
    on_key = [
        a
        for a in dev.of_type("azure-native:authorization:RoleAssignment")
        if "web-session-key" in a.inputs["scope"]
    ]
    assert [a.name for a in on_key] == ["web-web-session-key-read"]
    assert on_key[0].parent_urn == dev.named("web-identity").urn
    role = "key-vault-secrets-user"
    assert on_key[0].inputs == {
        "roleAssignmentName": stable_guid("web", _vault_name(dev), "web-session-key", role),
        "scope": "network-vault-id/secrets/web-session-key",  # not the vault, not the group
        "principalId": "principal-image-processing-dev-web-id",
        "principalType": "ServicePrincipal",
        "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/"
        f"Microsoft.Authorization/roleDefinitions/{ROLES[role]}",
    }


@pytest.mark.parametrize("access", ["read-write", "publish", "consume"])
def test_app_secret_grants_nothing_but_read(access):
    from tests.stacks.azure.conftest import INVOKES, computed
    from tests.stacks.harness import run_pulumi

    context = make_context()

    def program():
        net = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        key = AppSecret(
            "web-session-key", AppSecretArgs(context, "session signing key", network=net)
        )
        TierIdentity(
            "web-identity", TierIdentityArgs(context, "web", [Grant(key, access)], network=net)
        )

    with pytest.raises(Exception, match=f"grants only 'read' access, not '{access}'"):
        run_pulumi(program, computed=computed, invokes=INVOKES)


def _gateway(run):
    return run.one("azure-native:network:ApplicationGateway").inputs


def test_gateway_redirects_http_probes_health_and_requires_tls12(dev):
    gateway = _gateway(dev)
    base = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/image-processing-dev-rg/providers/"
        "Microsoft.Network/applicationGateways/image-processing-dev-agw"
    )
    listeners = {listener["name"]: listener for listener in gateway["httpListeners"]}
    assert listeners["http"]["protocol"] == "Http"
    assert listeners["https"]["protocol"] == "Https"
    assert listeners["https"]["sslCertificate"] == {"id": f"{base}/sslCertificates/listener"}
    assert gateway["redirectConfigurations"] == [
        {
            "name": "http-to-https",
            "redirectType": "Permanent",
            "targetListener": {"id": f"{base}/httpListeners/https"},
            "includePath": True,
            "includeQueryString": True,
        }
    ]
    rules = {rule["name"]: rule for rule in gateway["requestRoutingRules"]}
    assert rules["http-redirect"]["redirectConfiguration"] == {
        "id": f"{base}/redirectConfigurations/http-to-https"
    }
    assert "backendAddressPool" not in rules["http-redirect"]
    assert rules["https-app"]["backendAddressPool"] == {"id": f"{base}/backendAddressPools/app"}
    probe = gateway["probes"][0]
    assert (probe["path"], probe["protocol"]) == ("/healthz", "Http")
    assert gateway["backendHttpSettingsCollection"][0]["port"] == 8000
    assert gateway["sslPolicy"] == {
        "policyType": "Predefined",
        "policyName": "AppGwSslPolicy20220101S",
    }
    assert gateway["zones"] == ["1", "2"]
    assert gateway["sku"]["name"] == "Standard_v2" and "firewallPolicy" not in gateway
    assert dev.result["url"].startswith("https://image-processing-dev-")
    assert dev.result["url"].endswith(".westeurope.cloudapp.azure.com")


def test_dev_certificate_is_a_real_pfx_for_the_gateway_name(dev):
    certificate = plain(_gateway(dev)["sslCertificates"])[0]
    blob = base64.b64decode(certificate["data"])
    _, cert, _ = pkcs12.load_key_and_certificates(blob, certificate["password"].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [dev.result["url"][len("https://") :]]


def test_prod_gateway_uses_waf_and_the_key_vault_certificate(prod):
    gateway = _gateway(prod)
    assert gateway["sku"] == {"name": "WAF_v2", "tier": "WAF_v2"}
    assert gateway["firewallPolicy"] == {"id": "web-lb-waf-id"}
    waf = prod.one("azure-native:network:WebApplicationFirewallPolicy").inputs
    assert waf["policySettings"]["mode"] == "Prevention"
    assert {"ruleSetType": "OWASP", "ruleSetVersion": "3.2"} in waf["managedRules"][
        "managedRuleSets"
    ]
    assert gateway["sslCertificates"] == [
        {"name": "listener", "keyVaultSecretId": PROD["certificate"]}
    ]
    assert gateway["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": ["web-lb-mi-id"],
    }
    assert gateway["autoscaleConfiguration"] == {"minCapacity": 2, "maxCapacity": 10}


def test_app_port_is_open_only_to_the_gateway_subnet(dev):
    rules = [
        r.inputs
        for r in dev.of_type("azure-native:network:SecurityRule")
        if "8000" in (r.inputs.get("destinationPortRanges") or [])
    ]
    assert rules == [rules[0]]
    assert rules[0]["networkSecurityGroupName"] == "image-processing-dev-app-nsg"
    assert rules[0]["sourceAddressPrefix"] == "10.40.0.0/24"  # the gateway subnet
    assert rules[0]["access"] == "Allow"


def _scale_set(run, tier):
    return next(
        r.inputs
        for r in run.of_type("azure-native:compute:VirtualMachineScaleSet")
        if r.inputs["vmScaleSetName"] == f"image-processing-{run_env(run)}-{tier}"
    )


def run_env(run):
    return run.one("azure-native:resources:ResourceGroup").inputs["tags"]["env"]


def _cloud_config(vmss):
    text = base64.b64decode(vmss["virtualMachineProfile"]["osProfile"]["customData"]).decode()
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def test_app_scale_set_is_private_identity_bound_and_boots_ansible(dev):
    vmss = _scale_set(dev, "web")
    profile = vmss["virtualMachineProfile"]
    nic = profile["networkProfile"]["networkInterfaceConfigurations"][0]
    ip_config = nic["ipConfigurations"][0]
    assert "publicIPAddressConfiguration" not in ip_config
    assert ip_config["subnet"] == {"id": "network-app-id"}
    assert ip_config["applicationGatewayBackendAddressPools"][0]["id"].endswith(
        "/applicationGateways/image-processing-dev-agw/backendAddressPools/app"
    )
    assert vmss["identity"] == {
        "type": "UserAssigned",
        "userAssignedIdentities": ["web-identity-mi-id"],
    }
    linux = profile["osProfile"]["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    assert linux["ssh"]["publicKeys"][0]["keyData"].startswith("ssh-rsa ")
    assert "adminPassword" not in profile["osProfile"]
    assert profile["securityProfile"]["securityType"] == "TrustedLaunch"
    assert profile["securityProfile"]["encryptionAtHost"] is True
    assert vmss["zones"] == ["1", "2"] and vmss["zoneBalance"] is True
    assert vmss["upgradePolicy"]["mode"] == "Rolling"
    health = profile["extensionProfile"]["extensions"][0]
    assert health["settings"] == {"protocol": "http", "port": 8000, "requestPath": "/healthz"}
    document = _cloud_config(vmss)
    script = document["write_files"][0]["content"]
    assert "/opt/ansible/bin/ansible-pull" in script
    assert "playbooks/image-processing.yml" in script
    host_vars = boot_vars(script)
    store = dev.one("azure-native:storage:StorageAccount").inputs["accountName"]
    assert host_vars["python_app_env"]["OBJECT_STORE_URL"] == f"azblob://{store}/images"
    assert host_vars["python_app_env"]["DATABASE_URL"] == dev.result["db"]
    assert host_vars["python_app_env"]["DATABASE_PASSWORD_REF"] == dev.result["password_ref"]
    assert host_vars["python_app_env"]["SECRET_KEY_REF"] == dev.result["session_key_ref"]
    custom_data = base64.b64decode(profile["osProfile"]["customData"]).decode()
    assert dev.result["password"] not in custom_data
    assert dev.result["session_key"] not in custom_data


def test_app_autoscale_follows_cpu_between_sizing_bounds(dev, prod):
    for run, bounds in ((dev, ("1", "3")), (prod, ("2", "8"))):
        setting = next(
            r.inputs
            for r in run.of_type("azure-native:monitor:AutoscaleSetting")
            if r.inputs["targetResourceUri"] == "web-vmss-id"
        )
        capacity = setting["profiles"][0]["capacity"]
        assert (capacity["minimum"], capacity["maximum"]) == bounds
        out = setting["profiles"][0]["rules"][0]
        assert out["metricTrigger"]["metricName"] == "Percentage CPU"
        assert (out["metricTrigger"]["threshold"], out["scaleAction"]["direction"]) == (
            60,
            "Increase",
        )
    assert _scale_set(prod, "web")["sku"] == {
        "name": "Standard_D2s_v5",
        "tier": "Standard",
        "capacity": 2,
    }


def test_worker_scales_on_its_queue_backlog_per_instance(dev):
    setting = next(
        r.inputs
        for r in dev.of_type("azure-native:monitor:AutoscaleSetting")
        if r.inputs["targetResourceUri"] == "filter-worker-vmss-id"
    )
    trigger = setting["profiles"][0]["rules"][0]["metricTrigger"]
    assert trigger["metricName"] == "ActiveMessages"
    assert trigger["metricResourceUri"] == "jobs-namespace-id"
    assert trigger["dimensions"] == [
        {"dimensionName": "EntityName", "operator": "Equals", "values": ["jobs"]}
    ]
    assert trigger["dividePerInstance"] is True and trigger["threshold"] == 10
    vmss = _scale_set(dev, "filter-worker")
    ip_config = vmss["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][
        0
    ]["ipConfigurations"][0]
    assert ip_config["subnet"] == {"id": "network-worker-id"}
    assert "applicationGatewayBackendAddressPools" not in ip_config
    script = _cloud_config(vmss)["write_files"][0]["content"]
    assert "tierstack_tier: worker" in script


def test_notifications_use_the_smtp_relay_without_keys(dev):
    service = dev.one("azure-native:communication:CommunicationService").inputs
    assert service["disableLocalAuth"] is True
    assert service["linkedDomains"] == ["job-done-domain-id"]
    assert dev.result["mail"] == (
        f"smtp://smtp.azurecomm.net:587?starttls=true&from=DoNotReply@{FROM_DOMAIN}"
    )


def test_alarms_watch_5xx_queue_and_cpu_and_mail_operators(dev):
    group = dev.one("azure-native:monitor:ActionGroup").inputs
    assert group["emailReceivers"][0]["emailAddress"] == "ops@example.org"
    alerts = {
        a.inputs["ruleName"]: a.inputs for a in dev.of_type("azure-native:monitor:MetricAlert")
    }
    assert set(alerts) == {
        "image-processing-dev-gateway-5xx",
        "image-processing-dev-jobs-backlog",
        "image-processing-dev-jobs-dead-letters",
        "image-processing-dev-web-cpu",
        "image-processing-dev-filter-worker-cpu",
    }
    five_xx = alerts["image-processing-dev-gateway-5xx"]
    assert five_xx["scopes"] == ["web-lb-agw-id"]
    criterion = five_xx["criteria"]["allOf"][0]
    assert criterion["metricName"] == "ResponseStatus"
    assert criterion["dimensions"] == [
        {"name": "HttpStatusGroup", "operator": "Include", "values": ["5xx"]}
    ]
    assert alerts["image-processing-dev-web-cpu"]["scopes"] == ["web-vmss-id"]
    for alert in alerts.values():
        assert alert["actions"] == [{"actionGroupId": "alarms-action-group-id"}]


@pytest.fixture(scope="module")
def analytics():
    from tests.stacks.azure.conftest import INVOKES, computed
    from tests.stacks.harness import run_pulumi

    context = make_context(app="mapreduce")
    spec = mapreduce.blueprint().mapreduce

    def program():
        net = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        code = ObjectStore(
            "job-data", ObjectStoreArgs(context, StoreSpec("job-data", "code"), network=net)
        )
        logs = ObjectStore("logs", ObjectStoreArgs(context, StoreSpec("logs", "logs"), network=net))
        queue = Queue(
            "telemetry", QueueArgs(context, QueueSpec("telemetry", "readings"), network=net)
        )
        cluster = MapReduceCluster("hadoop", MapReduceClusterArgs(context, spec, net, code, logs))
        TierIdentity(
            "job-runner-identity",
            TierIdentityArgs(context, "job-runner", [Grant(cluster, "submit")], network=net),
        )
        IoTIngest(
            "ingest",
            IoTIngestArgs(
                context,
                IoTSpec("device-ingest", "d", "devices/+/telemetry", "telemetry"),
                net,
                queue,
            ),
        )
        return {
            "submit_commands": cluster.submit_commands,
            "upload_commands": cluster.upload_commands,
            "physical_name": cluster.physical_name,
            "backend_url": cluster.backend_url,
        }

    return run_pulumi(program, computed=computed, invokes=INVOKES)


def test_hadoop_cluster_is_in_the_vnet_on_identity_based_adls(analytics):
    properties = analytics.one("azure-native:hdinsight:Cluster").inputs["properties"]
    assert properties["clusterDefinition"]["kind"] == "hadoop"
    assert properties["minSupportedTlsVersion"] == "1.2"
    assert properties["networkProperties"] == {
        "resourceProviderConnection": "Outbound",
        "privateLink": "Enabled",
    }
    for role in properties["computeProfile"]["roles"]:
        assert role["virtualNetworkProfile"] == {
            "id": "network-vnet-id",
            "subnet": "network-mapreduce-id",
        }
        assert "password" not in role["osProfile"]["linuxOperatingSystemProfile"]
    workers = [r for r in properties["computeProfile"]["roles"] if r["name"] == "workernode"]
    assert workers[0]["targetInstanceCount"] == 2
    store = properties["storageProfile"]["storageaccounts"][0]
    assert store["isDefault"] is True and store["msiResourceId"] == "hadoop-mi-id"
    assert "key" not in store
    account = analytics.named("hadoop-fs-account").inputs
    assert account["isHnsEnabled"] is True and account["allowSharedKeyAccess"] is False
    assert account["enableHttpsTrafficOnly"] is True and account["minimumTlsVersion"] == "TLS1_2"
    service = analytics.named("hadoop-fs-blob-service").inputs
    assert service["deleteRetentionPolicy"] == {"enabled": True, "days": 14}
    assert "isVersioningEnabled" not in service  # unsupported with a hierarchical namespace
    owner = analytics.named("hadoop-fs-owner").inputs
    assert (owner["scope"], owner["principalId"]) == (
        "hadoop-fs-account-id",
        "principal-mapreduce-dev-hadoop-id",
    )


def test_streaming_job_is_uploaded_scripts_plus_a_submit_command(analytics):
    account = analytics.named("hadoop-fs-account").inputs["accountName"]
    upload = analytics.result["upload_commands"]["inverted-index"].split(" && ")
    assert len(upload) == 2
    for command, script in zip(upload, ("mapper.py", "reducer.py"), strict=True):
        source = "stacks/blueprints/jobs/inverted_index/" + script
        assert (REPO_ROOT / source).is_file()
        assert command == (
            "az storage fs file upload --auth-mode login --overwrite"
            f" --account-name {account} --file-system cluster"
            f" --path jobs/inverted-index/{script} --source {source}"
        )
    fs = f"abfs://cluster@{account}.dfs.core.windows.net"
    command = analytics.result["submit_commands"]["inverted-index"]
    assert command.startswith("hadoop jar /usr/hdp/current/hadoop-mapreduce-client/")
    scripts = f"{fs}/jobs/inverted-index/mapper.py,{fs}/jobs/inverted-index/reducer.py"
    assert f"-files {scripts}" in command
    assert f"-input {fs}/input/ -output {fs}/output/" in command
    assert "-mapper 'python3 mapper.py' -reducer 'python3 reducer.py'" in command


def test_cluster_is_named_like_a_data_component(analytics):
    name = analytics.one("azure-native:hdinsight:Cluster").inputs["clusterName"]
    assert re.fullmatch(r"mapreduce-dev-hadoop-[0-9a-f]{5}", name)
    assert analytics.result["physical_name"] == name
    assert analytics.result["backend_url"] == f"hdinsight://{name}"


def test_submit_grant_is_cluster_operator_on_this_cluster_only(analytics):
    identity = analytics.named("job-runner-identity")
    assignments = [
        r
        for r in analytics.children_of(identity.urn)
        if r.type == "azure-native:authorization:RoleAssignment"
    ]
    assert [a.name for a in assignments] == ["job-runner-hadoop-submit"]
    grant = assignments[0].inputs
    cluster_name = analytics.one("azure-native:hdinsight:Cluster").inputs["clusterName"]
    assert grant["roleAssignmentName"] == stable_guid("job-runner", cluster_name, CLUSTER_OPERATOR)
    assert grant == {
        "roleAssignmentName": grant["roleAssignmentName"],
        "scope": "hadoop-cluster-id",
        "principalId": "principal-mapreduce-dev-job-runner-id",
        "principalType": "ServicePrincipal",
        "roleDefinitionId": f"/subscriptions/{SUBSCRIPTION}/providers/"
        f"Microsoft.Authorization/roleDefinitions/{CLUSTER_OPERATOR}",
    }


@pytest.mark.parametrize("access", ["read", "read-write", "publish"])
def test_cluster_grants_nothing_but_submit(access):
    from tests.stacks.azure.conftest import INVOKES, computed
    from tests.stacks.harness import run_pulumi

    context = make_context(app="mapreduce")
    spec = mapreduce.blueprint().mapreduce

    def program():
        net = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        code = ObjectStore(
            "job-data", ObjectStoreArgs(context, StoreSpec("job-data", "code"), network=net)
        )
        cluster = MapReduceCluster("hadoop", MapReduceClusterArgs(context, spec, net, code, code))
        TierIdentity(
            "web-identity", TierIdentityArgs(context, "web", [Grant(cluster, access)], network=net)
        )

    with pytest.raises(Exception, match=f"grants only 'submit' access, not '{access}'"):
        run_pulumi(program, computed=computed, invokes=INVOKES)


def test_iot_hub_routes_device_messages_to_the_queue_with_its_identity(analytics):
    hub = analytics.one("azure-native:iothub:IotHubResource").inputs
    assert hub["properties"]["minTlsVersion"] == "1.2"
    assert hub["properties"]["disableLocalAuth"] is True
    endpoint = hub["properties"]["routing"]["endpoints"]["serviceBusQueues"][0]
    namespace = analytics.one("azure-native:servicebus:Namespace").inputs["namespaceName"]
    assert endpoint["authenticationType"] == "identityBased"
    assert endpoint["identity"] == {"userAssignedIdentity": "ingest-mi-id"}
    assert endpoint["endpointUri"] == f"sb://{namespace}.servicebus.windows.net"
    assert endpoint["entityPath"] == "telemetry"
    route = hub["properties"]["routing"]["routes"][0]
    assert (route["source"], route["endpointNames"], route["isEnabled"]) == (
        "DeviceMessages",
        [endpoint["name"]],
        True,
    )
    sender = analytics.named("ingest-queue-sender").inputs
    assert sender["scope"] == "telemetry-queue-id"
    assert sender["roleDefinitionId"].endswith(ROLES["service-bus-data-sender"])
