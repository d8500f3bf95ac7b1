"""The listener's write-ahead journal: a real listener process is killed with SIGKILL at each
crash point of an envelope's life (``LISTENER_FAULT``), restarted with envelopes cut differently
(as a linger or size cut after a restart would cut them), and the consumer's aggregates on the
shared PostgreSQL queue and table must equal VADER over the posts: every post counted once, none
twice. A journal entry that cannot be read is set aside with its reason, and the rest goes on."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reference_apps.backends import ConfigError
from reference_apps.backends.object_store import FileObjectStore
from reference_apps.social_analytics import (
    DEFAULT_KEYWORDS,
    Service,
    build_service,
    load_settings,
)
from reference_apps.social_analytics.aggregates import series
from reference_apps.social_analytics.consumer import handle, receive_batch
from reference_apps.social_analytics.listener import (
    JOURNAL_PREFIX,
    REJECTED_PREFIX,
    STATE_KEY,
    Faults,
    Listener,
)
from reference_apps.social_analytics.posts import (
    clean_text,
    keyword_pattern,
    make_envelope,
    make_message,
    match_keywords,
    parse_keywords,
)
from reference_apps.social_analytics.sources import DATASET, open_source

LIMIT = 200
KEYWORDS = parse_keywords(DEFAULT_KEYWORDS)
LABELS = ("count", "positive", "neutral", "negative")


def expected() -> dict[str, dict[str, int]]:
    """Per keyword, VADER run here over the first LIMIT posts of the dataset."""
    with gzip.open(DATASET, "rt") as lines:
        posts = [json.loads(line) for line in lines][:LIMIT]
    vader, pattern = SentimentIntensityAnalyzer(), keyword_pattern(KEYWORDS)
    totals = {keyword: dict.fromkeys(LABELS, 0) for keyword in KEYWORDS}
    for post in posts:
        text = clean_text(post["text"], 5000)
        compound = vader.polarity_scores(text)["compound"]
        name = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        for keyword in match_keywords(text, pattern):
            totals[keyword]["count"] += 1
            totals[keyword][name] += 1
    return totals


def matching_uids() -> set[str]:
    with gzip.open(DATASET, "rt") as lines:
        posts = [json.loads(line) for line in lines][:LIMIT]
    pattern = keyword_pattern(KEYWORDS)
    return {
        f"replay:{p['id']}" for p in posts if match_keywords(clean_text(p["text"], 5000), pattern)
    }


@pytest.fixture
def env(postgres_dsn: str, fresh_pg_table: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "OBJECT_STORE_URL": f"file://{tmp_path / 'objects'}",
        "QUEUE_URL": f"{postgres_dsn}?table={fresh_pg_table}_q",
        "KV_URL": f"{postgres_dsn}?table={fresh_pg_table}_kv",
        "QUEUE_MAX_DELIVERIES": "3",
        "QUEUE_VISIBILITY_TIMEOUT": "30",
        "SOURCES": f"replay:?rate=1000&limit={LIMIT}&loop=false",
        "LISTENER_LINGER_MS": "10000",  # envelopes are cut by count only: a known cut
        "LISTENER_LEASE_SECONDS": "3",  # the restart takes the killed one's lease over soon
        "LOG_LEVEL": "INFO",
    }


def listener(env: dict[str, str], log: Path, **settings: str) -> subprocess.Popen:
    base = {key: os.environ[key] for key in ("PATH", "LANG", "HOME") if key in os.environ}
    return subprocess.Popen(
        [sys.executable, "-m", "reference_apps.social_analytics.listener"],
        cwd=REPO,
        env={**base, **env, **settings},
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def finished(objects: FileObjectStore) -> bool:
    """Every post collected, covered by a state save, and the journal empty."""
    try:
        state = json.loads(objects.get(STATE_KEY))
    except KeyError:
        return False
    emitted = state["sources"]["replay"]["position"].get("emitted")
    return emitted == LIMIT and not objects.list(JOURNAL_PREFIX)


def consume_all(svc: Service) -> None:
    while batch := receive_batch(svc, 10, 0):
        handle(svc, batch)


def counted(svc: Service, since: datetime) -> dict[str, dict[str, int]]:
    until = datetime.now(UTC) + timedelta(minutes=1)
    return {
        keyword: {
            name: series(svc.kv, keyword, since, until, "minute")["totals"][name] for name in LABELS
        }
        for keyword in KEYWORDS
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "nth", "flush"),
    [
        ("before-journal", 3, "60"),  # envelopes 1-2 sent, the 3rd cut and lost with the process
        ("before-send", 3, "60"),  # the 3rd journaled, never sent
        ("before-confirm", 3, "60"),  # the 3rd sent, no state save covers any of them
        ("before-forget", 1, "0.1"),  # saved, the journal entries not yet deleted
    ],
)
def test_a_listener_killed_at_each_crash_point_counts_every_post_once(
    env: dict[str, str], tmp_path: Path, point: str, nth: int, flush: str
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    svc = build_service(load_settings(env, web=False), queue=True)
    objects = FileObjectStore(tmp_path / "objects")
    log = tmp_path / "listener.log"
    killed = listener(
        env,
        log,
        LISTENER_FAULT=f"{point}:{nth}",
        LISTENER_ENVELOPE_MAX="10",
        ARCHIVE_FLUSH_SECONDS=flush,
    )
    try:
        assert killed.wait(timeout=60) == -signal.SIGKILL
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait()
    assert "LISTENER_FAULT: killing this process" in log.read_text()
    assert objects.list(JOURNAL_PREFIX)  # the kill left envelopes no state save confirmed
    restarted = listener(env, log, LISTENER_ENVELOPE_MAX="7", ARCHIVE_FLUSH_SECONDS="0.1")
    try:
        wait_for(lambda: finished(objects), 60, "every post collected and saved")
    finally:
        restarted.send_signal(signal.SIGTERM)
        try:
            assert restarted.wait(timeout=20) == 0
        finally:
            if restarted.poll() is None:
                restarted.kill()
                restarted.wait()
    consume_all(svc)
    assert counted(svc, since) == expected()  # none lost, none counted twice
    assert "journaled envelopes sent again" in log.read_text()
    assert svc.queue.dead_letters() == []
    archived = {
        json.loads(line)["uid"]
        for key in objects.list("raw/")
        for line in gzip.decompress(objects.get(key)).splitlines()
    }
    assert archived == matching_uids()  # the resent envelopes' posts reached the archive too


def journal_entry(posts: list[dict[str, Any]]) -> tuple[str, bytes, str]:
    envelope = make_envelope(posts)
    key = f"{JOURNAL_PREFIX}{int(time.time() * 1000):013d}-{envelope['id'][2:]}.json"
    minute = datetime.now(UTC).strftime("%Y-%m-%d/%H%M")
    entry = {"v": 1, "envelope": envelope, "archive": [[minute, {"id": "x"}] for _ in posts]}
    return key, json.dumps(entry).encode(), envelope["id"]


def test_a_malformed_journal_entry_is_set_aside_and_the_rest_resent(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    svc = build_service(load_settings(env, web=False), queue=True)
    now = datetime.now(UTC)
    good_key, good, good_id = journal_entry(
        [make_message("replay", "r00001", "solar is great", ["solar"], now)]
    )
    svc.objects.put(good_key, good)
    bad_posts = [make_message("replay", "r00002", "solar", ["solar"], now)]
    swapped_key, swapped, _ = journal_entry(bad_posts)
    tampered = json.loads(swapped)
    tampered["envelope"]["posts"][0]["uid"] = "replay:r00003"  # the id no longer matches
    broken = {
        f"{JOURNAL_PREFIX}0000000000001-{'a' * 32}.json": b"{not json",
        f"{JOURNAL_PREFIX}0000000000002-{'b' * 32}.json": b'{"v": 9}',
        swapped_key: json.dumps(tampered).encode(),
    }
    for key, data in broken.items():
        svc.objects.put(key, data)
    listener = Listener(svc, [open_source("replay:?limit=0&loop=false", {})], 60)
    with caplog.at_level(logging.ERROR, "social_analytics.listener"):
        listener.restore()  # does not raise
    reasons = {record.key: record.error for record in caplog.records}  # type: ignore[attr-defined]
    assert reasons[f"{JOURNAL_PREFIX}0000000000001-{'a' * 32}.json"].startswith("not JSON")
    assert "version 1" in reasons[f"{JOURNAL_PREFIX}0000000000002-{'b' * 32}.json"]
    assert "does not match its posts" in reasons[swapped_key]
    assert svc.objects.list(JOURNAL_PREFIX) == []  # the good one confirmed, the bad set aside
    assert sorted(svc.objects.list(REJECTED_PREFIX)) == sorted(
        REJECTED_PREFIX + key.removeprefix(JOURNAL_PREFIX) for key in broken
    )
    assert (
        svc.objects.get(REJECTED_PREFIX + swapped_key.removeprefix(JOURNAL_PREFIX))
        == (broken[swapped_key])
    )
    message = svc.queue.receive()
    assert message is not None and message.body["id"] == good_id
    assert svc.queue.receive() is None
    assert listener.counts["journal_rejected"] == 3 and listener.counts["resent"] == 1


@pytest.mark.parametrize("spec", ["sent:1", "before-send", "before-send:0", "nowhere:2"])
def test_a_bad_fault_setting_is_refused(spec: str) -> None:
    with pytest.raises(ConfigError, match="LISTENER_FAULT"):
        Faults(spec)
