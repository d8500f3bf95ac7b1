"""OpenAPI 3.1 description of the JSON API, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from ..web import probe_paths

ERROR = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


TIME = {"type": "string", "format": "date-time"}
COUNTS = {
    "count": {"type": "integer"},
    "positive": {"type": "integer"},
    "neutral": {"type": "integer"},
    "negative": {"type": "integer"},
    "mean": {"type": ["number", "null"], "description": "mean VADER compound score"},
}
TOP_POST = {
    "type": "object",
    "properties": {
        "uid": {"type": "string"},
        "text": {"type": "string"},
        "score": {"type": "number"},
        "source": {"type": "string"},
        "url": {"type": "string"},
        "created_at": TIME,
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "tierstack social-analytics",
        "version": "1.0.0",
        "description": "Sentiment of collected posts per keyword, per minute or hour.",
    },
    "paths": {
        **probe_paths("Readiness: the key-value table and object store answer"),
        "/api/v1/keywords": {
            "get": {
                "summary": "The configured keywords",
                "responses": {
                    "200": {
                        "description": "keywords",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "keywords": {"type": "array", "items": {"type": "string"}}
                                    },
                                }
                            }
                        },
                    }
                },
            }
        },
        "/api/v1/keywords/{keyword}/sentiment": {
            "get": {
                "summary": "Volume and sentiment over time, totals and top posts",
                "parameters": [
                    {
                        "name": "keyword",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "from",
                        "in": "query",
                        "schema": TIME,
                        "description": "start (default: one hour, or one day, before `to`)",
                    },
                    {"name": "to", "in": "query", "schema": TIME, "description": "default: now"},
                    {
                        "name": "resolution",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["minute", "hour"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the series",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Series"}}
                        },
                    },
                    "400": _error("bad time range or resolution"),
                    "404": _error("unknown keyword"),
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
            },
            "Series": {
                "type": "object",
                "properties": {
                    "keyword": {"type": "string"},
                    "resolution": {"type": "string"},
                    "points": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"t": TIME, **COUNTS},
                        },
                    },
                    "totals": {"type": "object", "properties": COUNTS},
                    "top_positive": {"type": "array", "items": TOP_POST},
                    "top_negative": {"type": "array", "items": TOP_POST},
                },
            },
        }
    },
}
