"""Azure queues: Service Bus dead-lettering and TLS."""

from __future__ import annotations

from ..registry import Family
from ..shared import flag_check, min_tls_check
from .types import SB_NAMESPACE, SB_QUEUE, SB_SUBSCRIPTION

family = Family("azure", "queues")


family.resource(
    "azure-servicebus-dead-lettering",
    severity="medium",
    level="mandatory",
    types=[SB_QUEUE, SB_SUBSCRIPTION],
    description="Service Bus queues and topic subscriptions dead-letter expired messages.",
    remediation="Set dead_lettering_on_message_expiration=True (max_delivery_count bounds "
    "retries).",
)(
    flag_check(
        ["deadLetteringOnMessageExpiration"],
        "deadLetteringOnMessageExpiration is not true (expired messages are dropped)",
    )
)


family.resource(
    "azure-servicebus-min-tls-1-2",
    severity="medium",
    level="mandatory",
    types=[SB_NAMESPACE],
    description="Service Bus namespaces require TLS 1.2 (data is always encrypted at rest).",
    remediation="Set minimum_tls_version='1.2'.",
)(min_tls_check(("1.2", "1.3"), unset="unset", suffix=", not 1.2"))
