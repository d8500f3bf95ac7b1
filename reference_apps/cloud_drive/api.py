"""The JSON API (``/api/v1``). Session cookie authentication, so every state-changing call needs
the CSRF token from ``GET /api/v1/csrf`` in an ``X-CSRFToken`` header."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask_wtf.csrf import generate_csrf

from ..web import ApiError
from .auth import current_user, drive, is_admin, log_in, log_out, login_required
from .files import file_response
from .storage import User

api = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "send a JSON object with Content-Type: application/json")
    return body


def text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ApiError(400, f"{name}: required string")
    return value


def show_user(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": user.email,
        "quota_bytes": user.quota_bytes,
        "used_bytes": drive().used_bytes(user),
        "admin": is_admin(user),
    }


@api.get("/csrf")
def csrf() -> Response:
    """A CSRF token bound to this session; send it back as X-CSRFToken."""
    return jsonify(csrf_token=generate_csrf())


@api.post("/users")
def register() -> tuple[Response, int]:
    body = json_body()
    user = drive().register(
        text_field(body, "username"), text_field(body, "email"), text_field(body, "password")
    )
    current_app.extensions["welcome"](user)
    log_in(user)
    return jsonify(show_user(user)), 201


@api.post("/session")
def login() -> Response:
    body = json_body()
    user = drive().authenticate(text_field(body, "username"), text_field(body, "password"))
    if user is None:
        raise ApiError(401, "wrong username or password")
    log_in(user)
    return jsonify(show_user(user))


@api.delete("/session")
def logout() -> tuple[str, int]:
    """End this session; ``?everywhere=true`` ends every session of the user."""
    log_out(everywhere=request.args.get("everywhere") == "true")
    return "", 204


@api.get("/me")
@login_required
def me() -> Response:
    return jsonify(show_user(current_user()))


@api.get("/files")
@login_required
def list_files() -> Response:
    return jsonify(files=drive().files(current_user()))


@api.post("/files")
@login_required
def upload() -> tuple[Response, int]:
    file = request.files.get("file")
    if file is None:
        raise ApiError(400, "send the file as multipart/form-data field 'file'")
    row = drive().upload(current_user(), file.filename or "", file.read())
    shown = {key: row[key] for key in ("id", "name", "size", "content_type", "created_at")}
    return jsonify(shown), 201


@api.get("/files/<file_id>")
@login_required
def get_file(file_id: str) -> Response:
    row = drive().file(current_user(), file_id)
    return jsonify({key: row[key] for key in ("id", "name", "size", "content_type", "created_at")})


@api.get("/files/<file_id>/content")
@login_required
def get_content(file_id: str) -> Response:
    row, data = drive().content(current_user(), file_id)
    return file_response(row, data, download=True)


@api.delete("/files/<file_id>")
@login_required
def delete_file(file_id: str) -> tuple[str, int]:
    drive().delete(current_user(), file_id)
    return "", 204
