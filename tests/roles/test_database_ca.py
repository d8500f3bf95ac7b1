"""blueprint_host writes the database CA file the apps' DATABASE_URL names (sslrootcert): the
given CA (the local target's), or the roots a cloud names, read from the distribution's
ca-certificates store; a second run changes nothing. Run on this machine (the hosts' Debian)."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from stacks.azure.common import POSTGRES_ROOT_CAS
from tierstack.local.target import REPO
from tierstack.mocks.certificates import self_signed

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")


def write_ca_file(tmp_path: Path, **role_vars: Any) -> tuple[Path, list[int]]:
    """Runs the role's database_ca tasks twice on localhost; the file and each run's changes."""
    dest = tmp_path / "etc" / "database-ca.pem"
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "ansible.builtin.include_role": {
                                "name": "blueprint_host",
                                "tasks_from": "database_ca",
                            },
                            "vars": {"blueprint_host_database_ca_file": str(dest), **role_vars},
                        }
                    ],
                }
            ]
        )
    )
    changes = []
    for _ in range(2):
        result = subprocess.run(
            [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            env={
                "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
                "ANSIBLE_STDOUT_CALLBACK": "json",
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
            },
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        changes.append(json.loads(result.stdout)["stats"]["localhost"]["changed"])
    return dest, changes


def test_the_azure_roots_come_from_the_distributions_store(tmp_path: Path) -> None:
    dest, changes = write_ca_file(
        tmp_path, blueprint_host_database_ca_system_roots=list(POSTGRES_ROOT_CAS)
    )
    certs = x509.load_pem_x509_certificates(dest.read_bytes())
    assert [cert.subject.rfc4514_string() for cert in certs] == [
        "CN=DigiCert Global Root G2,OU=www.digicert.com,O=DigiCert Inc,C=US",
        "CN=Microsoft RSA Root Certificate Authority 2017,O=Microsoft Corporation,C=US",
        "CN=DigiCert Global Root CA,OU=www.digicert.com,O=DigiCert Inc,C=US",
    ]
    assert all(cert.issuer == cert.subject for cert in certs)  # roots, not intermediates
    assert changes == [2, 0]  # the folder and the file, then nothing
    assert dest.stat().st_mode & 0o777 == 0o644


def test_a_given_ca_is_written_as_it_is(tmp_path: Path) -> None:
    cert = self_signed(
        ec.generate_private_key(ec.SECP256R1()),
        ["tierstack test CA"],
        valid_for=datetime.timedelta(days=1),
        ca=True,
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    dest, changes = write_ca_file(tmp_path, blueprint_host_database_ca=pem)
    assert dest.read_text() == pem.strip() + "\n"
    assert changes == [2, 0]


def test_an_unknown_root_name_fails_the_converge(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="Not_A_Root_In_The_Store"):
        write_ca_file(tmp_path, blueprint_host_database_ca_system_roots=["Not_A_Root_In_The_Store"])


def test_a_bundle_of_the_role_is_written_without_its_header(tmp_path: Path) -> None:
    """The AWS stacks name the Amazon RDS bundle: every certificate of it, and nothing else."""
    bundle = REPO / "roles/blueprint_host/files/amazon-rds-global-bundle.pem"
    dest, changes = write_ca_file(
        tmp_path, blueprint_host_database_ca_bundles=["amazon-rds-global-bundle.pem"]
    )
    written = dest.read_text()
    assert not written.startswith("#") and "Source:" not in written
    certs = x509.load_pem_x509_certificates(written.encode())
    assert certs == x509.load_pem_x509_certificates(bundle.read_bytes())
    assert len(certs) > 80
    assert all(cert.issuer == cert.subject for cert in certs)  # roots only
    names = {cert.subject.rfc4514_string() for cert in certs}
    assert any("CN=Amazon RDS eu-west-1 Root CA RSA2048 G1" in name for name in names)
    assert changes == [2, 0]


def test_a_given_ca_comes_before_a_bundle(tmp_path: Path) -> None:
    cert = self_signed(
        ec.generate_private_key(ec.SECP256R1()),
        ["tierstack test CA"],
        valid_for=datetime.timedelta(days=1),
        ca=True,
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    dest, _ = write_ca_file(
        tmp_path,
        blueprint_host_database_ca=pem,
        blueprint_host_database_ca_bundles=["amazon-rds-global-bundle.pem"],
    )
    certs = x509.load_pem_x509_certificates(dest.read_bytes())
    assert certs[0] == cert and len(certs) > 80


def test_an_unknown_bundle_fails_the_converge(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"no-such-bundle\.pem"):
        write_ca_file(tmp_path, blueprint_host_database_ca_bundles=["no-such-bundle.pem"])
