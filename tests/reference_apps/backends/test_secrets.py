"""Secret references (SECRET_KEY_REF, DATABASE_PASSWORD_REF) resolved at start.

AWS Secrets Manager is the real moto server over HTTP. Google Secret Manager and Azure Key Vault
have no emulator on this machine: their readers are tested against the SDKs' own client classes
as autospec doubles, which checks the calls we make against the real signatures.
"""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import boto3
import psycopg
import pytest
from azure.keyvault.secrets import SecretClient
from google.cloud import secretmanager

from reference_apps.backends import ConfigError, Settings, secrets
from reference_apps.cloud_drive import create_app

SESSION_KEY = "k" * 24 + "0123456789abcdefghijKLMNOPQRST"  # 54 characters
DB_PASSWORD = "p@ss:w/rd#?%&=+ with spaces"  # every character a URL must escape


@pytest.fixture
def aws_secrets(aws_env: str) -> dict[str, str]:
    """A plain session key and a JSON database secret in the moto server; their ARNs."""
    client = boto3.client("secretsmanager", region_name="us-east-1")
    key = client.create_secret(Name=f"key-{id(client)}", SecretString=SESSION_KEY)
    db = client.create_secret(
        Name=f"db-{id(client)}",
        SecretString=json.dumps({"username": "drive_app", "password": DB_PASSWORD}),
    )
    return {"key": key["ARN"], "db": db["ARN"]}


def test_aws_references_become_the_key_and_the_database_password(
    aws_secrets: dict[str, str],
) -> None:
    settings = Settings.from_env(
        "cloud-drive",
        {
            "APP_ENV": "production",
            "SECRET_KEY_REF": f"aws-secretsmanager://{aws_secrets['key']}",
            "DATABASE_URL": "postgresql://drive_app@db.internal:5432/drive?sslmode=require",
            "DATABASE_PASSWORD_REF": f"aws-secretsmanager://{aws_secrets['db']}#password",
        },
    )
    assert settings.secret_key == SESSION_KEY
    conninfo = psycopg.conninfo.conninfo_to_dict(settings.database_url.raw)
    assert conninfo == {
        "user": "drive_app",
        "password": DB_PASSWORD,
        "host": "db.internal",
        "port": "5432",
        "dbname": "drive",
        "sslmode": "require",
    }


def test_an_app_starts_on_references_and_reaches_its_database(
    aws_secrets: dict[str, str], postgres_dsn: str, tmp_path: Any
) -> None:
    """cloud-drive with a referenced key and password, against the real PostgreSQL (trust
    authentication, so the connection proves the URL, the quoting test above the password)."""
    app = create_app(
        {
            "APP_ENV": "production",
            "DATA_DIR": str(tmp_path),
            "OBJECT_STORE_URL": f"file://{tmp_path}/objects",
            "SECRET_KEY_REF": f"aws-secretsmanager://{aws_secrets['key']}",
            "DATABASE_URL": postgres_dsn,
            "DATABASE_PASSWORD_REF": f"aws-secretsmanager://{aws_secrets['db']}#password",
        }
    )
    assert app.config["SECRET_KEY"] == SESSION_KEY
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_missing_aws_secret_stops_the_app_with_one_line(aws_env: str) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nothing-AbCdEf"
    with pytest.raises(ConfigError) as error:
        Settings.from_env("cloud-drive", {"SECRET_KEY_REF": f"aws-secretsmanager://{arn}"})
    message = str(error.value)
    assert message.startswith(f"configuration error: SECRET_KEY_REF=aws-secretsmanager://{arn}")
    assert "cannot read the secret (ResourceNotFoundException" in message
    assert "\n" not in message


def test_a_json_key_the_secret_lacks_is_named(aws_secrets: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="the secret has no key 'pass'"):
        Settings.from_env(
            "cloud-drive",
            {
                "DATABASE_URL": "postgresql://drive_app@db/drive",
                "DATABASE_PASSWORD_REF": f"aws-secretsmanager://{aws_secrets['db']}#pass",
            },
        )
    with pytest.raises(ConfigError, match="the secret is not JSON, drop #password"):
        Settings.from_env(
            "cloud-drive", {"SECRET_KEY_REF": f"aws-secretsmanager://{aws_secrets['key']}#password"}
        )


def test_gcp_reference_reads_the_named_version(monkeypatch: pytest.MonkeyPatch) -> None:
    client = mock.create_autospec(secretmanager.SecretManagerServiceClient, instance=True)
    client.access_secret_version.return_value = secretmanager.AccessSecretVersionResponse(
        payload=secretmanager.SecretPayload(data=SESSION_KEY.encode())
    )
    monkeypatch.setattr(secrets, "gcp_client", lambda: client)
    name = "projects/demo/secrets/cloud-drive-dev-session-key/versions/latest"
    settings = Settings.from_env(
        "cloud-drive", {"APP_ENV": "production", "SECRET_KEY_REF": f"gcp-secretmanager://{name}"}
    )
    assert settings.secret_key == SESSION_KEY
    client.access_secret_version.assert_called_once_with(name=name)


def test_azure_reference_reads_the_secret_from_its_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    client = mock.create_autospec(SecretClient, instance=True)
    client.get_secret.return_value = mock.Mock(value=DB_PASSWORD)
    opened: list[str] = []

    def open_vault(url: str) -> Any:
        opened.append(url)
        return client

    monkeypatch.setattr(secrets, "azure_client", open_vault)
    settings = Settings.from_env(
        "cloud-drive",
        {
            "DATABASE_URL": "postgresql://tierstack@pg.private.postgres.database.azure.com/drive",
            "DATABASE_PASSWORD_REF": "azure-keyvault://kv-drive-dev.vault.azure.net/drive-db-admin",
        },
    )
    assert opened == ["https://kv-drive-dev.vault.azure.net"]
    client.get_secret.assert_called_once_with("drive-db-admin")
    assert psycopg.conninfo.conninfo_to_dict(settings.database_url.raw)["password"] == DB_PASSWORD


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SECRET_KEY_REF": "vault://x"}, "SECRET_KEY_REF=vault://x: not a secret reference"),
        ({"SECRET_KEY_REF": "aws-secretsmanager://"}, "not a secret reference"),
        (
            {"SECRET_KEY": "s" * 40, "SECRET_KEY_REF": "aws-secretsmanager://x"},
            "SECRET_KEY and SECRET_KEY_REF are both set: keep one",
        ),
        (
            {"DATABASE_PASSWORD_REF": "aws-secretsmanager://x"},
            "DATABASE_PASSWORD_REF needs DATABASE_URL=postgresql://<user>@<host>/<db>",
        ),
        (
            {
                "DATABASE_URL": "postgresql://u:inline@db/x",
                "DATABASE_PASSWORD_REF": "aws-secretsmanager://x",
            },
            "DATABASE_URL has a password and DATABASE_PASSWORD_REF is set: keep one",
        ),
        (
            {"SECRET_KEY_REF": "gcp-secretmanager://projects/p/secrets/s"},
            "use gcp-secretmanager://projects/<project>/secrets/<id>/versions/<version>",
        ),
        (
            {"SECRET_KEY_REF": "azure-keyvault://evil.example.com/key"},
            "use azure-keyvault://<vault>.vault.azure.net/<secret name>",
        ),
    ],
)
def test_bad_references_name_the_variable_and_the_fix(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env("cloud-drive", env)
    assert expected in str(error.value)


def test_an_empty_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    client = mock.create_autospec(SecretClient, instance=True)
    client.get_secret.return_value = mock.Mock(value="")
    monkeypatch.setattr(secrets, "azure_client", lambda url: client)
    with pytest.raises(ConfigError, match="the secret is empty"):
        Settings.from_env(
            "cloud-drive", {"SECRET_KEY_REF": "azure-keyvault://kv1.vault.azure.net/k"}
        )


def test_a_secret_value_never_reaches_the_error_message(aws_secrets: dict[str, str]) -> None:
    for env in (
        {"SECRET_KEY_REF": f"aws-secretsmanager://{aws_secrets['key']}#password"},
        {
            "DATABASE_URL": "postgresql://drive_app@db/drive",
            "DATABASE_PASSWORD_REF": f"aws-secretsmanager://{aws_secrets['db']}#pass",
        },
    ):
        with pytest.raises(ConfigError) as error:
            Settings.from_env("cloud-drive", env)
        assert SESSION_KEY not in str(error.value)
        assert DB_PASSWORD not in str(error.value)


def test_workers_need_no_session_key_in_production() -> None:
    Settings.from_env("image-processing", {"APP_ENV": "production"}, web=False)
    with pytest.raises(ConfigError, match="SECRET_KEY must be set"):
        Settings.from_env("image-processing", {"APP_ENV": "production"})
