"""Twelve-factor settings: every backend is picked by one URL-style environment variable.

A missing or invalid setting raises :class:`ConfigError`, a ``SystemExit`` subclass, so any entry
point (``flask run``, gunicorn, the worker) stops at start with one line saying what to fix.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ConfigError(SystemExit):
    """A setting is missing or invalid; the message names the variable and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")
        self.message = message

    def __str__(self) -> str:
        return f"configuration error: {self.message}"


@dataclass(frozen=True)
class BackendUrl:
    """A parsed backend URL, keeping the variable name for error messages."""

    variable: str
    raw: str
    scheme: str
    netloc: str
    host: str
    port: int | None
    path: str
    query: dict[str, str] = field(default_factory=dict)

    @property
    def path_parts(self) -> list[str]:
        """Non-empty path segments, e.g. ``['project', 'topic', 'sub']``."""
        return [part for part in self.path.split("/") if part]

    def fail(self, reason: str) -> ConfigError:
        """An error naming the variable, its value (without password) and the expected form."""
        return ConfigError(f"{self.variable}={redact(self.raw)}: {reason}")

    def table(self, default: str) -> str:
        """The ``?table=`` query parameter, validated as a plain SQL identifier."""
        name = self.query.get("table", default)
        if not IDENTIFIER.match(name):
            raise self.fail(f"table name {name!r} must be letters, digits and underscores")
        return name


def redact(url: str) -> str:
    """The URL with any password replaced, safe to log or print."""
    return re.sub(r"(//[^:/@]+:)[^@/]*@", r"\1***@", url)


def parse_url(variable: str, raw: str, allowed: tuple[str, ...]) -> BackendUrl:
    """Parse and check one backend URL; the scheme must be one of ``allowed``."""
    parts = urlsplit(raw.strip())
    scheme = parts.scheme.lower()
    if scheme == "postgres":
        scheme = "postgresql"
    if scheme not in allowed:
        expected = ", ".join(f"{name}://" for name in allowed)
        raise ConfigError(f"{variable}={redact(raw)}: unsupported scheme; use one of {expected}")
    try:
        port = parts.port
    except ValueError as error:
        raise ConfigError(f"{variable}={redact(raw)}: invalid port ({error})") from None
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return BackendUrl(
        variable=variable,
        raw=raw.strip(),
        scheme=scheme,
        netloc=parts.netloc,
        host=parts.hostname or "",
        port=port,
        path=parts.path,
        query=query,
    )


def sqlite_path(url: BackendUrl) -> Path:
    """The file of a ``sqlite:///path`` URL (three slashes: an absolute path)."""
    if url.netloc or not url.path or url.path == "/":
        raise url.fail("use sqlite:///absolute/path/to/file.db")
    return Path(url.path)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={value}: use true or false")


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value}: not a number") from None
    if not low <= number <= high:
        raise ConfigError(f"{name}={value}: must be between {low:g} and {high:g}")
    return number


def default_data_dir(app_name: str) -> Path:
    """Where the embedded defaults keep files: ``$XDG_DATA_HOME/tierstack/<app>``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tierstack" / app_name


@dataclass(frozen=True)
class Settings:
    """Everything an app or worker reads from its environment, checked once at start."""

    app_name: str
    app_env: str
    secret_key: str
    data_dir: Path
    object_store_url: BackendUrl
    queue_url: BackendUrl
    kv_url: BackendUrl
    database_url: BackendUrl
    mail_url: BackendUrl
    max_upload_bytes: int
    proxy_hops: int
    queue_max_deliveries: int
    queue_visibility_timeout: float
    extra: Mapping[str, str]

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @classmethod
    def from_env(
        cls, app_name: str, env: Mapping[str, str] | None = None, *, web: bool = True
    ) -> Settings:
        """Read and validate the settings; ``env`` defaults to ``os.environ``.

        Secret references (``SECRET_KEY_REF``, ``DATABASE_PASSWORD_REF``) are read from the
        cloud's secret store first. ``web=False`` is for processes that sign no sessions (queue
        workers): they need no SECRET_KEY in production.
        """
        from .secrets import resolve_references  # imports settings: resolved at call time

        env = resolve_references(os.environ if env is None else env)
        app_env = env.get("APP_ENV", "development").strip().lower() or "development"
        if app_env not in {"development", "production"}:
            raise ConfigError(f"APP_ENV={app_env}: use development or production")
        secret_key = env.get("SECRET_KEY", "")
        if web and app_env == "production" and len(secret_key) < 32:
            raise ConfigError(
                "SECRET_KEY must be set to at least 32 random characters when APP_ENV=production"
                ' (python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        data_dir = Path(env.get("DATA_DIR") or default_data_dir(app_name))
        if not data_dir.is_absolute():
            raise ConfigError(f"DATA_DIR={data_dir}: use an absolute path")

        def url(name: str, default: str, allowed: tuple[str, ...]) -> BackendUrl:
            return parse_url(name, env.get(name) or default, allowed)

        return cls(
            app_name=app_name,
            app_env=app_env,
            secret_key=secret_key or secrets.token_urlsafe(48),
            data_dir=data_dir,
            object_store_url=url(
                "OBJECT_STORE_URL", f"file://{data_dir}/objects", ("file", "s3", "gs", "azblob")
            ),
            queue_url=url(
                "QUEUE_URL",
                f"sqlite://{data_dir}/queue.db",
                ("sqlite", "sqs", "pubsub", "servicebus", "azqueue", "postgresql"),
            ),
            kv_url=url(
                "KV_URL",
                f"sqlite://{data_dir}/kv.db",
                ("sqlite", "dynamodb", "firestore", "aztable", "postgresql"),
            ),
            database_url=url(
                "DATABASE_URL", f"sqlite://{data_dir}/app.db", ("sqlite", "postgresql")
            ),
            mail_url=url("MAIL_URL", f"file://{data_dir}/outbox", ("file", "smtp", "ses")),
            max_upload_bytes=int(_number(env, "MAX_UPLOAD_MB", 16, 0.001, 1024) * 1024 * 1024),
            proxy_hops=int(_number(env, "PROXY_HOPS", 1, 0, 10)),
            queue_max_deliveries=int(_number(env, "QUEUE_MAX_DELIVERIES", 5, 1, 100)),
            queue_visibility_timeout=_number(env, "QUEUE_VISIBILITY_TIMEOUT", 60, 0.1, 43200),
            extra=env,
        )

    def flag(self, name: str, default: bool) -> bool:
        """A boolean app-specific setting (true/false/1/0)."""
        return _flag(self.extra, name, default)

    def number(self, name: str, default: float, low: float, high: float) -> float:
        """A bounded numeric app-specific setting."""
        return _number(self.extra, name, default, low, high)
