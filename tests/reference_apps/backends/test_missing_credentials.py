"""A VM whose identity has not answered yet (metadata server, managed identity) has no
credentials: each SDK's own error for that is an outage to wait out (a 503 for users, backoff for
workers), not a crash into a restart loop. The errors are raised by the real SDKs, with every
credential source they try unavailable here."""

from __future__ import annotations

import pytest

from reference_apps.backends.resilience import is_outage


def aws_without_credentials() -> BaseException:
    import boto3
    import botocore.config

    session = boto3.Session(aws_access_key_id=None, aws_secret_access_key=None)
    config = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=1)
    client = session.client("sqs", region_name="eu-west-1", config=config)
    with pytest.raises(Exception) as caught:
        client.list_queues()
    return caught.value


def gcp_without_credentials() -> BaseException:
    import google.auth

    with pytest.raises(Exception) as caught:
        google.auth.default()
    return caught.value


def azure_without_credentials() -> BaseException:
    from azure.identity import DefaultAzureCredential

    with pytest.raises(Exception) as caught:
        DefaultAzureCredential(process_timeout=1).get_token("https://storage.azure.com/.default")
    return caught.value


@pytest.mark.parametrize(
    "raise_it", [aws_without_credentials, gcp_without_credentials, azure_without_credentials]
)
def test_no_credentials_yet_is_an_outage(
    raise_it: object, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for variable in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no cached logins of any CLI
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # nothing listens: no metadata server
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:9/token")  # no managed identity
    monkeypatch.setenv("IMDS_ENDPOINT", "http://127.0.0.1:9")
    error = raise_it()  # type: ignore[operator]
    assert is_outage(error), repr(error)
