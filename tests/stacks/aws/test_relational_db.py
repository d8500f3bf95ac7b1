"""RelationalDb: the private database, its generated password and its grants."""

from __future__ import annotations

import json

import pulumi
import pytest

from stacks.aws import RelationalDb
from stacks.aws.relational_db import CA_BUNDLE_PATH, region_root
from stacks.blueprints import model
from stacks.common.args import RelationalDbArgs
from stacks.common.database_tls import HOST_CA_FILE
from tests.stacks.aws.conftest import (
    ACCOUNT,
    MOCK_DB_APP_PASSWORD,
    MOCK_DB_PASSWORD,
    REGION,
    computed,
)
from tests.stacks.aws.support import is_secret, network, user_data
from tests.stacks.harness import run_pulumi, run_stack


def _database(context):
    def program():
        db = RelationalDb(
            "drive-db",
            RelationalDbArgs(
                context, model.RelationalDb("drive-db", "t", "drive"), network(context)
            ),
        )
        return {
            "endpoint": db.endpoint,
            "url": db.backend_url,
            "password_is_secret": pulumi.Output.from_input(db.password.is_secret()),
            "grant": db.policy_statements("read-write"),
            "password_ref": db.password_ref,
            "admin_password_ref": db.admin_password_ref,
            "admin_user": db.admin_user,
            "host_role_vars": db.host_role_vars,
        }

    return run_pulumi(program, computed=computed)


def test_relational_db_private_encrypted_with_secret_password(context):
    run = _database(context)
    host = f"image-processing-dev-drive-db.c0ffee.{REGION}.rds.amazonaws.com"
    assert run.result["endpoint"] == host
    assert run.result["url"] == (
        f"postgresql://drive_app@{host}:5432/drive?sslmode=verify-full&sslrootcert={HOST_CA_FILE}"
    )
    assert MOCK_DB_PASSWORD not in run.result["url"]
    assert MOCK_DB_APP_PASSWORD not in run.result["url"]
    assert run.result["password_is_secret"] is True
    db = run.one("aws:rds/instance:Instance").inputs
    assert db["publiclyAccessible"] is False
    assert db["storageEncrypted"] is True
    assert db["engine"] == "postgres" and db["engineVersion"] == "16"
    assert db["backupRetentionPeriod"] == 7
    assert (db["multiAz"], db["deletionProtection"], db["skipFinalSnapshot"]) == (
        False,
        False,
        True,
    )
    assert is_secret(db["password"])
    subnets = run.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]
    assert subnets == ["network-private-0-id", "network-private-1-id"]
    params = run.one("aws:rds/parameterGroup:ParameterGroup").inputs
    assert params["family"] == "postgres16"
    assert {"name": "rds.force_ssl", "value": "1"} in params["parameters"]
    secrets = {
        s.name: json.loads(s.inputs["secretString"]["value"])
        for s in run.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if is_secret(s.inputs["secretString"])
    }
    assert {name: (v["username"], v["password"]) for name, v in secrets.items()} == {
        "drive-db": ("tierstack", MOCK_DB_PASSWORD),
        "drive-db-app": ("drive_app", MOCK_DB_APP_PASSWORD),
    }
    arn = (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tierstack/image-processing-dev-drive-db"
    )
    assert run.result["password_ref"] == f"aws-secretsmanager://{arn}/app-AbCdEf#password"
    assert run.result["admin_password_ref"] == (
        f"aws-secretsmanager://{arn}/master-AbCdEf#password"
    )
    assert run.result["admin_user"] == "tierstack"
    group = run.one("aws:ec2/securityGroup:SecurityGroup", "drive-db").inputs
    assert "ingress" not in group or not group["ingress"]
    # The app role's secret, and the master's for root's converge step (one identity per VM).
    [grant] = run.result["grant"]
    assert grant["Resource"] == [f"{arn}/app-AbCdEf", f"{arn}/master-AbCdEf"]


def test_relational_db_prod_is_multi_az_and_protected(prod_context):
    db = _database(prod_context).one("aws:rds/instance:Instance").inputs
    assert db["multiAz"] is True
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"] == "image-processing-prod-drive-db-final"
    assert db["instanceClass"] == "db.m6g.large"
    assert db["backupRetentionPeriod"] == 14


def test_hosts_verify_the_server_against_the_pinned_rds_root(context):
    """rds-ca-rsa2048-g1 certificates chain to "Amazon RDS <region> Root CA RSA2048 G1"
    (docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html), which no
    distribution carries: the hosts write the role's bundle, which holds the region's root."""
    run = _database(context)
    assert run.one("aws:rds/instance:Instance").inputs["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    assert run.result["host_role_vars"] == {
        "blueprint_host_database_ca_bundles": [CA_BUNDLE_PATH.name]
    }
    assert region_root(REGION) == f"Amazon RDS {REGION} Root CA RSA2048 G1"
    assert "Source: https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem" in (
        CA_BUNDLE_PATH.read_text()
    )


def test_a_region_whose_root_the_bundle_lacks_fails_the_preview():
    with pytest.raises(ValueError, match="Amazon RDS xx-nowhere-1 Root CA RSA2048 G1"):
        region_root("xx-nowhere-1")


def test_tiers_that_use_the_database_get_its_url_and_the_bundle_and_no_other_tier_does():
    run = run_stack("aws-cloud-drive", computed=computed)
    host = "cloud-drive-dev-drive-db.c0ffee.eu-west-1.rds.amazonaws.com"
    with_db = 0
    for template in run.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
        host_vars = user_data(template)[2]
        env = host_vars["python_app_env"]
        if "DATABASE_URL" not in env:
            assert "blueprint_host_database_ca_bundles" not in host_vars, template.name
            continue
        with_db += 1
        assert env["DATABASE_URL"] == (
            f"postgresql://drive_app@{host}:5432/drive"
            f"?sslmode=verify-full&sslrootcert={HOST_CA_FILE}"
        )
        assert host_vars["blueprint_host_database_ca_bundles"] == [CA_BUNDLE_PATH.name]
        # The app gets the app role's password; only root's step gets the master's.
        arn = (
            f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:tierstack/cloud-drive-dev-drive-db"
        )
        assert env["DATABASE_PASSWORD_REF"] == f"aws-secretsmanager://{arn}/app-AbCdEf#password"
        assert host_vars["blueprint_host_database_admin_user"] == "tierstack"
        assert host_vars["blueprint_host_database_admin_password_ref"] == (
            f"aws-secretsmanager://{arn}/master-AbCdEf#password"
        )
        assert not any("/master-" in str(value) for value in env.values()), env
    assert with_db >= 1
