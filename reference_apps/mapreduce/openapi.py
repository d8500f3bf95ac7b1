"""OpenAPI 3.1 description of the JSON API, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from ..openapi_parts import BINARIES, BINARY, multipart_body
from ..web import probe_paths
from .programs import BUILT_IN, INPUT_FORMATS

ERROR = {"$ref": "#/components/schemas/Error"}
JOB = {"$ref": "#/components/schemas/Job"}
JOB_ID_PARAM = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def _job(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": JOB}}}


TEXT = {"description": "tab-separated text", "content": {"text/tab-separated-values": {}}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "tierstack mapreduce",
        "version": "1.0.0",
        "description": "Submit Hadoop-streaming jobs (inverted index, word count, or your own "
        "mapper and reducer when allowed) over uploaded text; follow them; download results.",
    },
    "paths": {
        **probe_paths(),
        "/api/v1/programs": {
            "get": {
                "summary": "Built-in jobs, input formats, whether custom programs are allowed",
                "responses": {"200": {"description": "the catalogue"}},
            }
        },
        "/api/v1/jobs": {
            "post": {
                "summary": "Submit a job over uploaded input files",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "schema": {"type": "string", "maxLength": 200},
                        "description": "repeat the key to get the first job back, not a new one",
                    }
                ],
                "requestBody": multipart_body(
                    ["input", "job"],
                    {
                        "input": BINARIES,
                        "job": {"type": "string", "enum": [*BUILT_IN, "custom"]},
                        "input_format": {"type": "string", "enum": list(INPUT_FORMATS)},
                        "email": {"type": "string", "format": "email"},
                        "mapper": BINARY,
                        "reducer": BINARY,
                    },
                ),
                "responses": {
                    "202": _job("queued"),
                    "200": _job("the first job of a repeated Idempotency-Key"),
                    "400": _error("no input, unknown job or format, bad e-mail address"),
                    "403": _error("custom programs are disabled (ALLOW_CUSTOM_PROGRAMS)"),
                    "409": _error("the Idempotency-Key was used for a different request"),
                    "413": _error("body larger than MAX_UPLOAD_MB"),
                    "415": _error("an input file is not UTF-8 text"),
                    "422": _error("every input file is empty, or a program does not compile"),
                },
            },
            "get": {
                "summary": "Recent jobs, newest first",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    }
                ],
                "responses": {"200": {"description": "jobs"}, "400": _error("bad limit")},
            },
        },
        "/api/v1/jobs/{job_id}": {
            "get": {
                "summary": "One job's status",
                "parameters": [JOB_ID_PARAM],
                "responses": {"200": _job("the job"), "404": _error("no such job")},
            }
        },
        "/api/v1/jobs/{job_id}/result": {
            "get": {
                "summary": "The whole result (every part, in order)",
                "parameters": [JOB_ID_PARAM],
                "responses": {"200": TEXT, "404": _error("no succeeded job")},
            }
        },
        "/api/v1/jobs/{job_id}/results/{part}": {
            "get": {
                "summary": "One part file of the result",
                "parameters": [
                    JOB_ID_PARAM,
                    {"name": "part", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                "responses": {"200": TEXT, "404": _error("no such part")},
            }
        },
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            },
            "Job": {
                "type": "object",
                "required": ["id", "status", "job", "url"],
                "properties": {
                    "id": {"type": "string"},
                    "status": {
                        "type": "string",
                        "enum": ["queued", "running", "succeeded", "failed"],
                    },
                    "job": {"type": "string"},
                    "input_format": {"type": "string"},
                    "inputs": {"type": "array", "items": {"type": "object"}},
                    "attempts": {"type": "integer"},
                    "error": {"type": ["string", "null"]},
                    "stderr_tail": {"type": ["string", "null"]},
                    "url": {"type": "string"},
                    "results": {"type": "array", "items": {"type": "object"}},
                    "result_url": {"type": ["string", "null"]},
                },
            },
        }
    },
}
