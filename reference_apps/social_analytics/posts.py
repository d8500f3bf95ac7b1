"""Posts as they travel from the listener to the consumer: cleaned text, keywords, one id.

The listener builds the message body with :func:`make_message`; the consumer reads it back with
:func:`parse_message`, which rejects anything malformed with :class:`InvalidPost` (the message
then goes to the dead-letter queue).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

KEYWORD = re.compile(r"^[a-z0-9][a-z0-9_+#.-]{0,39}$")
MESSAGE_VERSION = 1


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


def parse_message(body: Any, max_chars: int) -> dict[str, Any]:
    """The message body checked field by field; InvalidPost says what is wrong."""
    if not isinstance(body, dict):
        raise InvalidPost(f"message is not a JSON object: {str(body)[:80]!r}")
    if body.get("v") != MESSAGE_VERSION:
        raise InvalidPost(f"unknown message version {body.get('v')!r}")
    for field in ("uid", "source", "text", "created_at"):
        if not isinstance(body.get(field), str):
            raise InvalidPost(f"field {field!r} is missing or not a string")
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
    try:
        parse_time(body["created_at"])
    except ValueError:
        raise InvalidPost(f"created_at {body['created_at'][:40]!r} is no ISO 8601 time") from None
    return body
