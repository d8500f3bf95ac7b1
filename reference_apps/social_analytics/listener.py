"""The listener: ``python -m reference_apps.social_analytics.listener``.

Polls every source in SOURCES, keeps the posts that mention a keyword in KEYWORDS, enqueues each one
once, in envelopes (one queue message for up to LISTENER_ENVELOPE_MAX posts, or what arrived within
LISTENER_LINGER_MS, or LISTENER_ENVELOPE_BYTES of JSON, whichever comes first; its id is derived
from its posts' ids) and archives the raw posts to the object store in gzip batches per source and
minute (``raw/<source>/<YYYY-MM-DD>/<HHMM>/<first>-<count>.jsonl.gz``). After each archive write the
sources' positions and the recently seen ids are saved (``state/listener.json``), so a restart
resumes where the archive ends.

Write-ahead journal: the consumer counts an envelope once by its id, so a post must never travel
again in a differently cut envelope. Each envelope (its posts as sent, and what the archive needs
of them) is written to ``state/journal/`` *before* it is sent, and deleted once a state save
covers its posts. On start the journaled envelopes are sent again, same ids, same contents, their
posts marked seen and archived, before anything new is collected. Whatever the crash point:
before the journal write, nothing of that envelope left the process (its posts come again from
the sources); after it, the envelope goes again unchanged and the consumer counts it once. A
journal entry that cannot be read is set aside under ``state/journal-rejected/`` with the reason
logged. A failing source is logged and retried later with backoff; the others keep running.
SIGTERM/SIGINT: archive, save, hand the lease over, exit.

Several listeners may run (the blueprint keeps a standby in production): only the one holding
the lease in the key-value table collects; the others check every few seconds and take over,
from the saved state, when the lease expires (LISTENER_LEASE_SECONDS, default 30).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from ..backends import Backoff, ConfigError, ObjectNotFound, is_outage, start_when_ready
from ..web import configure_logging
from . import Service, build_service, load_settings
from .journal import (
    JOURNAL_PREFIX,
    JOURNAL_VERSION,
    REJECTED_PREFIX,
    Faults,
    JournalError,
    read_journal_entry,
)
from .posts import (
    MESSAGE_VERSION,
    clean_text,
    keyword_pattern,
    make_envelope,
    make_message,
    match_keywords,
)
from .sources import RawPost, Source, SourceError, open_source

log = logging.getLogger("social_analytics.listener")
STATE_KEY = "state/listener.json"
LEASE_KEY = "lease#listener"  # <partition>#<sort>: on AWS the table is keyed by id and hour
SEEN_PER_SOURCE = 20_000


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]


class Listener:
    """Sources → de-duplicated, keyword-matched messages → queue, and raw batches → archive."""

    def __init__(
        self,
        service: Service,
        sources: list[Source],
        flush_seconds: float = 10.0,
        envelope_max: int = 100,
        linger: float = 0.2,
        envelope_bytes: int = 48_000,
        faults: Faults | None = None,
    ) -> None:
        self.service = service
        self.faults = faults or Faults()
        self.sources = sources
        self.flush_seconds = flush_seconds
        self.envelope_max = envelope_max
        self.linger = linger
        self.envelope_bytes = envelope_bytes
        self.outbox: list[dict[str, Any]] = []  # posts of the envelope being filled
        self.outbox_archive: list[tuple[str, Any]] = []  # their (minute, raw post)
        self.journaled: list[str] = []  # journal keys of envelopes no state save covers yet
        self.outbox_bytes = 0
        self.outbox_since = 0.0
        self.pattern = keyword_pattern(service.keywords)
        self.seen: dict[str, OrderedDict[str, None]] = {src.name: OrderedDict() for src in sources}
        self.pending: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.last_flush = time.monotonic()
        self.counts = {
            "enqueued": 0,
            "envelopes": 0,
            "duplicates": 0,
            "skipped": 0,
            "archived": 0,
            "resent": 0,
            "journal_rejected": 0,
        }

    def restore(self) -> None:
        """Continue from the last saved state: positions, recently seen ids; then send the
        journaled envelopes again as they were. What was collected after that save and is in
        no journaled envelope is dropped here and comes again from the sources."""
        self.pending.clear()
        self.outbox.clear()
        self.outbox_archive.clear()
        self.outbox_bytes = 0
        self.journaled.clear()
        try:
            state = json.loads(self.service.objects.get(STATE_KEY))
        except ObjectNotFound:
            state = None
        if state is not None:
            for source in self.sources:
                saved = state.get("sources", {}).get(source.name, {})
                source.restore(saved.get("position", {}))
                self.seen[source.name] = OrderedDict.fromkeys(saved.get("seen", []))
            log.info("resumed", extra={"sources": sorted(state.get("sources", {}))})
        if self.resend_journal():
            self.flush()  # archive them and save: their entries can go

    def resend_journal(self) -> int:
        """Send every journaled envelope again, unchanged (the consumer counts each id once),
        mark its posts seen (the sources, resumed from the saved position, deliver them again)
        and queue them for the archive. Returns how many envelopes went."""
        sent = 0
        for key in self.service.objects.list(JOURNAL_PREFIX):
            try:
                data = self.service.objects.get(key)
            except ObjectNotFound:
                continue
            try:
                envelope, archive = read_journal_entry(key, data)
            except JournalError as error:
                self.set_aside(key, data, str(error))
                continue
            self.service.queue.send(envelope)
            self.journaled.append(key)
            for post, (minute, raw) in zip(envelope["posts"], archive, strict=True):
                source = post["source"]
                seen = self.seen.setdefault(source, OrderedDict())
                seen[post["uid"].removeprefix(source + ":")] = None
                while len(seen) > SEEN_PER_SOURCE:
                    seen.popitem(last=False)
                item = {"v": MESSAGE_VERSION, **post, "raw": raw}
                self.pending.setdefault((source, minute), []).append(item)
            self.counts["resent"] += len(envelope["posts"])
            sent += 1
        if sent:
            log.info("journaled envelopes sent again", extra={"envelopes": sent})
        return sent

    def set_aside(self, key: str, data: bytes, why: str) -> None:
        """A journal entry that cannot be sent again is kept for a person to look at, out of
        the journal, so that it stops nobody (its posts, if never sent, come again from the
        sources)."""
        log.error("journal entry set aside", extra={"key": key, "error": why})
        name = key.removeprefix(JOURNAL_PREFIX)
        self.service.objects.put(REJECTED_PREFIX + name, data, "application/octet-stream")
        self.service.objects.delete(key)
        self.counts["journal_rejected"] += 1

    def step(self, now: float | None = None) -> None:
        """Poll the sources that are due, then archive if a batch is ready."""
        now = time.monotonic() if now is None else now
        for source in self.sources:
            if not source.due(now):
                continue
            try:
                posts = source.poll(now)
            except SourceError as error:
                log.warning("source failed", extra={"source": source.name, "error": str(error)})
                continue
            except Exception as error:  # a bug in one source must not stop the others
                source.next_poll = now + 60
                log.error("source crashed", extra={"source": source.name, "error": repr(error)})
                continue
            for post in posts:
                self.accept(source.name, post)
        if self.outbox and time.monotonic() - self.outbox_since >= self.linger:
            self.send_envelope()
        if time.monotonic() - self.last_flush >= self.flush_seconds or self._minute_turned():
            self.flush()

    def _minute_turned(self) -> bool:
        current = datetime.now(UTC).strftime("%Y-%m-%d/%H%M")
        return any(minute != current for _, minute in self.pending)

    def accept(self, source: str, post: RawPost) -> bool:
        """Put one post in the envelope being filled unless it is a duplicate, empty or about no
        keyword; a full envelope is sent at once."""
        seen = self.seen.setdefault(source, OrderedDict())
        if post.id in seen:
            self.counts["duplicates"] += 1
            return False
        text = clean_text(post.text, self.service.max_chars)
        keywords = match_keywords(text, self.pattern)
        if not text or not keywords:
            self.counts["skipped"] += 1
            return False
        message = make_message(
            source, post.id, text, keywords, post.created_at, post.url, post.author
        )
        size = len(json.dumps(message))
        if self.outbox and self.outbox_bytes + size > self.envelope_bytes:
            self.send_envelope()
        if not self.outbox:
            self.outbox_since = time.monotonic()
        minute = datetime.now(UTC).strftime("%Y-%m-%d/%H%M")
        self.outbox.append(message)
        self.outbox_archive.append((minute, post.raw))
        self.outbox_bytes += size
        seen[post.id] = None
        while len(seen) > SEEN_PER_SOURCE:
            seen.popitem(last=False)
        self.pending.setdefault((source, minute), []).append({**message, "raw": post.raw})
        if len(self.outbox) >= self.envelope_max:
            self.send_envelope()
        return True

    def send_envelope(self) -> None:
        """Journal the posts collected so far as one envelope, then send it. On a failure they
        stay here (the loop then resumes from the saved state and the journal, as after a
        restart)."""
        if not self.outbox:
            return
        envelope = make_envelope(self.outbox)
        self.faults.reach("before-journal")
        key = f"{JOURNAL_PREFIX}{int(time.time() * 1000):013d}-{envelope['id'][2:]}.json"
        entry = {"v": JOURNAL_VERSION, "envelope": envelope, "archive": self.outbox_archive}
        self.service.objects.put(key, json.dumps(entry, default=str).encode(), "application/json")
        self.journaled.append(key)
        self.faults.reach("before-send")
        self.service.queue.send(envelope)
        self.faults.reach("before-confirm")
        self.counts["enqueued"] += len(self.outbox)
        self.counts["envelopes"] += 1
        self.outbox = []
        self.outbox_archive = []
        self.outbox_bytes = 0

    def flush(self) -> None:
        """Send the envelope being filled, write each pending batch, then save the positions
        that batch covers (never a position past a post not yet sent), then delete the journal
        entries of the envelopes that save covers."""
        self.send_envelope()
        for (source, minute), batch in sorted(self.pending.items()):
            first = batch[0]["uid"].rsplit(":", 1)[-1]
            key = f"raw/{slug(source)}/{minute}/{int(time.time() * 1000)}-{slug(first)}.jsonl.gz"
            lines = "".join(json.dumps(item, default=str) + "\n" for item in batch)
            self.service.objects.put(key, gzip.compress(lines.encode()), "application/gzip")
            self.counts["archived"] += len(batch)
        self.pending.clear()
        state = {
            "saved_at": datetime.now(UTC).isoformat(),
            "sources": {
                source.name: {"position": source.state(), "seen": list(self.seen[source.name])}
                for source in self.sources
            },
        }
        self.service.objects.put(STATE_KEY, json.dumps(state).encode(), "application/json")
        self.last_flush = time.monotonic()
        if self.journaled:
            self.faults.reach("before-forget")
        while self.journaled:
            self.service.objects.delete(self.journaled[0])
            self.journaled.pop(0)


class Lease:
    """Who collects: the holder renews its lease; a standby takes an expired one. Atomic where
    ``KeyValue.transform`` is (SQLite, PostgreSQL)."""

    def __init__(self, service: Service, seconds: float, holder: str = "") -> None:
        self.kv = service.kv
        self.seconds = seconds
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"

    def hold(self) -> bool:
        """Take or renew the lease; True while this process holds it."""
        now = time.time()

        def change(item: dict[str, Any] | None) -> dict[str, Any]:
            if item and item.get("holder") != self.holder and item.get("expires", 0) > now:
                return item
            return {"holder": self.holder, "expires": now + self.seconds}

        return self.kv.transform(LEASE_KEY, change)["holder"] == self.holder

    def release(self) -> None:
        def change(item: dict[str, Any] | None) -> dict[str, Any]:
            if item and item.get("holder") == self.holder:
                return {**item, "expires": 0}
            return item or {"holder": "", "expires": 0}

        self.kv.transform(LEASE_KEY, change)


def run(
    listener: Listener,
    stop: threading.Event,
    lease: Lease,
    tick: float = 0.2,
    backoff: Backoff | None = None,
) -> None:
    """Collect while holding the lease. A backend outage (queue, archive, table) pauses the loop
    with backoff and, once the backends answer, resumes from the saved state and the journal, as
    a restart would: envelopes sent but not yet saved go again unchanged and the consumer counts
    them once."""
    backoff = backoff or Backoff()
    active = False
    renewed = -float("inf")
    while not stop.is_set():
        try:
            if time.monotonic() - renewed >= lease.seconds / 3:
                holding = lease.hold()
                renewed = time.monotonic()
                if holding and not active:
                    listener.restore()  # continue where the previous holder saved
                    log.info("collecting (lease taken)", extra={"holder": lease.holder})
                elif active and not holding:
                    listener.flush()
                    log.warning("lease lost; standing by", extra={"holder": lease.holder})
                active = holding
            if active:
                listener.step()
        except Exception as error:
            if not is_outage(error):
                raise
            active, renewed = False, -float("inf")
            backoff.wait(stop, error)
            continue
        backoff.reset()
        stop.wait(tick)
    if active:
        listener.flush()
        lease.release()


def main(env: Mapping[str, str] | None = None) -> None:
    settings = load_settings(env, web=False)
    configure_logging(settings.extra.get("LOG_LEVEL", "INFO").upper())
    service = start_when_ready(lambda: build_service(settings, queue=True))
    urls = [url for url in settings.extra.get("SOURCES", "replay:").split() if url]
    sources: list[Source] = []
    for url in urls:
        try:
            sources.append(open_source(url, settings.extra))
        except (ValueError, OSError) as error:
            raise ConfigError(f"SOURCES: {url}: {error}") from None
    flush = settings.number("ARCHIVE_FLUSH_SECONDS", 10, 0.1, 60)
    linger = settings.number("LISTENER_LINGER_MS", 200, 0, 10_000) / 1000
    listener = Listener(
        service,
        sources,
        flush,
        envelope_max=int(settings.number("LISTENER_ENVELOPE_MAX", 100, 1, 1000)),
        linger=linger,
        envelope_bytes=int(settings.number("LISTENER_ENVELOPE_BYTES", 48_000, 4_000, 1_000_000)),
        faults=Faults(settings.extra.get("LISTENER_FAULT", "")),
    )
    lease = Lease(service, settings.number("LISTENER_LEASE_SECONDS", 30, 3, 3600))
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping: archiving what was collected", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("listener started", extra={"sources": [s.name for s in sources]})
    run(listener, stop, lease, tick=min(0.2, max(0.01, linger / 4)))
    log.info("listener stopped", extra=listener.counts)


if __name__ == "__main__":
    main()
