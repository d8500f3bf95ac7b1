"""Server-rendered SVG charts: no script, nothing to vendor, and the page's CSP stays strict.

Every data point is an element with ``class="point"`` and ``data-t`` / ``data-value``
attributes, plus a ``<title>`` a screen reader (and a hover) shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 12, 26
COLORS = {"positive": "#2f855a", "neutral": "#a0aec0", "negative": "#c53030"}


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    segments: list[tuple[str, float, float, int]]  # label, y, height, value
    t: str
    count: int


def _x(index: int, total: int) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (index + 0.5) / max(total, 1)


def _label(t: str, resolution: str) -> str:
    return t[11:16] if resolution == "minute" else t[5:13].replace("T", " ") + "h"


def volume(points: list[dict[str, Any]], resolution: str) -> dict[str, Any]:
    """Stacked bars: positive, neutral, negative posts per step."""
    peak = max([point["count"] for point in points] + [1])
    plot = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    bars = []
    for index, point in enumerate(points):
        base = HEIGHT - BOTTOM
        segments = []
        for name in ("negative", "neutral", "positive"):
            height = plot * point[name] / peak
            base -= height
            segments.append((name, round(base, 1), round(height, 1), point[name]))
        bars.append(
            Bar(
                round(_x(index, len(points)) - slot * 0.4, 1),
                round(slot * 0.8, 1),
                segments,
                point["t"],
                point["count"],
            )
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "bars": bars,
        "peak": peak,
        "colors": COLORS,
        "axis": _axis(points, resolution),
        "left": LEFT,
        "bottom": HEIGHT - BOTTOM,
        "top": TOP,
    }


def mean_line(points: list[dict[str, Any]], resolution: str) -> dict[str, Any]:
    """Mean compound score per step on a fixed -1…1 scale; steps with no post are gaps."""
    plot = HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return round(TOP + plot * (1 - (value + 1) / 2), 1)

    dots = [
        {
            "x": round(_x(index, len(points)), 1),
            "y": y(point["mean"]),
            "t": point["t"],
            "value": point["mean"],
        }
        for index, point in enumerate(points)
        if point["mean"] is not None
    ]
    path = " ".join(f"{'M' if i == 0 else 'L'}{dot['x']},{dot['y']}" for i, dot in enumerate(dots))
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "dots": dots,
        "path": path,
        "zero": y(0),
        "plus": y(1),
        "minus": y(-1),
        "axis": _axis(points, resolution),
        "left": LEFT,
        "right": WIDTH - RIGHT,
    }


def _axis(points: list[dict[str, Any]], resolution: str) -> list[dict[str, Any]]:
    """About six time labels along the bottom."""
    every = max(1, len(points) // 6)
    return [
        {"x": round(_x(index, len(points)), 1), "text": _label(point["t"], resolution)}
        for index, point in enumerate(points)
        if index % every == 0
    ]
