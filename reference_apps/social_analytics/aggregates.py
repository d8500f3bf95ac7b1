"""Sentiment aggregates per keyword and minute, and per keyword and hour, in the key-value table.

A minute item keeps the ids of the messages it has counted (``uids``: an envelope's id, or an old
single-post message's post uid), so a redelivered message is skipped inside the same locked
read-modify-write that would count it (``KeyValue.transform``): counting and de-duplicating cannot
be separated by a crash. One id per envelope, not per post, keeps the items small. An hour item
holds a copy of each minute's totals (set, not added), so rewriting it after a redelivery changes
nothing.
"""

from __future__ import annotations

import heapq
from datetime import UTC, datetime, timedelta
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from ..backends import KeyValue
from ..backends.kv import Change
from .posts import Unit, parse_time

TOP = 5
LABELS = ("positive", "neutral", "negative")
POSITIVE_AT = 0.05
"""VADER's own thresholds: compound ≥ 0.05 positive, ≤ -0.05 negative, neutral between."""

_analyzer: SentimentIntensityAnalyzer | None = None


def score(text: str) -> float:
    """VADER's compound score in [-1, 1]."""
    global _analyzer
    if _analyzer is None:
        _analyzer = SentimentIntensityAnalyzer()
    return float(_analyzer.polarity_scores(text)["compound"])


def label(compound: float) -> str:
    if compound >= POSITIVE_AT:
        return "positive"
    if compound <= -POSITIVE_AT:
        return "negative"
    return "neutral"


def minute_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def minute_key(keyword: str, minute: str) -> str:
    return f"agg:m:{keyword}:{minute}"


def hour_key(keyword: str, hour: str) -> str:
    return f"agg:h:{keyword}:{hour}"


def empty_totals() -> dict[str, Any]:
    return {"count": 0, "positive": 0, "neutral": 0, "negative": 0, "score_sum": 0.0}


def summary(post: dict[str, Any], compound: float) -> dict[str, Any]:
    """What the dashboard shows of a top post."""
    return {
        "uid": post["uid"],
        "text": post["text"][:280],
        "score": compound,
        "source": post["source"],
        "url": post.get("url", ""),
        "created_at": post["created_at"],
    }


def merge_top(
    current: list[dict[str, Any]], new: list[dict[str, Any]], positive: bool
) -> list[dict[str, Any]]:
    by_uid = {item["uid"]: item for item in [*current, *new]}
    ranked = sorted(
        by_uid.values(), key=lambda item: (item["score"], item["uid"]), reverse=positive
    )
    return ranked[:TOP]


def minute_change(
    keyword: str, minute: str, scored: list[tuple[str, dict[str, Any], float]]
) -> Any:
    """Counts the posts of the messages (``(message id, post, score)``) not counted yet in this
    minute item."""

    def change(item: dict[str, Any] | None) -> dict[str, Any]:
        item = item or {"keyword": keyword, "minute": minute, **empty_totals(), "uids": []}
        counted = set(item["uids"])
        fresh = [(post, compound) for unit, post, compound in scored if unit not in counted]
        for unit in dict.fromkeys(unit for unit, _, _ in scored):
            if unit not in counted:
                item["uids"].append(unit)
        for _post, compound in fresh:
            item["count"] += 1
            item[label(compound)] += 1
            item["score_sum"] += compound
        # Only the TOP candidates of each side can enter the lists: summarise just those.
        positives = [
            summary(post, compound)
            for compound, _, post in heapq.nlargest(
                TOP,
                ((c, p["uid"], p) for p, c in fresh if c >= POSITIVE_AT),
                key=lambda entry: entry[:2],  # never compares the posts themselves
            )
        ]
        negatives = [
            summary(post, compound)
            for compound, _, post in heapq.nsmallest(
                TOP,
                ((c, p["uid"], p) for p, c in fresh if c <= -POSITIVE_AT),
                key=lambda entry: entry[:2],  # never compares the posts themselves
            )
        ]
        item["top_positive"] = merge_top(item.get("top_positive", []), positives, True)
        item["top_negative"] = merge_top(item.get("top_negative", []), negatives, False)
        return item

    return change


def hour_change(keyword: str, minute_items: list[dict[str, Any]]) -> Any:
    """Sets the minutes' totals and top posts into their hour item."""

    def change(item: dict[str, Any] | None) -> dict[str, Any]:
        item = item or {"keyword": keyword, "hour": minute_items[0]["minute"][:13], "minutes": {}}
        for minute_item in minute_items:
            totals = {name: minute_item[name] for name in empty_totals()}
            item["minutes"][minute_item["minute"][14:]] = totals
            item["top_positive"] = merge_top(
                item.get("top_positive", []), minute_item["top_positive"], True
            )
            item["top_negative"] = merge_top(
                item.get("top_negative", []), minute_item["top_negative"], False
            )
        for name in empty_totals():
            item[name] = sum(entry[name] for entry in item["minutes"].values())
        return item

    return change


def minute_changes(units: list[Unit]) -> dict[str, Change]:
    """Score the messages' checked posts and group them into the changes of their minute items."""
    groups: dict[tuple[str, str], list[tuple[str, dict[str, Any], float]]] = {}
    unique: dict[str, Unit] = {}
    for unit in units:  # the same message twice in one batch (a redelivery) is scored once
        unique.setdefault(unit.id, unit)
    minutes: dict[str, str] = {}  # created_at → minute: an envelope's posts share a few
    for unit in unique.values():
        for post in unit.posts:
            compound = score(post["text"])
            minute = minutes.get(post["created_at"])
            if minute is None:
                minute = minutes[post["created_at"]] = minute_of(parse_time(post["created_at"]))
            for keyword in post["keywords"]:
                groups.setdefault((keyword, minute), []).append((unit.id, post, compound))
    return {
        minute_key(keyword, minute): minute_change(keyword, minute, scored)
        for (keyword, minute), scored in groups.items()
    }


def hour_of_minute_key(key: str) -> str:
    """The hour item a minute item is copied into."""
    _, _, keyword, minute = key.split(":", 3)
    return hour_key(keyword, minute[:13])


def hour_changes(minutes: list[dict[str, Any]]) -> dict[str, Change]:
    """The changes that copy minute items into their hour items."""
    by_hour: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in minutes:
        by_hour.setdefault((item["keyword"], item["minute"][:13]), []).append(item)
    return {
        hour_key(keyword, hour): hour_change(keyword, items)
        for (keyword, hour), items in by_hour.items()
    }


def record(kv: KeyValue, units: list[Unit]) -> int:
    """Score the messages' checked posts and add them to their minute items, then copy those
    into their hour items: two transactions per batch where the table has them. Returns the
    posts scored."""
    minutes = kv.transform_many(minute_changes(units))
    kv.transform_many(hour_changes(list(minutes.values())))
    return sum(len(unit.posts) for unit in units)


def series(
    kv: KeyValue, keyword: str, start: datetime, end: datetime, resolution: str
) -> dict[str, Any]:
    """Points from ``start`` to ``end`` (inclusive, truncated to the resolution), totals over
    them and the most positive and negative posts among them."""
    step = timedelta(minutes=1) if resolution == "minute" else timedelta(hours=1)
    moment = start.astimezone(UTC).replace(second=0, microsecond=0)
    if resolution == "hour":
        moment = moment.replace(minute=0)
    points: list[dict[str, Any]] = []
    totals = empty_totals()
    top_positive: list[dict[str, Any]] = []
    top_negative: list[dict[str, Any]] = []
    while moment <= end:
        stamp = minute_of(moment)
        key = (
            minute_key(keyword, stamp) if resolution == "minute" else hour_key(keyword, stamp[:13])
        )
        item = kv.get(key) or {}
        point = {name: item.get(name, 0) for name in empty_totals()}
        points.append(
            {
                "t": moment.strftime("%Y-%m-%dT%H:%M:00Z"),
                **{name: point[name] for name in ("count", *LABELS)},
                "mean": round(point["score_sum"] / point["count"], 4) if point["count"] else None,
            }
        )
        for name in totals:
            totals[name] += point[name]
        top_positive = merge_top(top_positive, item.get("top_positive", []), True)
        top_negative = merge_top(top_negative, item.get("top_negative", []), False)
        moment += step
    count = totals["count"]
    return {
        "keyword": keyword,
        "resolution": resolution,
        "points": points,
        "totals": {
            "count": count,
            **{name: totals[name] for name in LABELS},
            "mean": round(totals["score_sum"] / count, 4) if count else None,
        },
        "top_positive": top_positive,
        "top_negative": top_negative,
    }
