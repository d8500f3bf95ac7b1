"""What the local target gives PostgreSQL and the apps for verified TLS: a certificate for the
name the apps use, signed by the target's own CA; the apps' URLs connect as their own role with
`sslmode=verify-full` and that CA as `sslrootcert` (the file blueprint_host writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tierstack.local.target import APPS, REPO, LocalTarget


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(LocalTarget, "state_dir", property(lambda self: tmp_path))
    target = LocalTarget(name="unit", subnet="10.250.0.0/24", apps=list(APPS))
    return target.inventory()["all"]


def services_vars(inventory: dict[str, Any]) -> dict[str, Any]:
    return inventory["children"]["tier_services"]["hosts"]["services"]


def test_every_database_url_is_the_apps_own_role_with_verify_full(
    inventory: dict[str, Any],
) -> None:
    ca_file = yaml.safe_load((REPO / "roles/blueprint_host/defaults/main.yml").read_text())[
        "blueprint_host_database_ca_file"
    ]
    envs = inventory["vars"]["tierstack_app_envs"]
    owners = {db["name"]: db["owner"] for db in services_vars(inventory)["postgres_databases"]}
    checked = 0
    for env in envs.values():
        for variable in ("DATABASE_URL", "QUEUE_URL", "KV_URL"):
            if variable not in env:
                continue
            url = urlsplit(env[variable])
            database = url.path.lstrip("/")
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            assert (url.username, url.hostname) == (owners[database], "services"), variable
            assert query["sslmode"] == "verify-full", variable
            assert query["sslrootcert"] == ca_file, variable
            checked += 1
    # Every PostgreSQL URL of every deployed app (queue, key-value table, database).
    assert checked == sum(len({"queue", "kv", "db"} & set(app.backends)) for app in APPS.values())


def test_the_postgres_certificate_is_signed_by_the_ca_the_hosts_trust(
    inventory: dict[str, Any],
) -> None:
    ca = x509.load_pem_x509_certificate(inventory["vars"]["blueprint_host_database_ca"].encode())
    services = services_vars(inventory)
    cert = x509.load_pem_x509_certificate(services["postgres_tls_cert"].encode())
    key = serialization.load_pem_private_key(services["postgres_tls_key"].encode(), None)
    cert.verify_directly_issued_by(ca)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["services"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.250.0.14"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_certificates_are_kept_and_keys_are_private(
    inventory: dict[str, Any], tmp_path: Path
) -> None:
    again = LocalTarget(name="unit", subnet="10.250.0.0/24", apps=["cloud-drive"]).inventory()
    assert (
        services_vars(again["all"])["postgres_tls_cert"]
        == services_vars(inventory)["postgres_tls_cert"]
    )
    assert (
        again["all"]["vars"]["blueprint_host_database_ca"]
        == inventory["vars"]["blueprint_host_database_ca"]
    )
    for name in ("ca.key", "postgres.key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_a_new_subnet_gets_a_certificate_for_the_new_address(
    inventory: dict[str, Any],
) -> None:
    moved = LocalTarget(name="unit", subnet="10.251.0.0/24", apps=["cloud-drive"]).inventory()
    cert = x509.load_pem_x509_certificate(services_vars(moved["all"])["postgres_tls_cert"].encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.251.0.14"]
    ca = x509.load_pem_x509_certificate(moved["all"]["vars"]["blueprint_host_database_ca"].encode())
    cert.verify_directly_issued_by(ca)
