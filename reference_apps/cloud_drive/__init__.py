"""Cloud-drive reference app: accounts, per-user files with a quota, and an admin page.

Users and file metadata live in the SQL database (``DATABASE_URL``), the bytes in the object
store (``OBJECT_STORE_URL``); a welcome e-mail goes through ``MAIL_URL``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import timedelta

import click
from flask import Flask, render_template
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from ..backends import Settings, open_backends
from ..web import configure_logging, install_common, install_form_guard
from .api import api
from .openapi import OPENAPI
from .pages import pages
from .storage import DriveService, User

APP_NAME = "cloud-drive"
log = logging.getLogger("cloud_drive")


def current_user_id() -> str:
    from .auth import current_user

    user = current_user()
    return user.id if user else "anonymous"


def install_admin_commands(app: Flask) -> None:
    """Admin is a database flag that only an operator sets, from a shell on an app server."""

    @app.cli.command("grant-admin")
    @click.argument("username")
    def grant_admin(username: str) -> None:
        """Make USERNAME an administrator."""
        _set_admin(app, username, True)

    @app.cli.command("revoke-admin")
    @click.argument("username")
    def revoke_admin(username: str) -> None:
        """Take administrator rights from USERNAME."""
        _set_admin(app, username, False)

    @app.cli.command("sweep-orphans")
    @click.option("--older-than", type=float, default=3600, show_default=True, help="seconds")
    def sweep_orphans(older_than: float) -> None:
        """Remove stored objects that no file row names (left by interrupted uploads)."""
        removed = app.extensions["drive"].sweep_orphans(older_than)
        click.echo(f"{len(removed)} orphaned objects removed")


def _set_admin(app: Flask, username: str, admin: bool) -> None:
    from ..web import ApiError

    try:
        user = app.extensions["drive"].set_admin(username, admin)
    except ApiError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{user.username}: admin={'yes' if user.admin else 'no'}")


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    """App factory; ``env`` overrides environment variables (tests use it)."""
    settings = Settings.from_env(APP_NAME, {**os.environ, **(env or {})})
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    backends = open_backends(settings, queue=False, kv=False, db=True, mail=True)
    quota = int(settings.number("USER_QUOTA_MB", 100, 0, 10_000_000) * 1024 * 1024)
    session_lifetime = timedelta(hours=settings.number("SESSION_HOURS", 12, 0.01, 720))
    app = Flask(__name__, instance_path=str(settings.data_dir))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SESSION_COOKIE_NAME="__Host-session"
        if settings.flag("SESSION_COOKIE_SECURE", True)
        else "session",
        SESSION_COOKIE_SECURE=settings.flag("SESSION_COOKIE_SECURE", True),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=session_lifetime,
        # The lifetime counts from login (the server-side session row), not from the last request.
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_SSL_STRICT=False,
    )
    try:
        drive = DriveService(backends.db, backends.objects, quota, session_lifetime.total_seconds())
    except Exception as error:
        from ..backends import ConfigError

        raise ConfigError(f"DATABASE_URL: cannot create the schema ({error})") from error
    mailer = backends.mail

    def welcome(user: User) -> None:
        """Best effort: a failed welcome mail must not fail the registration."""
        try:
            mailer.send(
                user.email,
                "Welcome to cloud-drive",
                f"Hello {user.username},\n\nyour account is ready.\n",
            )
        except Exception:
            log.exception("welcome mail not sent", extra={"username": user.username})

    app.extensions["settings"] = settings
    app.extensions["drive"] = drive
    app.extensions["welcome"] = welcome
    if settings.extra.get("ADMIN_USERS"):
        log.warning("ADMIN_USERS is ignored: grant admin with `flask grant-admin NAME`")
    install_form_guard(app)
    CSRFProtect(app)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.extra.get("RATELIMIT_STORAGE_URI", "memory://"),
        default_limits=[],
        headers_enabled=True,
    )
    login_limit = settings.extra.get("LOGIN_RATE_LIMIT", "10 per minute")
    password_limit = settings.extra.get("PASSWORD_CHANGE_RATE_LIMIT", "5 per 15 minutes")
    app.register_blueprint(api)
    app.register_blueprint(pages)
    # Login and registration are the password-guessing surface: limited per client address.
    for endpoint in ("pages.login", "api.login", "pages.register", "api.register"):
        app.view_functions[endpoint] = limiter.limit(login_limit, methods=["POST"])(
            app.view_functions[endpoint]
        )
    # Changing the password checks the current one: limited per session holder, whatever the
    # address, so a stolen cookie cannot guess it (each guess also costs a 64 MiB hash).
    app.view_functions["pages.profile"] = limiter.limit(
        password_limit,
        methods=["POST"],
        key_func=lambda: f"password:{current_user_id()}",
    )(app.view_functions["pages.profile"])
    install_admin_commands(app)
    install_common(
        app,
        settings,
        backends,
        OPENAPI,
        lambda status, message: render_template("error.html", status=status, message=message),
    )
    return app
