"""Posts as they travel from the listener to the consumer: cleaned text, keywords, one id.

The listener builds each post with :func:`make_message` and sends them in envelopes
(:func:`make_envelope`): one queue message holding up to LISTENER_ENVELOPE_MAX posts, whose id
is derived from the posts' ids. The consumer reads a message back with :func:`parse_body`: an
envelope, or a single post of the format before envelopes (still accepted, for a rolling
upgrade). A malformed message raises :class:`InvalidPost` (it then goes to the dead-letter queue
whole); inside a well-formed envelope each post is checked on its own (:func:`parse_post`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

KEYWORD = re.compile(r"^[a-z0-9][a-z0-9_+#.-]{0,39}$")
MESSAGE_VERSION = 1
"""A single post: the message format before envelopes, still accepted by the consumer."""
ENVELOPE_VERSION = 2
ENVELOPE_MAX_POSTS = 1000
ENVELOPE_ID = re.compile(r"^e:[0-9a-f]{32}$")


class InvalidPost(ValueError):
    """A post or message that can never be scored."""


def parse_keywords(raw: str) -> tuple[str, ...]:
    """``KEYWORDS=solar, Football`` → ``("solar", "football")``; a bad one raises ValueError."""
    keywords = tuple(dict.fromkeys(word.strip().lower() for word in raw.split(",") if word.strip()))
    for word in keywords:
        if not KEYWORD.match(word):
            raise ValueError(f"keyword {word!r}: use 1-40 letters, digits and _+#.- characters")
    if not keywords:
        raise ValueError("name at least one keyword, comma-separated")
    return keywords


def clean_text(raw: str | bytes, max_chars: int) -> str:
    """Text safe to score and show: UTF-8 (bad bytes replaced), no control characters, single
    spaces, at most ``max_chars`` characters (a longer post is cut, not dropped)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(char)[0] == "C" else char for char in text)
    text = " ".join(text.split())
    return text[:max_chars]


def keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word, case-insensitive match of any keyword (``#solar`` counts for ``solar``)."""
    alternatives = "|".join(re.escape(word) for word in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<![\w])({alternatives})(?![\w])", re.IGNORECASE)


def match_keywords(text: str, pattern: re.Pattern[str]) -> list[str]:
    return sorted({found.lower() for found in pattern.findall(text)})


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(raw: str) -> datetime:
    """An ISO 8601 instant; a naive one is taken as UTC. ``12:00 01:00`` is read as
    ``12:00+01:00``: an unencoded ``+`` in a query string arrives as a space."""
    raw = re.sub(r" (\d\d:?\d\d)$", r"+\1", raw.strip())
    moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def make_message(
    source: str,
    post_id: str,
    text: str,
    keywords: list[str],
    created_at: datetime,
    url: str = "",
    author: str = "",
) -> dict[str, Any]:
    return {
        "v": MESSAGE_VERSION,
        "uid": f"{source}:{post_id}",
        "source": source,
        "text": text,
        "keywords": keywords,
        "created_at": iso(created_at),
        "url": url[:500],
        "author": author[:100],
    }


def envelope_id(uids: list[str]) -> str:
    """Derived from the posts' ids, in order: sending the same posts again (a retry after a
    failed send) gives the same id, so the consumer counts them once."""
    digest = hashlib.sha256("\n".join(uids).encode()).hexdigest()
    return f"e:{digest[:32]}"


def make_envelope(posts: list[dict[str, Any]]) -> dict[str, Any]:
    """One queue message for several posts built by :func:`make_message`."""
    inner = [{name: value for name, value in post.items() if name != "v"} for post in posts]
    return {
        "v": ENVELOPE_VERSION,
        "id": envelope_id([post["uid"] for post in inner]),
        "posts": inner,
    }


@dataclass
class Unit:
    """What one message brings: its id for exactly-once (the envelope's, or an old single
    post's uid), the posts to count and the posts refused (index, reason, post as sent)."""

    id: str
    posts: list[dict[str, Any]]
    rejected: list[tuple[int, str, Any]] = field(default_factory=list)


def parse_body(body: Any, max_chars: int) -> Unit:
    """A message: an envelope (each post checked on its own) or an old single post. Raises
    InvalidPost when the message as a whole is malformed."""
    if not isinstance(body, dict):
        raise InvalidPost(f"message is not a JSON object: {str(body)[:80]!r}")
    if "rejected" in body:
        raise InvalidPost(f"post refused from envelope {str(body.get('envelope'))[:40]}")
    if body.get("v") == MESSAGE_VERSION:
        post = parse_message(body, max_chars)
        return Unit(post["uid"], [post])
    if body.get("v") != ENVELOPE_VERSION:
        raise InvalidPost(f"unknown message version {body.get('v')!r}")
    if not isinstance(body.get("id"), str) or not ENVELOPE_ID.match(body["id"]):
        raise InvalidPost(f"envelope id {str(body.get('id'))[:80]!r} is not e:<32 hex digits>")
    posts = body.get("posts")
    if not isinstance(posts, list) or not 0 < len(posts) <= ENVELOPE_MAX_POSTS:
        raise InvalidPost(f"envelope posts must be a list of 1-{ENVELOPE_MAX_POSTS} posts")
    unit = Unit(body["id"], [])
    for index, post in enumerate(posts):
        try:
            unit.posts.append(parse_post(post, max_chars))
        except InvalidPost as error:
            unit.rejected.append((index, str(error), post))
    return unit


REJECTED_POST_CHARS = 16_000
"""A refused post larger than this as JSON is kept as its first characters: the dead letter must
fit every queue's message limit (64 KiB on Azure Queue Storage)."""


def rejection(unit: Unit, index: int, error: str, post: Any) -> dict[str, Any]:
    """The dead letter of one refused post of an envelope: what, where from and why."""
    letter = {"rejected": "post", "error": error, "envelope": unit.id, "index": index}
    raw = json.dumps(post)
    if len(raw) <= REJECTED_POST_CHARS:
        return {**letter, "post": post}
    return {**letter, "post_start": raw[:REJECTED_POST_CHARS], "post_chars": len(raw)}


def parse_message(body: Any, max_chars: int) -> dict[str, Any]:
    """A single-post message (the format before envelopes) checked field by field."""
    if not isinstance(body, dict):
        raise InvalidPost(f"message is not a JSON object: {str(body)[:80]!r}")
    if body.get("v") != MESSAGE_VERSION:
        raise InvalidPost(f"unknown message version {body.get('v')!r}")
    return parse_post(body, max_chars)


def parse_post(body: Any, max_chars: int) -> dict[str, Any]:
    """One post checked field by field; InvalidPost says what is wrong."""
    if not isinstance(body, dict):
        raise InvalidPost(f"post is not a JSON object: {str(body)[:80]!r}")
    for name in ("uid", "source", "text", "created_at"):
        if not isinstance(body.get(name), str):
            raise InvalidPost(f"field {name!r} is missing or not a string")
    if not body["text"].strip():
        raise InvalidPost("empty post")
    if len(body["text"]) > max_chars:
        raise InvalidPost(f"post of {len(body['text'])} characters exceeds {max_chars}")
    if not 0 < len(body["uid"]) <= 300:
        raise InvalidPost("uid must be 1-300 characters")
    keywords = body.get("keywords")
    if (
        not isinstance(keywords, list)
        or not keywords
        or not all(isinstance(word, str) and KEYWORD.match(word) for word in keywords)
    ):
        raise InvalidPost(f"keywords must be a non-empty list of keywords: {keywords!r:.80}")
    if not is_time(body["created_at"]):
        raise InvalidPost(f"created_at {body['created_at'][:40]!r} is no ISO 8601 time")
    return body


@functools.lru_cache(maxsize=4096)
def is_time(raw: str) -> bool:
    """Whether ``raw`` is an ISO 8601 instant (the posts of an envelope share a few times)."""
    try:
        parse_time(raw)
    except ValueError:
        return False
    return True
