"""RelationalDb: the private database, its generated password and its grants."""

from __future__ import annotations

import json

import pulumi

from stacks.aws import RelationalDb
from stacks.blueprints import model
from stacks.common.args import RelationalDbArgs
from tests.stacks.aws.conftest import ACCOUNT, MOCK_DB_PASSWORD, REGION, computed
from tests.stacks.aws.support import is_secret, network
from tests.stacks.harness import run_pulumi


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
        }

    return run_pulumi(program, computed=computed)


def test_relational_db_private_encrypted_with_secret_password(context):
    run = _database(context)
    host = f"image-processing-dev-drive-db.c0ffee.{REGION}.rds.amazonaws.com"
    assert run.result["endpoint"] == host
    assert run.result["url"] == f"postgresql://tierstack@{host}:5432/drive?sslmode=require"
    assert MOCK_DB_PASSWORD not in run.result["url"]
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
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion").inputs["secretString"]
    assert is_secret(version)
    assert json.loads(version["value"])["password"] == MOCK_DB_PASSWORD
    group = run.one("aws:ec2/securityGroup:SecurityGroup", "drive-db").inputs
    assert "ingress" not in group or not group["ingress"]
    [grant] = run.result["grant"]
    assert grant["Resource"] == [
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
        "tierstack/image-processing-dev-drive-db/master-AbCdEf"
    ]


def test_relational_db_prod_is_multi_az_and_protected(prod_context):
    db = _database(prod_context).one("aws:rds/instance:Instance").inputs
    assert db["multiAz"] is True
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"] == "image-processing-prod-drive-db-final"
    assert db["instanceClass"] == "db.m6g.large"
    assert db["backupRetentionPeriod"] == 14
