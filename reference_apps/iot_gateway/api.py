"""The JSON API (``/api/v1``), described by ``/openapi.json``. No cookies, so no CSRF token."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from ..web import ApiError
from .fognode import CommandError, FogNode
from .readings import DEVICE_ID

api = Blueprint("api", __name__, url_prefix="/api/v1")


def node() -> FogNode:
    return current_app.extensions["fog_node"]


def limit_arg(default: int, most: int) -> int:
    raw = request.args.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ApiError(400, f"limit must be a whole number from 1 to {most}")
    return int(raw)


def device_arg(device_id: str) -> str:
    if not DEVICE_ID.match(device_id):
        raise ApiError(400, "device id: letters, digits, '-' and '_' (at most 64)")
    return device_id


@api.get("/devices")
def list_devices() -> Response:
    return jsonify(devices=node().series.devices())


@api.get("/devices/<device_id>/readings")
def device_readings(device_id: str) -> Response:
    device_id = device_arg(device_id)
    limit = limit_arg(100, 1000)
    series = node().series
    return jsonify(
        device_id=device_id,
        readings=series.recent(device_id, "reading", limit),
        summaries=series.recent(device_id, "summary", limit),
    )


@api.get("/alerts")
def list_alerts() -> Response:
    return jsonify(alerts=node().series.alerts(limit_arg(50, 500)))


@api.get("/gateways")
def list_gateways() -> Response:
    return jsonify(gateways=node().gateways())


@api.post("/devices/<device_id>/commands")
def send_command(device_id: str) -> tuple[Response, int]:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, 'send a JSON object such as {"action": "cooling_on"}')
    try:
        command = node().send_command(device_id, body)
    except CommandError as error:
        raise ApiError(error.status, error.message) from None
    return jsonify(command), 202
