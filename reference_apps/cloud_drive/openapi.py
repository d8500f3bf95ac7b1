"""OpenAPI 3.1 description of the JSON API, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from ..openapi_parts import BINARY, multipart_body
from ..web import probe_paths

ERROR = {"$ref": "#/components/schemas/Error"}
CSRF_HEADER = {
    "name": "X-CSRFToken",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The token from GET /api/v1/csrf (required by every state-changing call).",
}
FILE_ID = {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


CREDENTIALS = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
}
AUTH_ERRORS = {"401": _error("not logged in")}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "tierstack cloud-drive",
        "version": "1.0.0",
        "description": "Per-user document storage. Authenticate with POST /api/v1/session; "
        "send X-CSRFToken on POST and DELETE.",
    },
    "paths": {
        **probe_paths(),
        "/api/v1/csrf": {
            "get": {"summary": "A CSRF token", "responses": {"200": {"description": "token"}}}
        },
        "/api/v1/users": {
            "post": {
                "summary": "Register (and log in)",
                "parameters": [CSRF_HEADER],
                "requestBody": _json(
                    {
                        **CREDENTIALS,
                        "required": ["username", "email", "password"],
                        "properties": {**CREDENTIALS["properties"], "email": {"type": "string"}},
                    }
                ),
                "responses": {
                    "201": {"description": "registered"},
                    "400": _error("invalid field or missing CSRF token"),
                    "409": _error("username taken"),
                    "429": _error("too many attempts"),
                },
            }
        },
        "/api/v1/session": {
            "post": {
                "summary": "Log in",
                "parameters": [CSRF_HEADER],
                "requestBody": _json(CREDENTIALS),
                "responses": {
                    "200": {"description": "logged in"},
                    "400": _error("bad request or missing CSRF token"),
                    "401": _error("wrong username or password"),
                    "429": _error("too many attempts"),
                },
            },
            "delete": {
                "summary": "Log out (this session, or every session with everywhere=true)",
                "parameters": [
                    CSRF_HEADER,
                    {
                        "name": "everywhere",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                ],
                "responses": {"204": {"description": "logged out"}, "400": _error("no CSRF")},
            },
        },
        "/api/v1/me": {
            "get": {
                "summary": "The logged-in user with quota and usage",
                "responses": {"200": {"description": "user"}, **AUTH_ERRORS},
            }
        },
        "/api/v1/files": {
            "get": {
                "summary": "The user's files",
                "responses": {"200": {"description": "files"}, **AUTH_ERRORS},
            },
            "post": {
                "summary": "Upload a file",
                "parameters": [CSRF_HEADER],
                "requestBody": multipart_body(["file"], {"file": BINARY}),
                "responses": {
                    "201": {"description": "stored"},
                    "400": _error("empty file or missing CSRF token"),
                    "409": _error("a file with that name exists"),
                    "413": _error("over MAX_UPLOAD_MB or the quota"),
                    **AUTH_ERRORS,
                },
            },
        },
        "/api/v1/files/{file_id}": {
            "get": {
                "summary": "One file's metadata",
                "parameters": [FILE_ID],
                "responses": {
                    "200": {"description": "file"},
                    "404": _error("no such file"),
                    **AUTH_ERRORS,
                },
            },
            "delete": {
                "summary": "Delete a file",
                "parameters": [FILE_ID, CSRF_HEADER],
                "responses": {
                    "204": {"description": "deleted"},
                    "404": _error("no such file"),
                    "400": _error("no CSRF token"),
                    **AUTH_ERRORS,
                },
            },
        },
        "/api/v1/files/{file_id}/content": {
            "get": {
                "summary": "Download a file",
                "parameters": [FILE_ID],
                "responses": {
                    "200": {"description": "the bytes"},
                    "404": _error("no such file"),
                    **AUTH_ERRORS,
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    },
}
