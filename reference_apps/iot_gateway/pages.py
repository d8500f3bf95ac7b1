"""The dashboard: gateways (buffer depth, uplink state), devices with a chart each, alerts, and a
form to command a device. Charts are inline SVG drawn here, so the page needs no script."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from .api import node
from .fognode import ACTIONS, CommandError

pages = Blueprint("pages", __name__)
CHART_WIDTH, CHART_HEIGHT = 240, 48


def sparkline(readings: list[dict[str, Any]], metric: str) -> dict[str, Any] | None:
    """Polyline points scaled into the chart box, with the range shown beside it."""
    values = [r["metrics"][metric] for r in readings if metric in r.get("metrics", {})]
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = CHART_WIDTH / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{CHART_HEIGHT - 2 - (v - low) / span * (CHART_HEIGHT - 4):.1f}"
        for i, v in enumerate(values)
    )
    return {"metric": metric, "points": points, "low": low, "high": high, "last": values[-1]}


def dashboard(notice: str = "", error: str = "") -> str:
    fog = node()
    devices = fog.series.devices()
    for device in devices:
        recent = fog.series.recent(device["device_id"], "reading", 60)
        device["charts"] = [
            chart for metric in sorted(device["last"]) if (chart := sparkline(recent, metric))
        ]
    return render_template(
        "index.html",
        gateways=fog.gateways(),
        devices=devices,
        alerts=fog.series.alerts(20),
        actions=ACTIONS,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        notice=notice,
        error=error,
    )


@pages.get("/")
def index() -> str:
    return dashboard(notice=request.args.get("sent", "")[:100])


@pages.post("/devices/<device_id>/commands")
def command(device_id: str) -> Response | tuple[str, int]:
    body: dict[str, Any] = {"action": request.form.get("action", "")}
    if body["action"] == "set_interval":
        try:
            body["value"] = float(request.form.get("value", ""))
        except ValueError:
            return dashboard(error="set_interval needs a number of seconds"), 400
    try:
        sent = node().send_command(device_id, body)
    except CommandError as error:
        return dashboard(error=error.message), error.status
    return redirect(url_for("pages.index", sent=f"{sent['action']} sent to {device_id}"), 303)
