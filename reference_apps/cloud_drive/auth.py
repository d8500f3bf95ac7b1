"""Sessions: who is logged in, and the decorators that guard pages and API routes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, redirect, request, session, url_for

from ..web import ApiError, wants_json
from .storage import DriveService, User

F = TypeVar("F", bound=Callable[..., Any])


def drive() -> DriveService:
    return current_app.extensions["drive"]


def current_user() -> User | None:
    """The user of a session that is still live on the server (checked on every request)."""
    if "user" not in g:
        token = session.get("sid")
        g.user = drive().session_user(token) if isinstance(token, str) else None
    return g.user


def is_admin(user: User | None) -> bool:
    return user is not None and user.admin


def log_in(user: User) -> None:
    """A fresh session (no fixation), marked permanent so the lifetime setting applies."""
    session.clear()
    session["sid"] = drive().start_session(user)
    session.permanent = True
    g.user = user


def log_out(everywhere: bool = False) -> None:
    """End this session on the server (or all of the user's), so a copied cookie dies too."""
    token = session.get("sid")
    user = current_user()
    if everywhere and user is not None:
        drive().end_sessions(user)
    elif isinstance(token, str):
        drive().end_session(token)
    session.clear()
    g.user = None


def login_required(view: F) -> F:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            if wants_json():
                raise ApiError(401, "log in first (POST /api/v1/session)")
            return redirect(url_for("pages.login", next=request.path))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def admin_required(view: F) -> F:
    @wraps(view)
    @login_required
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not is_admin(current_user()):
            raise ApiError(403, "administrators only")
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]
