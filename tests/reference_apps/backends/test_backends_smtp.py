"""The SMTP mailer against a real SMTP server (aiosmtpd) on a free loopback port: what the app
sends is what a relay receives, credentials only over a verified TLS session."""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import LoopbackTls, loopback_tls

from reference_apps.backends import ConfigError, DependencyDown, Settings, open_backends
from reference_apps.backends.mail import SmtpMailer, TlsRequired, open_mailer
from reference_apps.backends.settings import BackendUrl, parse_url


class Capture:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, _server, session, envelope) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, Capture]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    capture = Capture()
    controller = Controller(capture, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, capture
    finally:
        controller.stop()


def test_smtp_mailer_delivers_the_message(smtp_sink: tuple[int, Capture]) -> None:
    port, capture = smtp_sink
    mailer = SmtpMailer("127.0.0.1", port, "jobs@tierstack.test")
    mailer.check()
    mailer.send("ada@example.org", "Your job is done", "Download: https://x/results/1")
    assert len(capture.messages) == 1
    sender, recipients, raw = capture.messages[0]
    assert (sender, recipients) == ("jobs@tierstack.test", ["ada@example.org"])
    message = message_from_bytes(raw)
    assert message["Subject"] == "Your job is done"
    assert "https://x/results/1" in message.get_payload(decode=True).decode()


def test_smtp_mailer_fails_loudly_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DependencyDown, match="mail server is unavailable") as raised:
        SmtpMailer("127.0.0.1", port, "jobs@tierstack.test").send("a@b.c", "s", "b")
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)


class Relay:
    """Records what a relay saw: credentials (and whether they came over TLS) and messages."""

    def __init__(self) -> None:
        self.logins: list[tuple[bytes, bytes, bool]] = []
        self.messages: list[tuple[str, bytes]] = []

    def authenticate(self, _server, session, _envelope, _mechanism, auth_data) -> AuthResult:
        self.logins.append((auth_data.login, auth_data.password, session.ssl is not None))
        return AuthResult(success=True)

    async def handle_DATA(self, _server, _session, envelope) -> str:
        self.messages.append((envelope.mail_from, envelope.content))
        return "250 OK"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTls:
    """The relay's certificate for 127.0.0.1, issued by a test CA the client is told to trust."""
    return loopback_tls(tmp_path_factory.mktemp("tls"))


def relay(tls: ssl.SSLContext | None) -> tuple[Controller, Relay]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Relay()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        authenticator=handler.authenticate,
        auth_require_tls=False,  # a relay (or a man in the middle) that takes clear passwords
    )
    controller.start()
    return controller, handler


@pytest.fixture
def clear_relay() -> Iterator[tuple[int, Relay]]:
    controller, handler = relay(None)
    yield controller.port, handler
    controller.stop()


@pytest.fixture
def tls_relay(
    certificate: LoopbackTls, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[int, Relay]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.ca))  # the client verifies against it
    controller, handler = relay(context)
    yield controller.port, handler
    controller.stop()


def mail_url(port: int, query: str = "") -> BackendUrl:
    return parse_url("MAIL_URL", f"smtp://127.0.0.1:{port}{query}", ("smtp",))


def test_credentials_are_never_sent_without_tls(
    clear_relay: tuple[int, Relay], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, server = clear_relay
    monkeypatch.setenv("SMTP_USERNAME", "relay-user")
    monkeypatch.setenv("SMTP_PASSWORD", "relay-secret")
    mailer = open_mailer(mail_url(port), "app@tierstack.test")
    with pytest.raises(TlsRequired, match="does not offer STARTTLS and credentials are set"):
        mailer.send("ada@example.org", "s", "b")
    with pytest.raises(TlsRequired):
        mailer.check()
    assert server.logins == [] and server.messages == []


def test_starttls_true_is_required_even_without_credentials(
    clear_relay: tuple[int, Relay],
) -> None:
    port, server = clear_relay
    mailer = open_mailer(mail_url(port, "?starttls=true"), "app@tierstack.test")
    with pytest.raises(TlsRequired, match="MAIL_URL has starttls=true"):
        mailer.send("ada@example.org", "s", "b")
    assert server.messages == []


def test_credentials_go_over_verified_tls(
    tls_relay: tuple[int, Relay], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, server = tls_relay
    monkeypatch.setenv("SMTP_USERNAME", "relay-user")
    monkeypatch.setenv("SMTP_PASSWORD", "relay-secret")
    open_mailer(mail_url(port, "?starttls=true"), "app@tierstack.test").send(
        "ada@example.org", "s", "b"
    )
    assert server.logins == [(b"relay-user", b"relay-secret", True)]
    assert len(server.messages) == 1


def test_the_relay_password_comes_from_its_secret_reference(
    tls_relay: tuple[int, Relay], aws_env: str, tmp_path: Path
) -> None:
    """What an Azure stack gives its publishing tier: a user name and a reference to the
    password in the secret store (moto's Secrets Manager here), never the password."""
    port, server = tls_relay
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name=f"smtp-{port}", SecretString="from-the-store")["ARN"]
    settings = Settings.from_env(
        "notifier",
        {
            "DATA_DIR": str(tmp_path),
            "MAIL_URL": f"smtp://127.0.0.1:{port}?starttls=true",
            "SMTP_USERNAME": "relay-user",
            "SMTP_PASSWORD_REF": f"aws-secretsmanager://{arn}",
        },
    )
    mailer = open_backends(settings, queue=False, kv=False, db=False, mail=True).mail
    assert mailer is not None
    mailer.send("ada@example.org", "s", "b")
    assert server.logins == [(b"relay-user", b"from-the-store", True)]
    assert "SMTP_PASSWORD" not in os.environ


def test_both_a_relay_password_and_its_reference_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SMTP_PASSWORD and SMTP_PASSWORD_REF are both set"):
        Settings.from_env(
            "notifier",
            {
                "DATA_DIR": str(tmp_path),
                "SMTP_PASSWORD": "x",
                "SMTP_PASSWORD_REF": "aws-secretsmanager://x",
            },
        )


def test_an_untrusted_certificate_is_refused(
    tls_relay: tuple[int, Relay], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, server = tls_relay
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("SMTP_USERNAME", "relay-user")
    with pytest.raises(ssl.SSLCertVerificationError):
        open_mailer(mail_url(port), "app@tierstack.test").send("ada@example.org", "s", "b")
    assert server.logins == []


def test_the_from_parameter_is_the_sender(clear_relay: tuple[int, Relay]) -> None:
    port, server = clear_relay
    mailer = open_mailer(mail_url(port, "?from=DoNotReply@mail.example"), "app@localhost")
    mailer.send("ada@example.org", "s", "b")
    ((envelope_from, raw),) = server.messages
    assert envelope_from == "DoNotReply@mail.example"
    assert message_from_bytes(raw)["From"] == "DoNotReply@mail.example"


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("?from=not-an-address", "from='not-an-address' is not an e-mail address"),
        ("?starttls=maybe", "starttls=maybe: use true or false"),
    ],
)
def test_bad_mail_url_parameters_stop_the_app(query: str, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_mailer(mail_url(25, query), "app@localhost")
    assert raised.value.message == f"MAIL_URL=smtp://127.0.0.1:25{query}: {error}"
