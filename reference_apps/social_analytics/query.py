"""The dashboard's and the API's query: keyword, time range and resolution, checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app

from ..web import ApiError
from . import Service
from .posts import parse_time

MAX_POINTS = {"minute": 24 * 60, "hour": 31 * 24}
DEFAULT_SPAN = {"minute": timedelta(minutes=60), "hour": timedelta(hours=24)}


@dataclass(frozen=True)
class Query:
    keyword: str
    start: datetime
    end: datetime
    resolution: str


def service() -> Service:
    return current_app.extensions["social_service"]


def check_keyword(keyword: str) -> str:
    keyword = keyword.strip().lower()
    known = service().keywords
    if keyword not in known:
        raise ApiError(404, f"unknown keyword {keyword[:40]!r}; known: {', '.join(known)}")
    return keyword


def parse_query(args: dict[str, str], keyword: str | None = None) -> Query:
    """``from``/``to`` (ISO 8601, default: the last hour or day) and ``resolution``."""
    resolution = args.get("resolution", "minute")
    if resolution not in MAX_POINTS:
        raise ApiError(400, "resolution must be minute or hour")
    chosen = check_keyword(keyword if keyword is not None else args.get("keyword", ""))
    times: dict[str, datetime] = {}
    for name in ("from", "to"):
        if args.get(name):
            try:
                times[name] = parse_time(args[name])
            except ValueError:
                raise ApiError(
                    400, f"{name}={args[name][:40]!r} is not an ISO 8601 time (2026-11-30T13:00Z)"
                ) from None
    end = times.get("to") or datetime.now(UTC)
    start = times.get("from") or end - DEFAULT_SPAN[resolution]
    if start > end:
        raise ApiError(400, "the time range is backwards: from must be before to")
    step = timedelta(minutes=1) if resolution == "minute" else timedelta(hours=1)
    if (end - start) / step > MAX_POINTS[resolution]:
        raise ApiError(
            400,
            f"range too long for resolution={resolution} (at most {MAX_POINTS[resolution]} points)",
        )
    return Query(chosen, start, end, resolution)
