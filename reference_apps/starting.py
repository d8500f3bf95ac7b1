"""Gunicorn entry points that wait for the app's secrets and backends instead of exiting.

On a fresh cloud VM the identity that may read the secret store is often granted seconds after
the VM boots, a database may still be starting, and any of them can blip. Exiting would make
gunicorn stop and systemd start it again, each start importing the cloud SDKs anew: a crash loop
that burns a core and logs the same line every two seconds. Instead the app answers 503 with
Retry-After (the load balancer's health check keeps it out of rotation) and tries again, with
back-off, when requests arrive. A malformed setting still stops the process at once: waiting
cannot fix it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from reference_apps.backends.resilience import unavailable_at_start
from reference_apps.backends.settings import ConfigError

FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 60.0

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class WaitingForBackends:
    """A WSGI app that answers 503 until building the real one succeeds. Each try runs in the
    background: reaching a secret store that does not answer can take seconds (the cloud SDKs
    probe for credentials), and no request waits for it."""

    def __init__(
        self,
        factory: Callable[[], WsgiApp],
        clock: Callable[[], float] = time.monotonic,
        first_retry: float = FIRST_RETRY_SECONDS,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._delay = first_retry
        self._next_try = clock() + first_retry
        self._app: WsgiApp | None = None
        self._trying = False
        self._lock = threading.Lock()

    def _ready_app(self) -> WsgiApp | None:
        with self._lock:
            if self._app is not None or self._trying or self._clock() < self._next_try:
                return self._app
            self._trying = True
        threading.Thread(target=self._try, name="backends-retry", daemon=True).start()
        return None

    def _try(self) -> None:
        app: WsgiApp | None = None
        try:
            app = self._factory()
        except (ConfigError, Exception) as error:  # any failure: 503s, logged, tried again later
            waiting = isinstance(error, ConfigError) and unavailable_at_start(error)
            reason = str(error) if waiting else f"cannot start: {error!r}"
            print(f"{reason} (next try in {self._delay * 2:.0f}s)", file=sys.stderr, flush=True)
        finally:
            with self._lock:
                if app is None:
                    self._delay = min(self._delay * 2, MAX_RETRY_SECONDS)
                    self._next_try = self._clock() + self._delay
                self._app, self._trying = app, False
        if app is not None:
            print("backends reachable: serving", file=sys.stderr, flush=True)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        app = self._ready_app()
        if app is not None:
            return app(environ, start_response)
        retry_after = max(1, round(self._next_try - self._clock()))
        body = json.dumps(
            {
                "error": (
                    "starting: a backend or the secret store is not reachable yet; try again later"
                ),
                "retry_after": retry_after,
            }
        ).encode()
        start_response(
            "503 Service Unavailable",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(retry_after)),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


def serve_when_ready(factory: Callable[[], WsgiApp]) -> WsgiApp:
    """The app, or a stand-in that serves 503 until its secrets and backends answer."""
    try:
        return factory()
    except ConfigError as error:
        if not unavailable_at_start(error):
            raise
        print(f"{error} (serving 503 until it answers)", file=sys.stderr, flush=True)
        return WaitingForBackends(factory)
