"""AppTier on Azure: the scale set behind the gateway, its boot and CPU autoscale, resolved."""

from __future__ import annotations

import base64

from tests.playbook_check import boot_vars
from tests.stacks.azure.support import cloud_config, scale_set_inputs


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


def test_app_scale_set_is_private_identity_bound_and_boots_ansible(dev):
    vmss = scale_set_inputs(dev, "web")
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
    document = cloud_config(vmss)
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
    assert scale_set_inputs(prod, "web")["sku"] == {
        "name": "Standard_D2s_v5",
        "tier": "Standard",
        "capacity": 2,
    }
