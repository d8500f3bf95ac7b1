"""Outgoing mail: a file outbox for development, SMTP, or Amazon SES.

SMTP uses STARTTLS with a verified certificate, and requires it whenever credentials are set or
the URL says ``?starttls=true``: a relay (or an attacker in the path) that does not offer it gets
no password. Without either, TLS is used when offered (a local mail sink has none).
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from .resilience import guard_methods
from .settings import BackendUrl

EMAIL = re.compile(r"^[^@\s<>,;]{1,64}@[^@\s<>,;]+$")


class Mailer(ABC):
    """The mail interface every implementation follows."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every adapter's calls raise DependencyDown when the service is unreachable."""
        super().__init_subclass__(**kwargs)
        guard_methods(cls, "mail")

    def __init__(self, sender: str) -> None:
        self.sender = sender

    def compose(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = f"<{uuid.uuid4().hex}@{self.sender.rpartition('@')[2]}>"
        message.set_content(body)
        return message

    @abstractmethod
    def send(self, to: str, subject: str, body: str) -> None:
        """Send a plain-text message."""

    @abstractmethod
    def check(self) -> None:
        """Raise if mail cannot be sent (used by /readyz)."""


class FileMailer(Mailer):
    """Writes each message as an ``.eml`` file into an outbox folder (atomic rename)."""

    def __init__(self, outbox: Path, sender: str) -> None:
        super().__init__(sender)
        self.outbox = outbox
        outbox.mkdir(parents=True, exist_ok=True, mode=0o700)

    def send(self, to: str, subject: str, body: str) -> None:
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        temporary = self.outbox / f".{name}.tmp"
        temporary.write_bytes(bytes(self.compose(to, subject, body)))
        os.replace(temporary, self.outbox / name)

    def check(self) -> None:
        if not os.access(self.outbox, os.W_OK):
            raise PermissionError(f"{self.outbox} is not writable")


class TlsRequired(smtplib.SMTPException):
    """The relay does not offer STARTTLS although TLS is required; nothing was sent."""


class SmtpMailer(Mailer):
    """An SMTP relay, with credentials when the relay wants them."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        require_tls: bool = False,
        username: str = "",
        password: str = "",
    ) -> None:
        super().__init__(sender)
        self.host, self.port = host, port
        self.require_tls = require_tls
        self.username, self.password = username, password

    def _connect(self) -> smtplib.SMTP:
        username = self.username
        client = smtplib.SMTP(self.host, self.port, timeout=10)
        try:
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            elif self.require_tls or username:
                why = "credentials are set" if username else "MAIL_URL has starttls=true"
                raise TlsRequired(
                    f"{self.host}:{self.port} does not offer STARTTLS and {why}: refusing to"
                    " send in clear"
                )
            if username:
                client.login(username, self.password)
        except BaseException:
            client.close()
            raise
        return client

    def send(self, to: str, subject: str, body: str) -> None:
        with self._connect() as client:
            client.send_message(self.compose(to, subject, body))

    def check(self) -> None:
        with self._connect() as client:
            client.noop()


class SesMailer(Mailer):
    """Amazon SES (the sender must be a verified identity)."""

    def __init__(self, region: str, sender: str, client: Any = None) -> None:
        import boto3

        super().__init__(sender)
        self.client = client or boto3.client("ses", region_name=region)

    def send(self, to: str, subject: str, body: str) -> None:
        self.client.send_raw_email(
            Source=self.sender,
            Destinations=[to],
            RawMessage={"Data": bytes(self.compose(to, subject, body))},
        )

    def check(self) -> None:
        self.client.get_send_quota()


def open_mailer(url: BackendUrl, sender: str, env: Mapping[str, str] | None = None) -> Mailer:
    """The mailer named by ``MAIL_URL``; the sender is its ``from=`` parameter when given (the
    stack knows the relay's allowed sender), else ``sender`` (``MAIL_FROM``). SMTP credentials
    are ``SMTP_USERNAME`` and ``SMTP_PASSWORD`` of ``env`` (the settings, where a
    ``SMTP_PASSWORD_REF`` has been read from the secret store; ``os.environ`` when not given)."""
    env = os.environ if env is None else env
    if "from" in url.query:
        sender = url.query["from"].strip()
        if not EMAIL.match(sender):
            raise url.fail(f"from={sender!r} is not an e-mail address")
    if url.scheme == "file":
        if url.netloc or not url.path.startswith("/"):
            raise url.fail("use file:///absolute/outbox-folder")
        return FileMailer(Path(url.path), sender)
    if url.scheme == "smtp":
        if not url.host:
            raise url.fail("use smtp://host:port")
        starttls = url.query.get("starttls", "false").lower()
        if starttls not in {"true", "false"}:
            raise url.fail(f"starttls={starttls}: use true or false")
        return SmtpMailer(
            url.host,
            url.port or 25,
            sender,
            require_tls=starttls == "true",
            username=env.get("SMTP_USERNAME", ""),
            password=env.get("SMTP_PASSWORD", ""),
        )
    if not url.netloc:
        raise url.fail("use ses://region, e.g. ses://eu-west-1")
    return SesMailer(url.netloc, sender)
