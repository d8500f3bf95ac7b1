"""The SMTP mailer against a real SMTP server (aiosmtpd) on a free loopback port: what the app
sends is what a relay receives."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from reference_apps.backends.mail import SmtpMailer


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
    with pytest.raises(OSError):
        SmtpMailer("127.0.0.1", port, "jobs@tierstack.test").send("a@b.c", "s", "b")
