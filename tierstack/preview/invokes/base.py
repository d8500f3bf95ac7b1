"""What every cloud's offline answers share: the fake account, project and tenant ids, the
stack's provider config, and the error an invoke without an answer raises."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pulumi.runtime.config import get_config

Invoke = Callable[[dict[str, Any]], dict[str, Any]]

OFFLINE_ACCOUNT_ID = "123456789012"
OFFLINE_GCP_PROJECT = "offline-project"
OFFLINE_AZURE_ID = "00000000-0000-0000-0000-000000000000"


class UnknownInvokeError(Exception):
    """The program called a provider function the offline preview cannot answer."""

    def __init__(self, message: str, token: str | None = None) -> None:
        super().__init__(message)
        self.token = token


def config_value(key: str, default: str) -> str:
    value = get_config(key)
    return str(value) if value else default
