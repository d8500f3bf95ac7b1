"""OpenAPI 3.1 description of the fog-node API, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from ..web import probe_paths

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(ERROR, description)


DEVICE_ID = {
    "name": "device_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}


def _limit(default: int, most: int) -> dict[str, Any]:
    return {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": most, "default": default},
    }


ITEMS = {"type": "array", "items": {"type": "object"}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "tierstack iot-gateway fog node",
        "version": "1.0.0",
        "description": "Devices, their readings and alerts, the gateways' buffer and uplink, and"
        " commands to devices.",
    },
    "paths": {
        **probe_paths("Readiness: the time series (and the broker, when set) answer"),
        "/api/v1/devices": {
            "get": {
                "summary": "Devices with their reading count and last values",
                "responses": {"200": _json({"type": "object"}, "devices")},
            }
        },
        "/api/v1/devices/{device_id}/readings": {
            "get": {
                "summary": "A device's recent readings and window summaries, oldest first",
                "parameters": [DEVICE_ID, _limit(100, 1000)],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "device_id": {"type": "string"},
                                "readings": ITEMS,
                                "summaries": ITEMS,
                            },
                        },
                        "readings",
                    ),
                    "400": _error("bad device id or limit"),
                },
            }
        },
        "/api/v1/devices/{device_id}/commands": {
            "post": {
                "summary": "Send a command to a device through the gateway's broker",
                "parameters": [DEVICE_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["action"],
                                "properties": {
                                    "action": {
                                        "type": "string",
                                        "enum": [
                                            "cooling_on",
                                            "cooling_off",
                                            "vent",
                                            "stop",
                                            "start",
                                            "self_test",
                                            "set_interval",
                                        ],
                                    },
                                    "value": {"type": "number", "minimum": 0.01, "maximum": 3600},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "202": _json({"type": "object"}, "the command was published"),
                    "400": _error("unknown action or bad value"),
                    "503": _error("no broker configured, or it is unreachable"),
                },
            }
        },
        "/api/v1/alerts": {
            "get": {
                "summary": "Recent alerts, newest first",
                "parameters": [_limit(50, 500)],
                "responses": {
                    "200": _json({"type": "object"}, "alerts"),
                    "400": _error("bad limit"),
                },
            }
        },
        "/api/v1/gateways": {
            "get": {
                "summary": "Each gateway's buffer depth, uplink state and drop counters",
                "responses": {"200": _json({"type": "object"}, "gateways")},
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
