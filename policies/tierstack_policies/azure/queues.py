"""Azure queues: Service Bus dead-lettering and TLS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..registry import MANDATORY, MEDIUM, Family
from ..values import UNKNOWN, switched_off, value
from .types import SB_NAMESPACE, SB_QUEUE

family = Family("azure", "queues")


@family.resource(
    "azure-servicebus-dead-lettering",
    severity=MEDIUM,
    level=MANDATORY,
    types=[SB_QUEUE],
    description="Service Bus queues dead-letter expired messages.",
    remediation="Set dead_lettering_on_message_expiration=True (max_delivery_count bounds "
    "retries).",
)
def _check_dead_lettering(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    if switched_off(props, "deadLetteringOnMessageExpiration"):
        yield "deadLetteringOnMessageExpiration is not true (expired messages are dropped)"


@family.resource(
    "azure-servicebus-min-tls-1-2",
    severity=MEDIUM,
    level=MANDATORY,
    types=[SB_NAMESPACE],
    description="Service Bus namespaces require TLS 1.2 (data is always encrypted at rest).",
    remediation="Set minimum_tls_version='1.2'.",
)
def _check_sb_tls(props: Mapping[str, Any], _config: Mapping[str, Any], _type: str):
    version = value(props, "minimumTlsVersion")
    if version not in ("1.2", "1.3", UNKNOWN):
        yield f"minimumTlsVersion is {version or 'unset'}, not 1.2"
