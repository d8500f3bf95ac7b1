"""mail_sink: an SMTP capture on the services host keeps what the apps send."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.hosts

SEND = """
import smtplib, sys
from email.message import EmailMessage
message = EmailMessage()
message["From"], message["To"] = "app@tierstack.test", "user@tierstack.test"
message["Subject"] = sys.argv[1]
message.set_content("captured, never relayed")
with smtplib.SMTP("services", 1025, timeout=10) as smtp:
    smtp.send_message(message)
"""


def test_mail_sink_runs_sandboxed(hosts: dict[str, Any]) -> None:
    services = hosts["services"]
    assert services.service("mail-sink").is_running
    assert services.service("mail-sink").is_enabled
    properties = services.check_output(
        "systemctl show mail-sink -p DynamicUser -p ProtectSystem -p NoNewPrivileges"
    )
    assert "DynamicUser=yes" in properties
    assert "ProtectSystem=strict" in properties
    assert "NoNewPrivileges=yes" in properties


def test_a_message_sent_from_an_app_host_is_captured(hosts: dict[str, Any]) -> None:
    subject = "probe-from-app2"
    app2 = hosts["app2"]
    app2.check_output(f"cat > /tmp/sendmail.py <<'EOF'\n{SEND}\nEOF")
    app2.check_output(f"python3 /tmp/sendmail.py {subject}")
    found = hosts["services"].check_output(
        f"grep -l 'Subject: {subject}' -r /var/lib/mail-sink/Maildir/new || true"
    )
    assert found.strip(), "the message is not in the Maildir"
