"""Notifications: Communication Services mail without keys."""

from __future__ import annotations

from tests.stacks.azure.conftest import FROM_DOMAIN


def test_notifications_use_the_smtp_relay_without_keys(dev):
    service = dev.one("azure-native:communication:CommunicationService").inputs
    assert service["disableLocalAuth"] is True
    assert service["linkedDomains"] == ["job-done-domain-id"]
    assert dev.result["mail"] == (
        f"smtp://smtp.azurecomm.net:587?starttls=true&from=DoNotReply@{FROM_DOMAIN}"
    )
