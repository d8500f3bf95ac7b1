"""load_balancer with a provided certificate: HAProxy serves it; a key that is not the
certificate's own is refused before it replaces anything; dropping it brings back a generated
one."""

from __future__ import annotations

import datetime
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.certificates import self_signed
from tierstack.local.target import TargetError

pytestmark = [pytest.mark.hosts, pytest.mark.reconverges]


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def certificate_for(names: list[str]) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed certificate for `names`, standing in for one a CA issued."""
    key = ec.generate_private_key(ec.SECP256R1())
    return self_signed(key, names, valid_for=datetime.timedelta(days=30), ca=True), key


def served_certificate(target: Any, app: str, cafile: Path) -> bytes:
    """The DER certificate the LB presents for `<app>.localhost`, verified against cafile."""
    context = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection(("127.0.0.1", target.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=f"{app}.localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_a_provided_certificate_is_served_and_a_wrong_key_is_refused(
    target: Any, hosts: dict[str, Any], tmp_path: Path
) -> None:
    app = target.apps[0]
    certificate, key = certificate_for([f"{name}.localhost" for name in target.apps])
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    certificate_der = certificate.public_bytes(serialization.Encoding.DER)
    trusted = tmp_path / "provided.crt"
    trusted.write_text(certificate_pem)
    provided = {
        "load_balancer_tls_cert": certificate_pem,
        "load_balancer_tls_key": private_key_pem(key),
    }
    try:
        target.converge(limit="lb", extra_vars=provided, log_name="provided-cert.log")
        assert served_certificate(target, app, trusted) == certificate_der
        pem = hosts["lb"].file("/etc/haproxy/certs/site.pem")
        assert (pem.user, pem.group, pem.mode) == ("root", "haproxy", 0o640)
        assert not hosts["lb"].file("/etc/haproxy/certs/site.crt").exists

        stranger = ec.generate_private_key(ec.SECP256R1())
        provided["load_balancer_tls_key"] = private_key_pem(stranger)
        with pytest.raises(TargetError) as refused:
            target.converge(limit="lb", extra_vars=provided, log_name="wrong-key.log")
        message = str(refused.value)
        assert "on host lb" in message
        assert "must be a PEM certificate and the private key of that certificate" in message
        log = (target.state_dir / "wrong-key.log").read_text()
        assert "PRIVATE KEY" not in message + log
        assert served_certificate(target, app, trusted) == certificate_der, (
            "the refused pair replaced the certificate in place"
        )
    finally:
        target.converge(limit="lb", log_name="generated-cert.log")
        target.wait_until_serving()
    generated = target.ca_certificate()
    assert served_certificate(target, app, generated) != certificate_der
    assert not (target.state_dir / "extra-vars.json").exists()
