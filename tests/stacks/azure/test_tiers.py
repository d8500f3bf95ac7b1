"""AppTier, WorkerTier and TierIdentity on Azure: scale sets, autoscale and grants, resolved."""

from __future__ import annotations

import base64

import yaml

from stacks.azure.common import ROLES
from tests.playbook_check import boot_vars
from tests.stacks.azure.conftest import SUBSCRIPTION

FORBIDDEN_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
    "b24988ac-6180-42a0-ab88-20f7a0b0d1ca",  # Contributor
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
}


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
    # The app verifies the server's certificate and name against the roots the host writes from
    # its distribution's CA store (blueprint_host).
    assert host_vars["python_app_env"]["DATABASE_URL"].endswith(
        "?sslmode=verify-full&sslrootcert=/etc/tierstack/database-ca.pem"
    )
    assert host_vars["blueprint_host_database_ca_system_roots"] == [
        "DigiCert_Global_Root_G2",
        "Microsoft_RSA_Root_Certificate_Authority_2017",
        "DigiCert_Global_Root_CA",
    ]
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
