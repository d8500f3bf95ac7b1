"""The queue interface and the message every implementation hands out."""

from __future__ import annotations

import json
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ..resilience import guard_methods

POLL_INTERVAL = 0.2


@dataclass
class Message:
    """One delivery of a message; ``receipt`` identifies this delivery for ack/release."""

    id: str
    body: Any
    deliveries: int
    receipt: Any


def decode(raw: str | bytes) -> Any:
    """The JSON body, or the raw text when it is not JSON (a poison message the worker rejects)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


class PoisonMessage(ValueError):
    """A message body that can never be processed: it is left to the dead-letter queue."""


def job_id_of(body: Any, pattern: re.Pattern[str]) -> str:
    """The ``job_id`` of a job service's message (``{"job_id": ...}``), matching ``pattern``."""
    if not isinstance(body, dict) or not isinstance(body.get("job_id"), str):
        raise PoisonMessage(f"message body is not {{'job_id': ...}}: {str(body)[:100]!r}")
    if not pattern.match(body["job_id"]):
        raise PoisonMessage(f"malformed job id {body['job_id'][:60]!r}")
    return body["job_id"]


class Queue(ABC):
    """The queue interface every implementation follows."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every adapter's calls raise DependencyDown when the service is unreachable."""
        super().__init_subclass__(**kwargs)
        guard_methods(cls, "queue")

    def __init__(self, max_deliveries: int, visibility_timeout: float) -> None:
        self.max_deliveries = max_deliveries
        self.visibility_timeout = visibility_timeout

    @abstractmethod
    def send(self, body: Any) -> str:
        """Enqueue a JSON-serialisable body; returns the message id."""

    def send_raw(self, payload: str) -> str:
        """Enqueue a payload as-is (tests use it to send a malformed, poison message)."""
        raise NotImplementedError

    def receive(self, wait: float = 0) -> Message | None:
        """The next visible message, waiting up to ``wait`` seconds; ``None`` when there is none."""
        deadline = time.monotonic() + wait
        while True:
            message = self._receive_once(wait=max(0.0, deadline - time.monotonic()))
            if message is not None:
                return message
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(POLL_INTERVAL, max(0.0, deadline - time.monotonic())))

    @abstractmethod
    def _receive_once(self, wait: float) -> Message | None: ...

    def receive_many(self, limit: int, wait: float = 0) -> list[Message]:
        """Up to ``limit`` messages: the first waits up to ``wait`` seconds, the rest are only
        those visible now. Same semantics as ``receive`` for each message."""
        first = self.receive(wait=wait)
        batch = [first] if first is not None else []
        while batch and len(batch) < limit and (message := self.receive()) is not None:
            batch.append(message)
        return batch

    def ack_many(self, messages: list[Message]) -> None:
        """``ack`` each message (one round trip where the queue allows it)."""
        for message in messages:
            self.ack(message)

    @abstractmethod
    def ack(self, message: Message) -> None:
        """Delete a message that has been processed."""

    @abstractmethod
    def release(self, message: Message) -> None:
        """Give a message back (visible again now), e.g. when the worker is stopping."""

    @abstractmethod
    def dead_letters(self) -> list[Any]:
        """Bodies in the dead-letter queue (for inspection and tests)."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the queue cannot be reached (used by /readyz)."""
