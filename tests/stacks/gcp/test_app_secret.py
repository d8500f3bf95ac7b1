"""AppSecret: the generated value in the cloud's secret store and its read grant."""

from __future__ import annotations

import pytest
from pulumi.runtime import rpc

from stacks.common.args import AppSecretArgs, StackContext
from stacks.gcp import AppSecret
from tests.stacks.gcp.conftest import PROJECT, run

MEMBER = "serviceAccount:tier@tierstack-dev.iam.gserviceaccount.com"
GOVERNANCE = {
    "project": "tierstack",
    "app": "image-processing",
    "env": "dev",
    "owner": "platform-team",
    "cost-center": "unassigned",
}


def secret_value(wire: object) -> object:
    """The value of an input that was sent to the engine marked secret; fails if it was not."""
    assert isinstance(wire, dict), f"sent in plain text: {wire!r}"
    assert wire.get(rpc._special_sig_key) == rpc._special_secret_sig, f"not a secret: {wire!r}"
    return wire["value"]


def test_app_secret_is_a_generated_secret_kept_in_secret_manager(context: StackContext) -> None:
    def program() -> dict:
        key = AppSecret("web-session-key", AppSecretArgs(context, "session signing key"))
        key.bind("web-web-session-key-read", MEMBER, "read", key)
        return {
            "value": key.value,
            "secret": key.value.is_secret(),
            "ref": key.ref,
            "ref_secret": key.ref.is_secret(),
            "physical_name": key.physical_name,
        }

    result = run(program)
    generated = result.one("random:index/randomPassword:RandomPassword", "web-session-key-value")
    assert (generated.inputs["length"], generated.inputs["special"]) == (48, False)
    value = result.result["value"]
    assert len(value) == 48 and value.isascii() and value.isalnum()
    assert result.result["secret"] is True
    secret = result.one("gcp:secretmanager/secret:Secret").inputs
    assert secret["secretId"] == "image-processing-dev-web-session-key"
    assert secret["replication"] == {"userManaged": {"replicas": [{"location": "europe-west1"}]}}
    assert secret["labels"] == GOVERNANCE
    assert secret["annotations"] == {"description": "session signing key"}
    version = result.one("gcp:secretmanager/secretVersion:SecretVersion").inputs
    assert version["secret"] == "web-session-key-secret-id"
    assert secret_value(version["secretData"]) == value
    assert result.result["physical_name"] == "image-processing-dev-web-session-key"
    assert result.result["ref"] == (
        f"gcp-secretmanager://projects/{PROJECT}/secrets/image-processing-dev-web-session-key"
        "/versions/latest"
    )
    assert result.result["ref_secret"] is False
    assert value not in result.result["ref"]
    grant = result.one("gcp:secretmanager/secretIamMember:SecretIamMember").inputs
    assert (grant["secretId"], grant["role"], grant["member"]) == (
        "web-session-key-secret-id",
        "roles/secretmanager.secretAccessor",
        MEMBER,
    )


def test_app_secret_refuses_any_access_but_read(context: StackContext) -> None:
    def program() -> None:
        key = AppSecret("web-session-key", AppSecretArgs(context, "session signing key"))
        key.bind("bad", MEMBER, "read-write", key)

    with pytest.raises(Exception, match="app secret web-session-key: access 'read-write'"):
        run(program)
