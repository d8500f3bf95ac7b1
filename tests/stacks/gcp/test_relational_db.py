"""RelationalDb: the private database, its generated password and its grants."""

from __future__ import annotations

from pulumi.runtime import rpc

from stacks.blueprints.model import RelationalDb as DbSpec
from stacks.common.args import NetworkArgs, RelationalDbArgs, StackContext
from stacks.gcp import Network, RelationalDb
from tests.stacks.gcp.conftest import DB_PRIVATE_IP, PROJECT, context_for, run

MEMBER = "serviceAccount:tier@tierstack-dev.iam.gserviceaccount.com"


def secret_value(wire: object) -> object:
    """The value of an input that was sent to the engine marked secret; fails if it was not."""
    assert isinstance(wire, dict), f"sent in plain text: {wire!r}"
    assert wire.get(rpc._special_sig_key) == rpc._special_secret_sig, f"not a secret: {wire!r}"
    return wire["value"]


def _database(context: StackContext) -> tuple:
    def program() -> dict:
        network = Network("network", NetworkArgs(context, "10.40.0.0/16"))
        db = RelationalDb(
            "drive-db", RelationalDbArgs(context, DbSpec("drive-db", "t", "drive"), network)
        )
        db.bind("web-drive-db-read-write", MEMBER, "read-write", db)
        return {
            "url": db.backend_url,
            "endpoint": db.endpoint,
            "password": db.password,
            "secret": db.password.is_secret(),
            "password_ref": db.password_ref,
            "ref_secret": db.password_ref.is_secret(),
        }

    result = run(program)
    return result, result.one("gcp:sql/databaseInstance:DatabaseInstance").inputs


def test_database_is_private_tls_only_backed_up_and_its_password_secret() -> None:
    result, instance = _database(context_for("cloud-drive"))
    settings = instance["settings"]
    assert settings["ipConfiguration"]["ipv4Enabled"] is False
    assert settings["ipConfiguration"]["privateNetwork"] == "vpc-id"
    assert settings["ipConfiguration"]["sslMode"] == "ENCRYPTED_ONLY"
    backups = settings["backupConfiguration"]
    assert backups["enabled"] is True
    assert backups["pointInTimeRecoveryEnabled"] is True
    assert backups["backupRetentionSettings"]["retainedBackups"] == 7
    assert (settings["availabilityType"], instance["deletionProtection"]) == ("ZONAL", False)
    assert instance["databaseVersion"] == "POSTGRES_16"
    assert settings["userLabels"]["app"] == "cloud-drive"
    password = "generated-drive-db-password-Zq8v"
    assert result.result["secret"] is True
    assert result.result["password"] == password
    assert (
        result.result["url"] == f"postgresql://drive_app@{DB_PRIVATE_IP}:5432/drive?sslmode=require"
    )
    assert password not in result.result["url"]
    assert secret_value(result.one("gcp:sql/user:User").inputs["password"]) == password
    version = result.one("gcp:secretmanager/secretVersion:SecretVersion").inputs
    assert version["secret"] == "drive-db-password-secret-id"
    assert secret_value(version["secretData"]) == password
    secret = result.one("gcp:secretmanager/secret:Secret").inputs
    assert secret["secretId"] == "cloud-drive-dev-drive-db-password"
    assert result.result["password_ref"] == (
        f"gcp-secretmanager://projects/{PROJECT}/secrets/cloud-drive-dev-drive-db-password"
        "/versions/latest"
    )
    assert result.result["ref_secret"] is False
    grant = result.one("gcp:secretmanager/secretIamMember:SecretIamMember").inputs
    assert (grant["secretId"], grant["role"], grant["member"]) == (
        "drive-db-password-secret-id",
        "roles/secretmanager.secretAccessor",
        MEMBER,
    )


def test_prod_database_is_regional_and_deletion_protected() -> None:
    _, instance = _database(
        context_for("cloud-drive", env="prod", certificate="d.example.com", repoRef="a" * 40)
    )
    settings = instance["settings"]
    assert settings["availabilityType"] == "REGIONAL"
    assert instance["deletionProtection"] is True
    assert settings["deletionProtectionEnabled"] is True
    assert settings["tier"] == "db-custom-2-7680"
    assert settings["backupConfiguration"]["backupRetentionSettings"]["retainedBackups"] == 14
