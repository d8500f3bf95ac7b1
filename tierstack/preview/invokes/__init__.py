"""Offline answers to the provider functions (invokes) that programs commonly call.

A real invoke asks the cloud. Offline there is no cloud, so each known token gets a plausible
fixed answer (documented here, and shown by `tierstack preview` as a limit). An unknown token
raises instead of returning {}: a silent empty answer would turn every field the program reads
into None and the preview would show wrong values without saying so.

One module per cloud holds its answers (`aws`, `gcp`, `azure`); this one looks them up.
"""

from __future__ import annotations

from typing import Any

from . import aws, azure, gcp
from .base import (
    OFFLINE_ACCOUNT_ID,
    OFFLINE_AZURE_ID,
    OFFLINE_GCP_PROJECT,
    Invoke,
    UnknownInvokeError,
)

__all__ = [
    "ANSWERS_FILE",
    "BUILT_IN",
    "KNOWN_INVOKES",
    "OFFLINE_ACCOUNT_ID",
    "OFFLINE_AZURE_ID",
    "OFFLINE_GCP_PROJECT",
    "UnknownInvokeError",
    "answer_invoke",
    "resolve_invoke",
    "unknown_invoke_message",
]

KNOWN_INVOKES: dict[str, Invoke] = {**aws.INVOKES, **gcp.INVOKES, **azure.INVOKES}

BUILT_IN = "built-in"
ANSWERS_FILE = "--invoke-answers"


def unknown_invoke_message(token: str, detail: str = "") -> str:
    why = f" ({detail})" if detail else " (it would query the cloud)"
    return (
        f"offline preview has no answer for the provider function {token!r}{why}: give one with "
        f"--invoke-answers FILE (JSON or YAML mapping {token} to its result); the built-in "
        "answers are listed by `tierstack preview --list-invokes`"
    )


def resolve_invoke(
    token: str, args: dict[str, Any], answers: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    """The offline answer for `token` and where it came from: the answers file first, then
    the built-in table. Raises UnknownInvokeError, naming the token, when neither answers."""
    if answers and token in answers:
        return dict(answers[token]), ANSWERS_FILE
    handler = KNOWN_INVOKES.get(token)
    if handler is None:
        raise UnknownInvokeError(unknown_invoke_message(token), token)
    try:
        return handler(args), BUILT_IN
    except UnknownInvokeError as error:
        raise UnknownInvokeError(unknown_invoke_message(token, str(error)), token) from None


def answer_invoke(
    token: str, args: dict[str, Any], answers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The offline answer for `token` (see `resolve_invoke`)."""
    return resolve_invoke(token, args, answers)[0]
