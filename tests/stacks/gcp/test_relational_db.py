"""RelationalDb: the private database, its generated password and its grants."""

from __future__ import annotations

from pulumi.runtime import rpc

from stacks.blueprints.model import RelationalDb as DbSpec
from stacks.common.args import NetworkArgs, RelationalDbArgs, StackContext
from stacks.common.database_tls import HOST_CA_FILE
from stacks.gcp import Network, RelationalDb
from tests.stacks.gcp.conftest import DB_PRIVATE_IP, DB_SERVER_CA, PROJECT, context_for, run

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
            "admin_password_ref": db.admin_password_ref,
            "admin_user": db.admin_user,
            "host_role_vars": db.host_role_vars,
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
    assert result.result["url"] == (
        f"postgresql://drive_app@{DB_PRIVATE_IP}:5432/drive"
        f"?sslmode=verify-ca&sslrootcert={HOST_CA_FILE}"
    )
    app_password = "generated-drive-db-app-password-Zq8v"
    assert password not in result.result["url"] and app_password not in result.result["url"]
    # The API's user is the admin (a cloudsqlsuperuser member); the app role is made at
    # converge by that admin, never through the API.
    user = result.one("gcp:sql/user:User").inputs
    assert (user["name"], secret_value(user["password"])) == ("tierstack_admin", password)
    assert result.result["admin_user"] == "tierstack_admin"
    versions = {
        v.inputs["secret"]: secret_value(v.inputs["secretData"])
        for v in result.of_type("gcp:secretmanager/secretVersion:SecretVersion")
    }
    assert versions == {
        "drive-db-password-secret-id": password,
        "drive-db-app-password-secret-id": app_password,
    }
    secrets = sorted(
        s.inputs["secretId"] for s in result.of_type("gcp:secretmanager/secret:Secret")
    )
    assert secrets == ["cloud-drive-dev-drive-db-app-password", "cloud-drive-dev-drive-db-password"]
    base = f"gcp-secretmanager://projects/{PROJECT}/secrets/cloud-drive-dev-drive-db"
    assert result.result["password_ref"] == f"{base}-app-password/versions/latest"
    assert result.result["admin_password_ref"] == f"{base}-password/versions/latest"
    assert result.result["ref_secret"] is False
    # The app role's password for the app, the admin's for root's converge step (one service
    # account per VM).
    grants = sorted(
        (g.inputs["secretId"], g.inputs["role"], g.inputs["member"])
        for g in result.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
    )
    assert grants == [
        ("drive-db-app-password-secret-id", "roles/secretmanager.secretAccessor", MEMBER),
        ("drive-db-password-secret-id", "roles/secretmanager.secretAccessor", MEMBER),
    ]


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


def test_hosts_verify_the_server_against_the_instances_own_ca() -> None:
    """TLS only with password authentication (no client certificates), a CA of the instance's
    own (the per-instance CA: cloud.google.com/sql/docs/postgres/authorize-ssl), whose
    certificate the hosts get for the sslrootcert file. verify-ca, not verify-full: Google
    documents hostname verification only by the instance's DNS name, and hosts dial the IP."""
    result, instance = _database(context_for("cloud-drive"))
    ip = instance["settings"]["ipConfiguration"]
    assert (ip["sslMode"], ip["serverCaMode"]) == ("ENCRYPTED_ONLY", "GOOGLE_MANAGED_INTERNAL_CA")
    assert result.result["host_role_vars"] == {"blueprint_host_database_ca": DB_SERVER_CA}
    assert result.result["url"].endswith(f"?sslmode=verify-ca&sslrootcert={HOST_CA_FILE}")


def test_tiers_that_use_the_database_get_its_url_and_ca_and_no_other_tier_does() -> None:
    """The whole program: the hosts of a tier with DATABASE_URL write the instance's CA to the
    file that URL names; a tier without a database writes no CA."""
    from tests.stacks.gcp.support import TEMPLATE, startup_vars
    from tests.stacks.gcp.test_stacks import stack_run

    result = stack_run("gcp-cloud-drive")
    with_db = 0
    for template in result.of_type(TEMPLATE):
        host_vars = startup_vars(template)
        env = host_vars["python_app_env"]
        if "DATABASE_URL" not in env:
            assert "blueprint_host_database_ca" not in host_vars, template.name
            continue
        with_db += 1
        assert env["DATABASE_URL"] == (
            f"postgresql://drive_app@{DB_PRIVATE_IP}:5432/drive"
            f"?sslmode=verify-ca&sslrootcert={HOST_CA_FILE}"
        )
        assert host_vars["blueprint_host_database_ca"] == DB_SERVER_CA
        # The app gets the app role's password; only root's step gets the admin's.
        base = f"gcp-secretmanager://projects/{PROJECT}/secrets/cloud-drive-dev-drive-db"
        assert env["DATABASE_PASSWORD_REF"] == f"{base}-app-password/versions/latest"
        assert host_vars["blueprint_host_database_admin_user"] == "tierstack_admin"
        assert host_vars["blueprint_host_database_admin_password_ref"] == (
            f"{base}-password/versions/latest"
        )
        assert f"{base}-password/versions/latest" not in env.values()
        assert "tierstack_admin" not in env["DATABASE_URL"]
    assert with_db >= 1
