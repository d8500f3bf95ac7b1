"""Serving stored files safely: inline only for harmless types, sandboxed, never sniffed."""

from __future__ import annotations

from typing import Any

from flask import Response

from .storage import INLINE_TYPES


def file_response(row: dict[str, Any], data: bytes, download: bool) -> Response:
    inline = not download and row["content_type"] in INLINE_TYPES
    response = Response(
        data, mimetype=row["content_type"] if inline else "application/octet-stream"
    )
    response.headers.set(
        "Content-Disposition", "inline" if inline else "attachment", filename=row["name"]
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
