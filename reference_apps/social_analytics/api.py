"""JSON API: the keywords and each keyword's sentiment over a time range."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from .aggregates import series
from .query import parse_query, service

api = Blueprint("api", __name__, url_prefix="/api/v1")


@api.get("/keywords")
def keywords() -> Response:
    return jsonify(keywords=list(service().keywords))


@api.get("/keywords/<keyword>/sentiment")
def sentiment(keyword: str) -> Response:
    query = parse_query(request.args.to_dict(), keyword)
    data = series(service().kv, query.keyword, query.start, query.end, query.resolution)
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response
