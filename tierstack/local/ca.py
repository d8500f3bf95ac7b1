"""The local target's own certificate authority and the server certificates it signs.

The CA is generated once and kept with the target's state (the key mode 0600), like the other
generated secrets, so that clients on the hosts can verify a server's name against it
(PostgreSQL with `sslmode=verify-full`) and a reconverge keeps the same certificates.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from tierstack.local.target import LocalTarget

CA_DAYS = 3650
SERVER_DAYS = 825
RENEW_BEFORE = datetime.timedelta(days=30)
"""A server certificate this close to its end is issued again at the next converge."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _save(path: Path, text: str, *, private: bool) -> None:
    from tierstack.local.inventory import write_private  # inventory imports this module

    if private:
        write_private(path, text)
    else:
        path.write_text(text)


def authority(target: LocalTarget) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The target's CA certificate and key, created on first use."""
    cert_path, key_path = target.state_dir / "ca.crt", target.state_dir / "ca.key"
    if cert_path.is_file() and key_path.is_file():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"tierstack {target.name} CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    target.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _save(key_path, _key_pem(key), private=True)
    _save(cert_path, _cert_pem(cert), private=False)
    return cert, key


def ca_pem(target: LocalTarget) -> str:
    """The CA certificate in PEM, what clients on the hosts trust."""
    return _cert_pem(authority(target)[0])


def _names(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set(), set()
    return set(san.get_values_for_type(x509.DNSName)), {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }


def server_certificate(
    target: LocalTarget, name: str, dns_names: list[str], ips: list[str]
) -> tuple[str, str]:
    """A certificate (PEM) and its key (PEM) for `name`, signed by the target's CA and valid for
    exactly these names. Kept with the state and reused while the names, the issuing CA and the
    validity still hold, so a reconverge changes nothing."""
    ca_cert, ca_key = authority(target)
    cert_path, key_path = target.state_dir / f"{name}.crt", target.state_dir / f"{name}.key"
    if cert_path.is_file() and key_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if (
            _names(cert) == (set(dns_names), set(ips))
            and cert.issuer == ca_cert.subject
            and cert.not_valid_after_utc - _now() > RENEW_BEFORE
        ):
            return _cert_pem(cert), key_path.read_text()
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    san = [x509.DNSName(dns) for dns in dns_names] + [
        x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _save(key_path, _key_pem(key), private=True)
    _save(cert_path, _cert_pem(cert), private=False)
    return _cert_pem(cert), _key_pem(key)
