"""Secret references: settings whose values live in the cloud's secret store.

Cloud hosts never receive a secret in their user data. The stacks give them references instead,
and the app reads each value at start with the host's own identity (instance role, service
account, managed identity), so a secret can be rotated without touching a host:

  SECRET_KEY_REF=<reference>         becomes SECRET_KEY
  DATABASE_PASSWORD_REF=<reference>  becomes the password inside DATABASE_URL
  SMTP_PASSWORD_REF=<reference>      becomes SMTP_PASSWORD (the mail relay's password)

A reference is one of
  aws-secretsmanager://<secret ARN or name>[#<key of a JSON secret>]
  gcp-secretmanager://projects/<project>/secrets/<id>/versions/<version>
  azure-keyvault://<vault>.vault.azure.net/<secret name>
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from .settings import ConfigError, redact

FORMS = (
    "aws-secretsmanager://<secret ARN>[#<JSON key>], "
    "gcp-secretmanager://projects/<project>/secrets/<id>/versions/<version> or "
    "azure-keyvault://<vault>.vault.azure.net/<secret name>"
)
GCP_NAME = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")
AZURE_VAULT = re.compile(r"^[a-z0-9-]{3,24}\.vault\.(azure\.net|azure\.cn|usgovcloudapi\.net)$")
AWS_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):")


def resolve_references(env: Mapping[str, str]) -> dict[str, str]:
    """The environment with every *_REF setting replaced by the secret it points to."""
    resolved = dict(env)
    key_ref = resolved.get("SECRET_KEY_REF", "").strip()
    if key_ref:
        if resolved.get("SECRET_KEY"):
            raise ConfigError("SECRET_KEY and SECRET_KEY_REF are both set: keep one")
        resolved["SECRET_KEY"] = read_secret("SECRET_KEY_REF", key_ref)
    smtp_ref = resolved.get("SMTP_PASSWORD_REF", "").strip()
    if smtp_ref:
        if resolved.get("SMTP_PASSWORD"):
            raise ConfigError("SMTP_PASSWORD and SMTP_PASSWORD_REF are both set: keep one")
        resolved["SMTP_PASSWORD"] = read_secret("SMTP_PASSWORD_REF", smtp_ref)
    password_ref = resolved.get("DATABASE_PASSWORD_REF", "").strip()
    if password_ref:
        database_url = resolved.get("DATABASE_URL", "")
        parts = urlsplit(database_url)
        if parts.scheme != "postgresql" or not parts.username:
            raise ConfigError(
                "DATABASE_PASSWORD_REF needs DATABASE_URL=postgresql://<user>@<host>/<db>"
                f" (got {redact(database_url) or 'nothing'})"
            )
        if parts.password:
            raise ConfigError(
                "DATABASE_URL has a password and DATABASE_PASSWORD_REF is set: keep one"
            )
        password = read_secret("DATABASE_PASSWORD_REF", password_ref)
        host = parts.hostname or ""
        netloc = f"{parts.username}:{quote(password, safe='')}@{host}"
        if parts.port:
            netloc += f":{parts.port}"
        resolved["DATABASE_URL"] = urlunsplit(parts._replace(netloc=netloc))
    return resolved


class SecretUnavailable(ConfigError):
    """The store did not answer or refused (network, or an identity whose grant has not
    propagated yet on a fresh VM): unlike a malformed reference, worth trying again."""


def read_secret(variable: str, reference: str) -> str:
    """The secret's value, or a ConfigError naming the variable and what went wrong."""
    scheme, _, rest = reference.partition("://")
    reader = READERS.get(scheme)
    if reader is None or not rest:
        raise ConfigError(f"{variable}={reference}: not a secret reference (use {FORMS})")
    try:
        value = reader(variable, reference, rest)
    except ConfigError:
        raise
    except Exception as error:  # any SDK or network failure becomes one line at start
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise SecretUnavailable(
            f"{variable}={reference}: cannot read the secret ({type(error).__name__}"
            + (f": {reason})" if reason else ")")
        ) from None
    if not value:
        raise ConfigError(f"{variable}={reference}: the secret is empty")
    return value


def _aws(variable: str, reference: str, rest: str) -> str:
    secret_id, _, json_key = rest.partition("#")
    region = AWS_ARN_REGION.match(secret_id)
    client = aws_client(region.group(1) if region else None)
    text = client.get_secret_value(SecretId=secret_id)["SecretString"]
    if not json_key:
        return str(text)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(
            f"{variable}={reference}: the secret is not JSON, drop #{json_key}"
        ) from None
    if not isinstance(document, dict) or json_key not in document:
        raise ConfigError(f"{variable}={reference}: the secret has no key {json_key!r}")
    return str(document[json_key])


def aws_client(region: str | None) -> Any:
    """Secrets Manager client; the endpoint and credentials follow boto3's usual environment.
    Each cloud's SDK is imported only when a reference to that cloud is used."""
    import boto3

    return boto3.client("secretsmanager", region_name=region)


def _gcp(variable: str, reference: str, rest: str) -> str:
    if not GCP_NAME.match(rest):
        raise ConfigError(f"{variable}={reference}: use {FORMS.split(', ')[1]}")
    response = gcp_client().access_secret_version(name=rest)
    return bytes(response.payload.data).decode("utf-8")


def gcp_client() -> Any:
    """Secret Manager client with the VM's service account (application default credentials)."""
    from google.cloud import secretmanager

    return secretmanager.SecretManagerServiceClient()


def _azure(variable: str, reference: str, rest: str) -> str:
    vault, _, name = rest.partition("/")
    if not AZURE_VAULT.match(vault) or not re.fullmatch(r"[A-Za-z0-9-]{1,127}", name):
        raise ConfigError(f"{variable}={reference}: use {FORMS.split(' or ')[1]}")
    return str(azure_client(f"https://{vault}").get_secret(name).value or "")


def azure_client(vault_url: str) -> Any:
    """Key Vault client with the VM's managed identity."""
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient

    return SecretClient(vault_url=vault_url, credential=DefaultAzureCredential())


READERS: dict[str, Callable[[str, str, str], str]] = {
    "aws-secretsmanager": _aws,
    "gcp-secretmanager": _gcp,
    "azure-keyvault": _azure,
}
