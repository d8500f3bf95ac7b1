"""The dashboard page: keywords, volume and sentiment over time, top posts; refreshes itself."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from . import charts
from .aggregates import series
from .query import parse_query, service

pages = Blueprint("pages", __name__)


@pages.get("/")
def dashboard() -> str:
    args = request.args.to_dict()
    keywords = service().keywords
    query = parse_query(args, args.get("keyword") or keywords[0])
    overview = [
        series(service().kv, word, query.start, query.end, query.resolution)["totals"]
        | {"keyword": word}
        for word in keywords
    ]
    data = series(service().kv, query.keyword, query.start, query.end, query.resolution)
    return render_template(
        "dashboard.html",
        query=query,
        keywords=keywords,
        overview=overview,
        data=data,
        volume=charts.volume(data["points"], query.resolution),
        mean=charts.mean_line(data["points"], query.resolution),
        refresh=current_app.extensions["refresh_seconds"],
        explicit_range=bool(args.get("from") or args.get("to")),
    )
