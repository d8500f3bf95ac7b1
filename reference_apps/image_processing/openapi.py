"""OpenAPI 3.1 description of the JSON API, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from ..openapi_parts import BINARIES, BINARY, multipart_body
from ..web import probe_paths

ERROR = {"$ref": "#/components/schemas/Error"}
JOB = {"$ref": "#/components/schemas/Job"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


JOB_ID_PARAM = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}

OWNER = [{"ownerToken": []}]
OWNER_ERRORS = {
    "400": _error("malformed Authorization header"),
    "401": _error("no owner token: send the owner_token returned at upload"),
}

UPLOAD_FIELDS = {
    "filters": {
        "type": "string",
        "description": 'JSON list (`[{"name":"blur","radius":2},"grayscale"]`) or compact '
        "text (`grayscale,blur:radius=2,rotate:angle=90;expand=false`).",
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "tierstack image-processing",
        "version": "1.0.0",
        "description": "Upload images, apply filters synchronously or through a queue. Jobs"
        " belong to an owner token: an upload without `Authorization: Bearer <token>` returns a"
        " new one in `owner_token`; send it to read the jobs, their results and the job list.",
    },
    "paths": {
        **probe_paths(),
        "/api/v1/filters": {
            "get": {
                "summary": "The filter catalogue",
                "responses": {"200": {"description": "filters and their parameters"}},
            }
        },
        "/api/v1/images": {
            "post": {
                "summary": "Upload one image and a filter pipeline",
                "security": [{}, {"ownerToken": []}],
                "requestBody": multipart_body(
                    ["file", "filters"],
                    {
                        "file": BINARY,
                        **UPLOAD_FIELDS,
                        "mode": {"type": "string", "enum": ["auto", "sync", "async"]},
                    },
                ),
                "responses": {
                    "201": {
                        "description": "processed",
                        "content": {"application/json": {"schema": JOB}},
                    },
                    "202": {
                        "description": "queued",
                        "content": {"application/json": {"schema": JOB}},
                    },
                    "400": _error("missing file, empty file, bad filter or parameter"),
                    "413": _error("body larger than MAX_UPLOAD_MB"),
                    "415": _error("not an accepted image format"),
                    "422": _error("image dimensions over MAX_IMAGE_PIXELS (decompression bomb)"),
                },
            }
        },
        "/api/v1/batches": {
            "post": {
                "summary": "Upload several images with one pipeline (always queued)",
                "security": [{}, {"ownerToken": []}],
                "requestBody": multipart_body(
                    ["file", "filters"], {"file": BINARIES, **UPLOAD_FIELDS}
                ),
                "responses": {
                    "202": {"description": "queued"},
                    "400": _error("bad input"),
                    "413": _error("body larger than MAX_UPLOAD_MB"),
                    "415": _error("a file is not an accepted image"),
                    "422": _error("a file is a decompression bomb"),
                },
            }
        },
        "/api/v1/jobs": {
            "get": {
                "summary": "The caller's recent jobs, newest first",
                "security": OWNER,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    }
                ],
                "responses": {
                    "200": {"description": "jobs"},
                    **OWNER_ERRORS,
                    "400": _error("bad limit or malformed Authorization header"),
                },
            }
        },
        "/api/v1/jobs/{job_id}": {
            "get": {
                "summary": "One job's status",
                "security": OWNER,
                "parameters": [JOB_ID_PARAM],
                "responses": {
                    "200": {
                        "description": "the job",
                        "content": {"application/json": {"schema": JOB}},
                    },
                    **OWNER_ERRORS,
                    "404": _error("no such job (or another owner's)"),
                },
            }
        },
        "/api/v1/jobs/{job_id}/result": {
            "get": {
                "summary": "The processed image",
                "security": OWNER,
                "parameters": [JOB_ID_PARAM],
                "responses": {
                    "200": {"description": "the image", "content": {"image/*": {}}},
                    **OWNER_ERRORS,
                    "404": _error("no finished job (or another owner's)"),
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "ownerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "the owner_token returned by the first upload",
            }
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            },
            "Job": {
                "type": "object",
                "required": ["id", "status", "filters", "url"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
                    "filename": {"type": "string"},
                    "filters": {"type": "array", "items": {"type": "object"}},
                    "width": {"type": "integer"},
                    "height": {"type": "integer"},
                    "attempts": {"type": "integer"},
                    "error": {"type": ["string", "null"]},
                    "url": {"type": "string"},
                    "result_url": {"type": ["string", "null"]},
                    "owner_token": {
                        "type": "string",
                        "description": "only in the answer to an upload without a token",
                    },
                },
            },
        },
    },
}
