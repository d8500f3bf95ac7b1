"""social-analytics on the local target, end to end: the listener on the worker host replays a
fixed set of 1,000 posts (a file of the bundled dataset's first 1,000, with recorded times in a
window of the past no other post uses, so the deployment's own live replay does not mix in);
the consumer is killed with SIGKILL mid-stream and systemd restarts it; then, through the load
balancer over HTTPS, the dashboard's API must say what VADER says when run here over the same
posts — not one post lost, none counted twice — the raw archive in SeaweedFS must hold every
post, and the page must draw them in Chromium."""

from __future__ import annotations

import gzip
import json
import os
import random
import shlex
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reference_apps.social_analytics import DEFAULT_KEYWORDS
from reference_apps.social_analytics.posts import (
    clean_text,
    keyword_pattern,
    match_keywords,
    parse_keywords,
)
from reference_apps.social_analytics.sources import DATASET
from tests.browser import browser_trusting
from tests.e2e.conftest import LbClient, wait_until
from tierstack.local.target import LocalTarget

pytestmark = pytest.mark.hosts

APP = "social-analytics"
LISTENER = "social-analytics-listener"
CONSUMER = "social-analytics-consumer"
POSTS = 1000
RATE = 100  # posts per second: a 10-second stream, long enough to kill the consumer inside it
KEYWORDS = parse_keywords(DEFAULT_KEYWORDS)
DROP_IN = f"/etc/systemd/system/{LISTENER}.service.d/e2e.conf"
EXTRA_ENV = f"/etc/tierstack/{LISTENER}.e2e.env"

ARCHIVE_PROBE = """
import gzip, json, sys, boto3
s3 = boto3.client("s3", endpoint_url="http://services:8333", region_name="us-east-1",
                  aws_access_key_id=sys.argv[1], aws_secret_access_key=sys.argv[2])
uids = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[3], Prefix=sys.argv[4]):
    for item in page.get("Contents", []):
        body = s3.get_object(Bucket=sys.argv[3], Key=item["Key"])["Body"].read()
        uids += [json.loads(line)["uid"] for line in gzip.decompress(body).splitlines()]
print(json.dumps(uids))
"""


@dataclass
class Replay:
    """The replayed posts and what was observed while they streamed."""

    token: str
    source: str
    posts: list[dict[str, Any]]
    start: datetime
    end: datetime
    counted_at_kill: int
    restarts: tuple[int, int]

    def params(self) -> dict[str, str]:
        """The API's time range covering exactly the replay's minutes."""
        return {
            "from": self.start.strftime("%Y-%m-%dT%H:%MZ"),
            "to": self.end.strftime("%Y-%m-%dT%H:%MZ"),
        }

    def uids(self) -> set[str]:
        return {f"{self.source}:{post['id']}" for post in self.posts}


def fixed_posts(token: str, start: datetime) -> list[dict[str, Any]]:
    """The bundled dataset's first 1,000 posts, one second apart from ``start``, with ids of
    this run (the listener de-duplicates by id)."""
    with gzip.open(DATASET, "rt", encoding="utf-8") as lines:
        dataset = [json.loads(line) for line in lines][:POSTS]
    return [
        {
            **post,
            "id": f"{token}-{number:04d}",
            "created_at": (start + timedelta(seconds=number)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for number, post in enumerate(dataset)
    ]


def vader_totals(posts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per keyword, VADER run here over the same texts: what the dashboard must say."""
    vader = SentimentIntensityAnalyzer()
    pattern = keyword_pattern(KEYWORDS)
    totals = {
        word: {"count": 0, "positive": 0, "neutral": 0, "negative": 0, "sum": 0.0}
        for word in KEYWORDS
    }
    for post in posts:
        text = clean_text(post["text"], 5000)
        compound = vader.polarity_scores(text)["compound"]
        name = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        for word in match_keywords(text, pattern):
            totals[word]["count"] += 1
            totals[word][name] += 1
            totals[word]["sum"] += compound
    return totals


def counted(lb: Any, params: dict[str, str]) -> int:
    """Posts counted over all keywords in the range, as the API reports them."""
    total = 0
    for word in KEYWORDS:
        response = lb.get(f"/api/v1/keywords/{word}/sentiment", params=params)
        assert response.status_code == 200, response.text
        total += response.json()["totals"]["count"]
    return total


def restarts(worker: Any) -> int:
    return int(worker.check_output(f"systemctl show -p NRestarts --value {CONSUMER}"))


def queued(services: Any, token: str) -> int:
    """Messages of this replay still in the queue (waiting, in flight or dead-lettered)."""
    sql = (
        f"select (select count(*) from jobs where body like '%{token}%')"
        f" + (select count(*) from jobs_dead where body like '%{token}%')"
    )
    return int(services.check_output(f'psql -U postgres -d social_analytics -tA -c "{sql}"'))


def listener_reads(worker: Any, source_url: str | None) -> None:
    """Points the listener at its deployed sources plus ``source_url`` (None: as deployed),
    through a drop-in, and restarts it: it archives, saves and hands its lease over."""
    if source_url is None:
        folder = Path(DROP_IN).parent
        worker.check_output(
            f"rm -f {DROP_IN} {EXTRA_ENV} && rmdir --ignore-fail-on-non-empty {folder}"
        )
    else:
        sources = f"replay: {source_url}"
        worker.check_output(
            f"mkdir -p {Path(DROP_IN).parent} && printf '%s\\n' '[Service]'"
            f" 'EnvironmentFile={EXTRA_ENV}' > {DROP_IN}"
            f" && printf '%s\\n' 'SOURCES=\"{sources}\"' 'ARCHIVE_FLUSH_SECONDS=\"2\"'"
            f" > {EXTRA_ENV} && chgrp {LISTENER} {EXTRA_ENV} && chmod 0640 {EXTRA_ENV}"
        )
    worker.check_output(f"systemctl daemon-reload && systemctl restart {LISTENER}")


@pytest.fixture(scope="module")
def replay(hosts: dict[str, Any], target: LocalTarget) -> Iterator[Replay]:
    if APP not in target.apps:
        pytest.fail(f"{APP} is not deployed on this target (apps: {target.apps})")
    worker, services = hosts["worker"], hosts["services"]
    lb = LbClient(target, APP)
    token = os.urandom(4).hex()
    # A window of 20 minutes somewhere in 2001-2020 that no earlier run used.
    start = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(minutes=20 * random.randrange(500_000))
    posts = fixed_posts(token, start)
    name = f"e2e-{token}.jsonl.gz"
    remote = f"/var/lib/{LISTENER}/{name}"
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / name
        local.write_bytes(gzip.compress("".join(json.dumps(p) + "\n" for p in posts).encode()))
        subprocess.run(
            ["podman", "cp", str(local), f"{target.container('worker')}:{remote}"], check=True
        )
    worker.check_output(f"chown root:{LISTENER} {remote} && chmod 0640 {remote}")
    found = Replay(
        token,
        f"replay:{name}",
        posts,
        start,
        start + timedelta(seconds=POSTS),
        0,
        (0, 0),
    )
    before = restarts(worker)
    try:
        listener_reads(worker, f"replay://{remote}?time=recorded&loop=false&rate={RATE}")
        at_kill = wait_until(
            lambda: (n := counted(lb, found.params())) >= 150 and n, 90, "150 posts counted"
        )
        worker.check_output(f"systemctl kill -s SIGKILL {CONSUMER}")
        at_kill = counted(lb, found.params())  # after the kill: still short of all
        wait_until(
            lambda: restarts(worker) > before and worker.service(CONSUMER).is_running,
            30,
            "systemd to restart the consumer",
        )
        expected = sum(entry["count"] for entry in vader_totals(posts).values())
        # A batch the killed consumer held comes back after the queue's visibility timeout.
        wait_until(
            lambda: counted(lb, found.params()) >= expected and queued(services, token) == 0,
            150,
            f"{expected} keyword posts counted and none of them left in the queue",
        )
        found.counted_at_kill = at_kill
        found.restarts = (before, restarts(worker))
        yield found
    finally:
        listener_reads(worker, None)
        worker.run(f"rm -f {remote}")


def test_api_aggregates_equal_vader_over_the_same_posts(replay: Replay, client: Any) -> None:
    lb = client(APP)
    expected = vader_totals(replay.posts)
    assert all(expected[word]["count"] > 50 for word in KEYWORDS)  # every keyword is exercised
    for word, want in expected.items():
        response = lb.get(f"/api/v1/keywords/{word}/sentiment", params=replay.params())
        assert response.status_code == 200, response.text
        data = response.json()
        totals = data["totals"]
        assert {name: totals[name] for name in ("count", "positive", "neutral", "negative")} == {
            name: want[name] for name in ("count", "positive", "neutral", "negative")
        }, word
        assert totals["mean"] == pytest.approx(want["sum"] / want["count"], abs=1e-4), word
        # The posts sit in their recorded minutes, not in the minutes they were played.
        assert sum(point["count"] for point in data["points"]) == want["count"]
        busy = [point for point in data["points"] if point["count"]]
        assert len(busy) == 17, word  # 1,000 s from a whole minute: 16 full minutes and 40 s


def test_consumer_killed_mid_stream_lost_and_doubled_nothing(replay: Replay, client: Any) -> None:
    expected = sum(entry["count"] for entry in vader_totals(replay.posts).values())
    assert 150 <= replay.counted_at_kill < expected  # it really died mid-stream
    assert replay.restarts[1] > replay.restarts[0]  # systemd restarted it
    # Every message of the replay is acked (none waits, none dead-lettered) and the counts are
    # exactly VADER's: a batch counted before the kill and delivered again was not added twice.
    assert counted(client(APP), replay.params()) == expected


def test_the_raw_archive_holds_every_post(
    replay: Replay, hosts: dict[str, Any], target: LocalTarget
) -> None:
    keys = target.secrets()
    worker = hosts["worker"]
    worker.check_output(f"cat > /tmp/archive_probe.py <<'EOF'\n{ARCHIVE_PROBE}\nEOF")
    prefix = "raw/" + replay.source.replace(":", "_") + "/"

    def archived() -> list[str]:
        return json.loads(
            worker.check_output(
                "/opt/tierstack/venv/bin/python /tmp/archive_probe.py "
                f"{keys['social_analytics_s3_access']} {keys['social_analytics_s3_secret']} "
                f"{APP} {prefix}"
            )
        )

    # The listener archives every ARCHIVE_FLUSH_SECONDS (2 here) and when it stops.
    uids = wait_until(
        lambda: (found := archived()) and set(found) >= replay.uids() and found,
        30,
        "the archive to hold the replay",
    )
    assert set(uids) == replay.uids()


def test_the_dashboard_draws_the_replay_through_the_load_balancer(
    replay: Replay, target: LocalTarget
) -> None:
    expected = vader_totals(replay.posts)["solar"]
    query = "&".join(f"{key}={value}" for key, value in replay.params().items())
    url = f"https://{APP}.localhost:{target.https_port}/?keyword=solar&{query}"
    with browser_trusting(target.state_dir / "lb.crt") as browser:
        page = browser.open(url)
        assert page.title.startswith("solar")
        bars = page.find_elements(By.CSS_SELECTOR, "#volume-chart .point")
        assert len(bars) == 17  # one per minute of the range
        assert sum(int(bar.get_attribute("data-value")) for bar in bars) == expected["count"]
        row = page.find_element(By.CSS_SELECTOR, 'tr[data-keyword="solar"] td.count')
        assert int(row.text) == expected["count"]
        assert page.find_elements(By.CSS_SELECTOR, "ol.posts.positive li")
        assert page.find_elements(By.CSS_SELECTOR, "ol.posts.negative li")
        assert browser.console_errors() == []
        # The live view (no range): the deployment's own replay fills the last hour.
        page = browser.open(f"https://{APP}.localhost:{target.https_port}/?keyword=coffee")
        live = page.find_elements(By.CSS_SELECTOR, "#volume-chart .point")
        assert sum(int(bar.get_attribute("data-value")) for bar in live) > 0
        assert browser.console_errors() == []
        browser.screenshot("social-analytics-local-target")


def test_bad_queries_get_a_4xx_through_the_load_balancer(target: LocalTarget) -> None:
    lb = LbClient(target, APP)
    cases = [
        ("/api/v1/keywords/bitcoin/sentiment", 404, "unknown keyword 'bitcoin'"),
        (
            "/api/v1/keywords/solar/sentiment?from=2026-11-30T12:00Z&to=2026-11-30T11:00Z",
            400,
            "backwards",
        ),
        ("/api/v1/keywords/solar/sentiment?resolution=second", 400, "minute or hour"),
    ]
    for path, status, message in cases:
        response = lb.get(path)
        assert response.status_code == status, path
        assert message in response.json()["error"], path
    page = lb.get("/?keyword=solar&from=yesterday")
    assert page.status_code == 400 and "is not an ISO 8601 time" in page.text


def test_malformed_messages_on_the_real_queue_are_dead_lettered(hosts: dict[str, Any]) -> None:
    """A producer's bad message (not JSON; an old single-post message with no text; an envelope
    with no posts) must not block the consumer on the worker host: it is given back at once and
    lands in the dead-letter table whole. A well-formed envelope holding a post with no text is
    acked, and that post alone is dead-lettered with the reason."""
    services = hosts["services"]
    token = os.urandom(4).hex()
    empty_post = {
        "uid": f"e2e:{token}",
        "source": "e2e",
        "text": "",
        "keywords": ["solar"],
        "created_at": "2001-01-01T00:00:00Z",
    }
    bodies = [
        f"not json {token}",
        json.dumps({"v": 1, "uid": token, "text": ""}),
        json.dumps({"v": 2, "id": f"e:{token * 4}", "posts": []}),
        json.dumps({"v": 2, "id": f"e:{token[::-1] * 4}", "posts": [empty_post]}),
    ]

    def psql(sql: str) -> str:
        return services.check_output(
            f"psql -U postgres -d social_analytics -tA -c {shlex.quote(sql)}"
        ).strip()

    for body in bodies:
        psql(f"insert into jobs (id, body) values (gen_random_uuid(), '{body}')")
    where = f"body like '%{token}%'"
    wait_until(
        lambda: psql(f"select count(*) from jobs_dead where {where}") == "4",
        90,
        "three bad messages and one refused post in the dead-letter table",
    )
    assert psql(f"select count(*) from jobs where {where}") == "0"
    refused = json.loads(
        psql(f"select body from jobs_dead where {where} and body like '%rejected%'")
    )
    assert (refused["error"], refused["post"]["uid"]) == ("empty post", f"e2e:{token}")
