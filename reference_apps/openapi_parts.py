"""Pieces of the OpenAPI documents that several apps write alike."""

from __future__ import annotations

from typing import Any

BINARY = {"type": "string", "format": "binary"}
"""One uploaded file."""

BINARIES = {"type": "array", "items": BINARY}
"""Several uploaded files under one field name."""


def multipart_body(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """A required multipart/form-data request body (file uploads with form fields)."""
    schema = {"type": "object", "required": required, "properties": properties}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
