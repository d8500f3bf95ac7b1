"""The listener's write-ahead journal entries and its crash points (see the listener's
docstring): what an entry must hold to be sent again unchanged, and where a crash test kills the
process."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
from typing import Any

from ..backends import ConfigError
from .posts import ENVELOPE_VERSION, InvalidPost, envelope_id, parse_body

log = logging.getLogger("social_analytics.listener")
JOURNAL_PREFIX = "state/journal/"
REJECTED_PREFIX = "state/journal-rejected/"
JOURNAL_VERSION = 1
JOURNAL_KEY = re.compile(r"^state/journal/\d{13}-([0-9a-f]{32})\.json$")
MINUTE = re.compile(r"^\d{4}-\d\d-\d\d/\d{4}$")
JOURNAL_MAX_CHARS = 100_000
"""The largest POST_MAX_CHARS: a journaled post is checked against it, not the current setting,
so lowering the setting does not set aside an envelope that may already have been counted."""
FAULT_POINTS = ("before-journal", "before-send", "before-confirm", "before-forget")


class JournalError(ValueError):
    """A journal entry that cannot be sent again as it was written."""


class Faults:
    """Crash points for the crash tests, never set in production: ``LISTENER_FAULT=<point>:<n>``
    kills this process with SIGKILL (no handler, no flush, as an OOM kill or a power cut would)
    the n-th time it reaches ``<point>``: ``before-journal`` (an envelope is cut, nothing of it
    written), ``before-send`` (journaled, not sent), ``before-confirm`` (sent, no state save
    covers it yet), ``before-forget`` (a state save covers it, its journal entry not yet
    deleted). Unset, it does nothing."""

    def __init__(self, spec: str = "") -> None:
        self.point, self.after, self.reached = "", 0, 0
        if not spec.strip():
            return
        point, _, count = spec.strip().partition(":")
        if point not in FAULT_POINTS or not count.isdigit() or int(count) < 1:
            raise ConfigError(
                f"LISTENER_FAULT: {spec!r}: use <point>:<n>, n >= 1, point one of"
                f" {', '.join(FAULT_POINTS)}"
            )
        self.point, self.after = point, int(count)

    def reach(self, point: str) -> None:
        if point != self.point:
            return
        self.reached += 1
        if self.reached == self.after:
            log.warning("LISTENER_FAULT: killing this process", extra={"point": point})
            os.kill(os.getpid(), signal.SIGKILL)


def read_journal_entry(key: str, data: bytes) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """A journal entry checked whole: the envelope exactly as sent and, per post, the minute and
    raw post the archive needs. Raises JournalError saying what is wrong."""
    try:
        entry = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise JournalError(f"not JSON: {error}") from None
    if not isinstance(entry, dict) or entry.get("v") != JOURNAL_VERSION:
        raise JournalError(f"not a journal entry of version {JOURNAL_VERSION}")
    envelope = entry.get("envelope")
    if not isinstance(envelope, dict) or envelope.get("v") != ENVELOPE_VERSION:
        raise JournalError(f"no envelope of version {ENVELOPE_VERSION}")
    try:
        unit = parse_body(envelope, JOURNAL_MAX_CHARS)
    except InvalidPost as error:
        raise JournalError(f"envelope: {error}") from None
    if unit.rejected:
        index, why, _post = unit.rejected[0]
        raise JournalError(f"envelope post {index}: {why}")
    if envelope_id([post["uid"] for post in unit.posts]) != unit.id:
        raise JournalError(f"envelope id {unit.id} does not match its posts")
    match = JOURNAL_KEY.match(key)
    if not match or match.group(1) != unit.id[2:]:
        raise JournalError(f"key does not name envelope {unit.id}")
    archive = entry.get("archive")
    if not isinstance(archive, list) or len(archive) != len(unit.posts):
        raise JournalError("archive must list one [minute, raw post] per post")
    items: list[tuple[str, Any]] = []
    for index, (post, item) in enumerate(zip(unit.posts, archive, strict=True)):
        if not post["uid"].startswith(post["source"] + ":"):
            raise JournalError(f"post {index}: uid does not start with its source")
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise JournalError(f"archive item {index} is not [minute, raw post]")
        if not MINUTE.match(item[0]):
            raise JournalError(
                f"archive item {index}: minute {item[0][:20]!r} is no YYYY-MM-DD/HHMM"
            )
        items.append((item[0], item[1]))
    return envelope, items
