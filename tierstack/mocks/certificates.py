"""Self-signed X.509 certificates: what a CA or a provider issues, made locally for the mocks and
the tests."""

from __future__ import annotations

import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID


def self_signed(
    key: Any,
    dns_names: list[str],
    *,
    valid_for: datetime.timedelta,
    common_name: str = "",
    ca: bool = False,
) -> x509.Certificate:
    """A certificate for `dns_names`, signed by its own key; the common name defaults to the
    first DNS name."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name or dns_names[0])])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + valid_for)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), False)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    return builder.sign(key, hashes.SHA256())
