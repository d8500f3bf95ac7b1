"""Serving stored files safely: inline only for harmless types, sandboxed, never sniffed."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..web import content_disposition
from .storage import INLINE_TYPES


def file_response(row: dict[str, Any], data: bytes, download: bool) -> Response:
    inline = not download and row["content_type"] in INLINE_TYPES
    response = Response(
        data, mimetype=row["content_type"] if inline else "application/octet-stream"
    )
    response.headers["Content-Disposition"] = content_disposition(
        "inline" if inline else "attachment", row["name"]
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
