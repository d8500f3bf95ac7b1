"""AppSecret and RelationalDb.password_ref: generated values in Secrets Manager, handed to hosts
as references (aws-secretsmanager://<ARN>[#key]) that are plain, never secret, outputs."""

from __future__ import annotations

import pulumi
import pytest

from stacks.aws import AppSecret, RelationalDb, TierIdentity
from stacks.blueprints import model
from stacks.common.args import AppSecretArgs, Grant, RelationalDbArgs, TierIdentityArgs
from tests.stacks.aws.conftest import ACCOUNT, MOCK_APP_SECRET_SEED, REGION, computed
from tests.stacks.aws.support import is_secret, network
from tests.stacks.harness import run_pulumi

GOVERNANCE = {"project", "app", "env", "owner", "cost-center"}
SECRET_ARN = (
    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
    "tierstack/image-processing-dev/web-session-key-AbCdEf"
)
DB_APP_SECRET_ARN = (
    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
    "tierstack/image-processing-dev-drive-db/app-AbCdEf"
)


def _is_secret(output: pulumi.Output) -> pulumi.Output[bool]:
    return pulumi.Output.from_input(output.is_secret())


def _session_key(context, purpose: str = "session signing key"):
    def program():
        key = AppSecret("web-session-key", AppSecretArgs(context, purpose))
        return {
            "name": key.physical_name,
            "arn": key.arn,
            "ref": key.ref,
            "ref_is_secret": _is_secret(key.ref),
            "value": key.value,
            "value_is_secret": _is_secret(key.value),
            "grant": key.policy_statements("read"),
        }

    return run_pulumi(program, computed=computed)


def test_app_secret_is_a_random_alnum_value_kept_secret_in_secrets_manager(context):
    run = _session_key(context, "session signing key (SECRET_KEY) of the web tier")
    generated = run.one("random:index/randomPassword:RandomPassword", "web-session-key").inputs
    assert (generated["length"], generated["special"]) == (48, False)
    value = run.result["value"]
    assert len(value) == 48 and value.isalnum() and value.startswith(MOCK_APP_SECRET_SEED)
    assert run.result["value_is_secret"] is True
    secret = run.one("aws:secretsmanager/secret:Secret", "web-session-key").inputs
    assert secret["name"] == "tierstack/image-processing-dev/web-session-key"
    assert secret["description"] == "session signing key (SECRET_KEY) of the web tier"
    assert secret["recoveryWindowInDays"] == 0
    assert "kmsKeyId" not in secret  # aws/secretsmanager, like the database's secret
    assert set(secret["tags"]) >= GOVERNANCE
    assert secret["tags"]["Name"] == "image-processing-dev-web-session-key"
    version = run.one("aws:secretsmanager/secretVersion:SecretVersion", "web-session-key")
    assert version.inputs["secretId"] == "web-session-key-id"
    assert is_secret(version.inputs["secretString"])
    assert version.inputs["secretString"]["value"] == value
    component = run.one("tierstack:aws:AppSecret", "web-session-key")
    assert {r.type for r in run.children_of(component.urn)} == {
        "random:index/randomPassword:RandomPassword",
        "aws:secretsmanager/secret:Secret",
        "aws:secretsmanager/secretVersion:SecretVersion",
    }


def test_app_secret_ref_names_the_secret_arn_and_is_not_a_secret(context):
    run = _session_key(context)
    assert run.result["name"] == "tierstack/image-processing-dev/web-session-key"
    assert run.result["arn"] == SECRET_ARN
    assert run.result["ref"] == f"aws-secretsmanager://{SECRET_ARN}"
    assert run.result["ref_is_secret"] is False
    assert MOCK_APP_SECRET_SEED not in run.result["ref"]


def test_app_secret_grants_read_of_this_secret_only(context):
    run = _session_key(context)
    assert run.result["grant"] == [
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": [SECRET_ARN],
        }
    ]


@pytest.mark.parametrize("access", ["read-write", "write", "consume", "submit"])
def test_app_secret_refuses_any_access_but_read(context, access):
    def program():
        key = AppSecret("web-session-key", AppSecretArgs(context, "k"))
        with pytest.raises(ValueError, match="only 'read'"):
            TierIdentity("web-identity", TierIdentityArgs(context, "web", [Grant(key, access)]))

    run_pulumi(program, computed=computed)


def test_app_secret_in_prod_keeps_a_recovery_window(prod_context):
    run = _session_key(prod_context)
    secret = run.one("aws:secretsmanager/secret:Secret", "web-session-key").inputs
    assert secret["name"] == "tierstack/image-processing-prod/web-session-key"
    assert secret["recoveryWindowInDays"] == 7


def test_relational_db_password_ref_points_at_the_password_key_of_its_secret(context):
    def program():
        db = RelationalDb(
            "drive-db",
            RelationalDbArgs(
                context, model.RelationalDb("drive-db", "t", "drive"), network(context)
            ),
        )
        return {"ref": db.password_ref, "ref_is_secret": _is_secret(db.password_ref)}

    run = run_pulumi(program, computed=computed)
    assert run.result == {
        "ref": f"aws-secretsmanager://{DB_APP_SECRET_ARN}#password",
        "ref_is_secret": False,
    }
