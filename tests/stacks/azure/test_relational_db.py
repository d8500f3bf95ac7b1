"""RelationalDb: the private PostgreSQL server, its password and its grant."""

from __future__ import annotations

from pathlib import Path

import yaml

from stacks.common.database_tls import HOST_CA_FILE, VERIFY_FULL

REPO_ROOT = Path(__file__).resolve().parents[3]

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def plain(value):
    """A secret input is recorded in Pulumi's secret envelope; the test reads what is inside."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return value["value"]
    return value


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
        f"postgresql://app_app@{dev.result['endpoint']}:5432/app"
        "?sslmode=verify-full&sslrootcert=/etc/tierstack/database-ca.pem"
    )
    # The server's certificate names <server>.postgres.database.azure.com: the URL uses that name.
    assert dev.result["endpoint"].endswith(".postgres.database.azure.com")
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


def test_the_ca_file_in_the_url_is_the_one_the_hosts_write():
    defaults = yaml.safe_load((REPO_ROOT / "roles/blueprint_host/defaults/main.yml").read_text())
    assert defaults["blueprint_host_database_ca_file"] == HOST_CA_FILE
    assert f"sslrootcert={HOST_CA_FILE}" in VERIFY_FULL
