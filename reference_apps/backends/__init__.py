"""Backend adapters shared by the reference apps, each chosen by one URL environment variable.

``OBJECT_STORE_URL``, ``QUEUE_URL``, ``KV_URL``, ``DATABASE_URL`` and ``MAIL_URL`` pick the
implementation by scheme (see :mod:`reference_apps.backends.settings`); :func:`open_backends`
builds the set an app needs and turns any connection or setting problem into one clear line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .kv import KeyValue, open_kv
from .mail import Mailer, open_mailer
from .object_store import ObjectNotFound, ObjectStore, open_object_store
from .queue import Message, PoisonMessage, Queue, job_id_of, open_queue
from .resilience import Backoff, DependencyDown, consume, is_outage, start_when_ready
from .settings import BackendUrl, ConfigError, Settings, redact
from .sql import Database, IntegrityError, open_database

__all__ = [
    "Backends",
    "Backoff",
    "ConfigError",
    "Database",
    "DependencyDown",
    "IntegrityError",
    "KeyValue",
    "Mailer",
    "Message",
    "ObjectNotFound",
    "ObjectStore",
    "PoisonMessage",
    "Queue",
    "Settings",
    "consume",
    "is_outage",
    "job_id_of",
    "open_backends",
    "start_when_ready",
]


@dataclass
class Backends:
    """The backends one app instance uses; unused ones stay ``None``."""

    objects: ObjectStore
    queue: Queue | None = None
    kv: KeyValue | None = None
    db: Database | None = None
    mail: Mailer | None = None

    def checks(self) -> dict[str, Any]:
        """Name → check function, for /readyz."""
        named = {
            "object_store": self.objects,
            "queue": self.queue,
            "kv": self.kv,
            "database": self.db,
            "mail": self.mail,
        }
        return {name: backend.check for name, backend in named.items() if backend is not None}


def _open(url: BackendUrl, opener: Any, *args: Any) -> Any:
    """Open one backend; a failure becomes a ConfigError naming the variable."""
    try:
        return opener(url, *args)
    except ConfigError:
        raise
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        reason = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
        raise ConfigError(f"{url.variable}={redact(url.raw)}: cannot open ({reason})") from error


def open_backends(settings: Settings, *, queue: bool, kv: bool, db: bool, mail: bool) -> Backends:
    """Open the backends an app needs, failing at start with one line on a bad setting."""
    sender = settings.extra.get("MAIL_FROM") or f"{settings.app_name}@localhost"
    return Backends(
        objects=_open(settings.object_store_url, open_object_store),
        queue=_open(
            settings.queue_url,
            open_queue,
            settings.queue_max_deliveries,
            settings.queue_visibility_timeout,
        )
        if queue
        else None,
        kv=_open(settings.kv_url, open_kv) if kv else None,
        db=_open(settings.database_url, open_database) if db else None,
        mail=_open(settings.mail_url, open_mailer, sender, settings.extra) if mail else None,
    )
