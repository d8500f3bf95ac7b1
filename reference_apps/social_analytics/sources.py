"""Where the listener gets posts, each source chosen by one URL in ``SOURCES``:

- ``replay:`` the bundled dataset (or ``replay:///path/file.jsonl.gz``), ``?rate=`` posts per
  second, ``?limit=`` posts in all (then it stops), ``?loop=false`` to play it once,
  ``?time=recorded`` to keep each post's own ``created_at`` (a backfill) instead of the time it
  is played;
- ``mastodon://instance/tags/tag`` a public hashtag timeline (``mastodon+http://`` for a
  plain-HTTP instance on a private network);
- ``rss+https://…`` / ``atom+https://…`` (and ``+http``) a feed, read with feedparser.

A source is a small class: ``poll()`` returns the posts that arrived since the last call, and
``state``/``restore`` carry its position across restarts. Adding one (the X API, which is paid)
is one class and one line in :func:`open_source`.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import feedparser

log = logging.getLogger("social_analytics.sources")

DATASET = Path(__file__).parent / "data" / "replay.jsonl.gz"
MAX_RESPONSE_BYTES = 5 * 1024 * 1024
USER_AGENT = "tierstack-social-analytics/1.0"
MAX_BACKOFF = 900.0


class SourceError(Exception):
    """A source could not be read this time; the listener logs it and tries again later."""


@dataclass
class RawPost:
    """A post as a source delivers it, before cleaning and keyword matching."""

    id: str
    text: str | bytes
    created_at: datetime
    url: str = ""
    author: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


class Source(ABC):
    """One place posts come from; the listener calls ``poll`` when ``due``."""

    name: str

    def __init__(self, name: str, interval: float) -> None:
        self.name = name
        self.interval = interval
        self.next_poll = 0.0
        self.failures = 0

    def due(self, now: float) -> bool:
        return now >= self.next_poll

    def poll(self, now: float) -> list[RawPost]:
        """New posts; on failure, waits longer each time (exponential, capped) before retrying."""
        try:
            posts = self.fetch(now)
        except SourceError as error:
            self.failures += 1
            delay = getattr(error, "retry_after", None) or min(
                MAX_BACKOFF, self.interval * 2 ** min(self.failures, 10)
            )
            self.next_poll = now + delay
            raise
        self.failures = 0
        self.next_poll = max(self.next_poll, now + self.interval)
        return posts

    @abstractmethod
    def fetch(self, now: float) -> list[RawPost]: ...

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a saved ``state()`` (after a restart); stateless sources ignore it."""
        return None


class RateLimited(SourceError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ReplaySource(Source):
    """Posts from a file played back at ``rate`` per second; looping gives new ids per round.
    Another file than the bundled one is another source (``replay:<file name>``), so each keeps
    its own position and seen ids. With ``recorded`` each post keeps its ``created_at``, so a
    backfill lands in the minutes it was written in."""

    def __init__(
        self, path: Path, rate: float, limit: int | None, loop: bool, recorded: bool = False
    ) -> None:
        super().__init__("replay" if path == DATASET else f"replay:{path.name}", 0.0)
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            self.posts = [json.loads(line) for line in lines if line.strip()]
        if not self.posts:
            raise ValueError(f"{path}: no posts")
        self.recorded: list[datetime] = []
        if recorded:
            for number, post in enumerate(self.posts, 1):
                try:
                    moment = datetime.fromisoformat(
                        str(post.get("created_at")).replace("Z", "+00:00")
                    )
                except ValueError:
                    raise ValueError(
                        f"{path}: post {number} has no ISO 8601 created_at (time=recorded)"
                    ) from None
                self.recorded.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        self.rate, self.limit, self.loop = rate, limit, loop
        self.emitted = 0
        self.started: float | None = None
        self.started_at = 0

    def fetch(self, now: float) -> list[RawPost]:
        if self.started is None:
            self.started, self.started_at = now, self.emitted
        target = self.started_at + int((now - self.started) * self.rate)
        if self.limit is not None:
            target = min(target, self.limit)
        if not self.loop:
            target = min(target, len(self.posts))
        batch = []
        moment = datetime.now(UTC)
        while self.emitted < target:
            cycle, index = divmod(self.emitted, len(self.posts))
            post = self.posts[index]
            post_id = post["id"] if cycle == 0 else f"{post['id']}-{cycle}"
            created = self.recorded[index] if self.recorded else moment
            batch.append(RawPost(post_id, post["text"], created, "", post["author"], post))
            self.emitted += 1
        return batch

    def state(self) -> dict[str, Any]:
        return {"emitted": self.emitted}

    def restore(self, state: dict[str, Any]) -> None:
        self.emitted = int(state.get("emitted", 0))


def http_get(url: str, headers: dict[str, str], timeout: float = 15) -> tuple[int, Any, bytes]:
    """(status, headers, body) for any status; network failures raise SourceError."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read(4096)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise SourceError(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None


def retry_after(headers: Any, now: float) -> float | None:
    """Seconds to wait from ``Retry-After`` or Mastodon's ``X-RateLimit-Reset``."""
    value = headers.get("Retry-After") if headers else None
    if value:
        if value.strip().isdigit():
            return max(1.0, float(value))
        try:
            return max(1.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    reset = headers.get("X-RateLimit-Reset") if headers else None
    if reset:
        try:
            moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
            return max(1.0, moment.timestamp() - time.time())
        except ValueError:
            pass
    return None


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"p", "br", "div", "li"}:
            self.parts.append(" ")


def html_text(html: str) -> str:
    """The visible text of an HTML fragment (Mastodon statuses and feed summaries are HTML)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


class MastodonSource(Source):
    """``GET /api/v1/timelines/tag/:tag?since_id=`` — public, no token needed. Answers 429 and
    5xx with a wait (Retry-After / X-RateLimit-Reset, else exponential backoff)."""

    def __init__(self, base: str, tag: str, interval: float) -> None:
        super().__init__(f"mastodon:{urlsplit(base).netloc}/{tag}", interval)
        self.endpoint = f"{base}/api/v1/timelines/tag/{quote(tag, safe='')}"
        self.since_id: str | None = None

    def fetch(self, now: float) -> list[RawPost]:
        url = f"{self.endpoint}?limit=40" + (f"&since_id={self.since_id}" if self.since_id else "")
        status, headers, body = http_get(url, {"Accept": "application/json"})
        if status == 429:
            wait = retry_after(headers, now) or 60.0
            raise RateLimited(f"{self.name}: rate limited (HTTP 429), waiting {wait:.0f} s", wait)
        if status >= 400:
            raise SourceError(f"{self.name}: HTTP {status} from {url}")
        try:  # a bad byte must not hide the rest of the timeline
            statuses = json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            raise SourceError(f"{self.name}: the answer is not JSON") from None
        if not isinstance(statuses, list):
            raise SourceError(f"{self.name}: expected a list of statuses")
        posts = []
        for entry in statuses:
            if not isinstance(entry, dict) or not str(entry.get("id", "")).isdigit():
                continue
            try:
                created = datetime.fromisoformat(
                    str(entry.get("created_at")).replace("Z", "+00:00")
                )
            except ValueError:
                created = datetime.now(UTC)
            account = entry.get("account") if isinstance(entry.get("account"), dict) else {}
            posts.append(
                RawPost(
                    str(entry["id"]),
                    html_text(str(entry.get("content") or "")),
                    created,
                    str(entry.get("url") or ""),
                    str(account.get("acct") or ""),
                    entry,
                )
            )
        if posts:
            newest = max(int(post.id) for post in posts)
            self.since_id = str(max(newest, int(self.since_id or 0)))
        if headers and headers.get("X-RateLimit-Remaining") == "0":
            self.next_poll = now + (retry_after(headers, now) or self.interval)
        return posts

    def state(self) -> dict[str, Any]:
        return {"since_id": self.since_id}

    def restore(self, state: dict[str, Any]) -> None:
        self.since_id = state.get("since_id")


class FeedSource(Source):
    """An RSS or Atom feed, fetched with ETag/Last-Modified so an unchanged feed costs little."""

    def __init__(self, url: str, interval: float) -> None:
        parts = urlsplit(url)
        digest = hashlib.sha1(url.encode()).hexdigest()[:8]
        super().__init__(f"feed:{parts.netloc}-{digest}", interval)
        self.url = url
        self.etag = ""
        self.modified = ""

    def fetch(self, now: float) -> list[RawPost]:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml"}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.modified:
            headers["If-Modified-Since"] = self.modified
        status, response_headers, body = http_get(self.url, headers)
        if status == 304:
            return []
        if status == 429:
            wait = retry_after(response_headers, now) or 300.0
            raise RateLimited(f"{self.name}: rate limited (HTTP 429), waiting {wait:.0f} s", wait)
        if status >= 400:
            raise SourceError(f"{self.name}: HTTP {status} from {self.url}")
        if len(body) > MAX_RESPONSE_BYTES:
            raise SourceError(f"{self.name}: feed larger than {MAX_RESPONSE_BYTES} bytes")
        feed = feedparser.parse(body)
        if not feed.get("version") and not feed.entries:
            reason = feed.get("bozo_exception") or "no RSS or Atom elements"
            raise SourceError(f"{self.name}: {self.url} is not an RSS or Atom feed ({reason})")
        self.etag = response_headers.get("ETag", "") if response_headers else ""
        self.modified = response_headers.get("Last-Modified", "") if response_headers else ""
        posts = []
        for entry in feed.entries:
            text = " ".join(
                part
                for part in (entry.get("title", ""), html_text(entry.get("summary", "")))
                if part
            )
            post_id = (
                entry.get("id") or entry.get("link") or hashlib.sha1(text.encode()).hexdigest()
            )
            stamp = entry.get("published_parsed") or entry.get("updated_parsed")
            created = datetime(*stamp[:6], tzinfo=UTC) if stamp else datetime.now(UTC)
            raw = {key: entry.get(key) for key in ("id", "title", "link", "summary", "published")}
            posts.append(RawPost(str(post_id)[:200], text, created, entry.get("link", ""), "", raw))
        return posts


def open_source(url: str, env: dict[str, str] | Any) -> Source:
    """One source from its URL; ValueError says what is wrong with it."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if scheme == "replay":
        path = Path(parts.path) if parts.path not in ("", "/") else DATASET
        rate = float(query.get("rate", env.get("REPLAY_RATE", "20")))
        limit = query.get("limit", env.get("REPLAY_LIMIT", ""))
        loop = query.get("loop", env.get("REPLAY_LOOP", "true")).lower() in {"1", "true", "yes"}
        if not 0 < rate <= 100_000:
            raise ValueError("rate must be between 0 and 100000 posts per second")
        time_of = query.get("time", "now")
        if time_of not in ("now", "recorded"):
            raise ValueError("time must be now (when played) or recorded (each post's created_at)")
        return ReplaySource(path, rate, int(limit) if limit else None, loop, time_of == "recorded")
    if scheme in {"mastodon", "mastodon+http", "mastodon+https"}:
        segments = [segment for segment in parts.path.split("/") if segment]
        if not parts.netloc or len(segments) != 2 or segments[0] != "tags":
            raise ValueError("use mastodon://instance.example/tags/tagname")
        transport = "http" if scheme == "mastodon+http" else "https"
        interval = float(env.get("MASTODON_INTERVAL", "30"))
        return MastodonSource(f"{transport}://{parts.netloc}", segments[1], interval)
    if scheme in {"rss+https", "rss+http", "atom+https", "atom+http"}:
        if not parts.netloc:
            raise ValueError("use rss+https://host/path/to/feed")
        interval = float(env.get("FEED_INTERVAL", "300"))
        return FeedSource(url.strip().split("+", 1)[1], interval)
    raise ValueError("unknown source; use replay:, mastodon://instance/tags/tag or rss+https://…")
