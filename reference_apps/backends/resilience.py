"""What a backend outage looks like to the apps and workers: one exception type, raised by every
adapter, and the backoff a consumer loop uses to wait for the dependency to come back.

A backend call that fails because the service cannot be reached, is restarting, refuses for lack
of space or answers with a server error raises :class:`DependencyDown` naming the backend; the
web layer answers it with 503 and ``Retry-After``, and the workers wait and try again instead of
exiting. Every other error (a missing object, a constraint, a bug) passes through unchanged.
"""

from __future__ import annotations

import errno
import functools
import logging
import random
import sqlite3
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("reference_apps.backends")

RETRY_AFTER_SECONDS = 5
F = TypeVar("F", bound=Callable[..., Any])

# Errors that mean "the service is not answering", by module and class name. They are looked up
# only in modules already imported: an exception from an SDK means the SDK is loaded.
OUTAGE_CLASSES = (
    ("psycopg", "OperationalError"),  # connection refused/lost, AdminShutdown, DiskFull
    ("psycopg", "InterfaceError"),  # the connection is closed
    ("botocore.exceptions", "EndpointConnectionError"),
    ("botocore.exceptions", "ConnectionError"),
    ("botocore.exceptions", "HTTPClientError"),  # connection closed, read timeout
    ("botocore.exceptions", "ConnectTimeoutError"),
    ("urllib3.exceptions", "HTTPError"),
    ("requests.exceptions", "ConnectionError"),
    ("requests.exceptions", "Timeout"),
    ("google.auth.exceptions", "TransportError"),
    ("google.api_core.exceptions", "ServerError"),  # 5xx: unavailable, internal, bad gateway
    ("google.api_core.exceptions", "DeadlineExceeded"),
    ("google.api_core.exceptions", "RetryError"),
    ("azure.core.exceptions", "ServiceRequestError"),
    ("azure.core.exceptions", "ServiceResponseError"),
    ("azure.servicebus.exceptions", "ServiceBusConnectionError"),
    # No credentials yet: the instance's identity (metadata server, managed identity) did not
    # answer, as on a VM that has just booted. Retrying is what helps; the user gets a 503.
    ("botocore.exceptions", "NoCredentialsError"),
    ("google.auth.exceptions", "DefaultCredentialsError"),
    ("azure.identity", "CredentialUnavailableError"),
    ("azure.core.exceptions", "ClientAuthenticationError"),  # DefaultAzureCredential: no token
    ("smtplib", "SMTPServerDisconnected"),
    ("smtplib", "SMTPConnectError"),
)
OUTAGE_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}
# How /readyz's check names read in a message to the user.
NAMES = {
    "object_store": "object store",
    "queue": "job queue",
    "kv": "key-value table",
    "database": "database",
    "mail": "mail server",
}
SQLITE_OUTAGE_WORDS = ("locked", "disk", "unable to open", "I/O error")


class DependencyDown(Exception):
    """A backend the request needs is unavailable now; the same request may succeed later."""

    def __init__(self, dependency: str, cause: BaseException | None = None) -> None:
        super().__init__(f"the {NAMES.get(dependency, dependency)} is unavailable")
        self.dependency = dependency
        self.cause = cause
        self.retry_after = RETRY_AFTER_SECONDS


def _status(error: BaseException) -> int | None:
    """The HTTP status an SDK error carries (boto3, azure-core), if any."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` means the service is down (as opposed to a refused or bad request)."""
    if isinstance(error, DependencyDown | ConnectionError | TimeoutError):
        return True
    if isinstance(error, OSError) and error.errno in OUTAGE_ERRNOS:
        return True
    if isinstance(error, sqlite3.OperationalError):  # not a syntax error or a missing table
        return any(word in str(error) for word in SQLITE_OUTAGE_WORDS)
    for module_name, class_name in OUTAGE_CLASSES:
        module = sys.modules.get(module_name)
        kind = getattr(module, class_name, None) if module is not None else None
        if isinstance(kind, type) and isinstance(error, kind):
            return True
    status = _status(error)  # an S3 or Azure "500 InternalError" / "503 SlowDown"
    return status is not None and status >= 500


def guarded(dependency: str, method: F) -> F:
    """``method`` raising :class:`DependencyDown` instead of an outage error."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except DependencyDown:
            raise
        except Exception as error:
            if is_outage(error):
                raise DependencyDown(dependency, error) from error
            raise

    call.__guarded__ = True  # type: ignore[attr-defined]
    return call  # type: ignore[return-value]


def guard_methods(cls: type, dependency: str) -> None:
    """Guard every public method a backend class defines (called from the interfaces'
    ``__init_subclass__``, so each new adapter is covered without a line of its own)."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") and name not in {"_receive_once"}:
            continue
        if isinstance(value, staticmethod | classmethod | type) or hasattr(value, "__guarded__"):
            continue
        if callable(value):
            setattr(cls, name, guarded(dependency, value))


class Backoff:
    """Exponential backoff with full jitter, for loops that must outlive a dependency outage:
    0.5 s, 1 s, 2 s … up to ``cap``, reset by the first success."""

    def __init__(self, first: float = 0.5, cap: float = 15.0) -> None:
        self.first, self.cap = first, cap
        self.failures = 0

    def delay(self) -> float:
        ceiling = min(self.cap, self.first * 2**self.failures)
        return random.uniform(ceiling / 2, ceiling)

    def wait(self, stop: threading.Event, error: BaseException) -> None:
        """Log the outage once per failure and sleep (waking at once when ``stop`` is set)."""
        delay = self.delay()
        self.failures += 1
        log.warning(
            "dependency unavailable; retrying",
            extra={
                "error": str(error),
                "cause": repr(getattr(error, "cause", None))[:300],
                "retry_in": round(delay, 2),
                "try": self.failures,
            },
        )
        stop.wait(delay)

    def reset(self) -> None:
        if self.failures:
            log.info("dependency back", extra={"after_tries": self.failures})
        self.failures = 0


def consume(
    stop: threading.Event, step: Callable[[], object], backoff: Backoff | None = None
) -> None:
    """Run ``step`` until ``stop`` is set; a dependency outage waits with backoff instead of
    ending the loop (the message being handled stays in the queue and is delivered again)."""
    backoff = backoff or Backoff()
    while not stop.is_set():
        try:
            step()
        except Exception as error:
            if not is_outage(error):
                raise
            backoff.wait(stop, error)
            continue
        backoff.reset()


# Bounded waits for the SDK clients: a stopped or unreachable service fails the request in
# seconds (then 503), instead of the SDKs' defaults of a minute or more of silent retries.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
ATTEMPTS = 3
AZURE_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": ATTEMPTS - 1,
    "retry_backoff_factor": 0.2,
    "connection_timeout": CONNECT_TIMEOUT,
    "read_timeout": READ_TIMEOUT,
}


def azure_storage_options(linear_retry: type) -> dict[str, Any]:
    """Options for an azure-storage client (Blob, Queue): these SDKs bring their own retry
    policy, 15 s between tries by default, so a short linear one is given explicitly."""
    retry = linear_retry(backoff=0.5, retry_total=ATTEMPTS - 1, random_jitter_range=0.2)
    return {**AZURE_CLIENT_OPTIONS, "retry_policy": retry}


def boto_config(read_timeout: float = READ_TIMEOUT) -> Any:
    """botocore settings: short connect/read timeouts, three attempts with backoff."""
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        retries={"max_attempts": ATTEMPTS, "mode": "standard"},
    )


def gcp_retry() -> Any:
    """google-api-core retry for idempotent calls, given up after a few seconds (the default
    retries for two minutes)."""
    from google.api_core.retry import Retry, if_transient_error

    return Retry(predicate=if_transient_error, initial=0.2, maximum=2.0, timeout=READ_TIMEOUT)


T = TypeVar("T")


def unavailable_at_start(error: BaseException) -> bool:
    """Whether a start failed only because a backend or the secret store did not answer (as
    opposed to a wrong setting, which waiting cannot fix)."""
    from .secrets import SecretUnavailable

    if isinstance(error, SecretUnavailable):
        return True
    return error.__cause__ is not None and is_outage(error.__cause__)


def start_when_ready(build: Callable[[], T], backoff: Backoff | None = None) -> T:
    """``build()`` (a worker opening its backends), tried again with backoff while it fails
    only because a backend is down: a worker started during an outage waits instead of exiting.
    A wrong setting still stops it at once with its one line."""
    from .settings import ConfigError

    backoff = backoff or Backoff()
    never = threading.Event()
    while True:
        try:
            return build()
        except ConfigError as error:
            if not unavailable_at_start(error):
                raise
            backoff.wait(never, error.__cause__ or error)
