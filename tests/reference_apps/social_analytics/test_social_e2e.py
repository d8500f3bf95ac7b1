"""The whole pipeline as the hosts run it, on this machine: the listener and the consumer as real
processes, the dashboard under gunicorn, PostgreSQL as the shared queue and key-value table and
moto's S3 server as the raw archive. 1,000 replayed posts, a consumer killed mid-stream and
restarted, malformed messages in the queue; then the dashboard's API against VADER run directly
over the same posts, the archive against the dataset, and the page in headless Chromium."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import REPO, free_port, stop
from selenium.webdriver.common.by import By
from social_remote import serve
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reference_apps.backends.queue import PostgresQueue
from reference_apps.social_analytics import DEFAULT_KEYWORDS
from reference_apps.social_analytics.posts import (
    clean_text,
    keyword_pattern,
    make_envelope,
    make_message,
    match_keywords,
    parse_keywords,
)
from reference_apps.social_analytics.sources import DATASET
from tests.browser import PHONE, Browser, browser  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.emulators]
BIN = Path(sys.executable).parent
POSTS = 1000
OLD = datetime(2001, 1, 1, tzinfo=UTC)


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def answers(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except urllib.error.URLError:
        return False


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def expected_totals() -> dict[str, dict[str, Any]]:
    """Per keyword, straight from the dataset and VADER: what the dashboard must say."""
    with gzip.open(DATASET, "rt") as lines:
        posts = [json.loads(line) for line in lines][:POSTS]
    vader = SentimentIntensityAnalyzer()
    pattern = keyword_pattern(parse_keywords(DEFAULT_KEYWORDS))
    totals: dict[str, dict[str, Any]] = {}
    for post in posts:
        compound = vader.polarity_scores(clean_text(post["text"], 5000))["compound"]
        name = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        for keyword in match_keywords(post["text"], pattern):
            entry = totals.setdefault(
                keyword, {"count": 0, "positive": 0, "neutral": 0, "negative": 0, "sum": 0.0}
            )
            entry["count"] += 1
            entry[name] += 1
            entry["sum"] += compound
    return totals


@dataclass
class Pipeline:
    url: str
    env: dict[str, str]
    started: datetime
    queue: PostgresQueue
    bucket: str
    killed_at_count: int
    listener_log: Path
    listener_exit: int
    consumer_exit: int

    def sentiment(self, keyword: str, **params: str) -> tuple[int, Any]:
        query = {
            "from": (self.started - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%MZ"),
            "to": (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%MZ"),
            **params,
        }
        encoded = urllib.parse.urlencode(query)
        return get(f"{self.url}/api/v1/keywords/{keyword}/sentiment?{encoded}")

    def total(self) -> int:
        return sum(
            self.sentiment(keyword)[1]["totals"]["count"]
            for keyword in parse_keywords(DEFAULT_KEYWORDS)
        )


def process(module: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", f"reference_apps.social_analytics.{module}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


@pytest.fixture(scope="module")
def pipeline(
    postgres_dsn: str, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    remote_context = serve()  # a feed that is not XML, a Mastodon instance failing 500 then 429
    remote = remote_context.__enter__()
    remote.routes["/feed.xml"] = [(200, {"Content-Type": "text/html"}, b"<html>moved</html>")]
    remote.routes["/api/v1/timelines/tag/solar"] = [
        (500, {}, b""),
        (429, {"Retry-After": "2"}, b""),
    ]
    root = tmp_path_factory.mktemp("social")
    suffix = os.urandom(4).hex()
    bucket = f"raw-posts-{suffix}"
    aws = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        **{
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
        },
    ).create_bucket(Bucket=bucket)
    keep = {"PATH", "LANG", "LC_ALL"}
    env = {
        **{key: value for key, value in os.environ.items() if key in keep},
        **aws,
        "HOME": str(root),
        "DATA_DIR": str(root / "data"),
        "QUEUE_URL": f"{postgres_dsn}?table=posts_{suffix}",
        "KV_URL": f"{postgres_dsn}?table=sentiment_{suffix}",
        "OBJECT_STORE_URL": f"s3://{bucket}",
        "QUEUE_VISIBILITY_TIMEOUT": "3",
        "QUEUE_MAX_DELIVERIES": "3",
        "SOURCES": f"replay:?rate=200&limit={POSTS}&loop=false rss+{remote.url}/feed.xml"
        f" mastodon+http://{remote.url.removeprefix('http://')}/tags/solar",
        "MASTODON_INTERVAL": "1",
        "ARCHIVE_FLUSH_SECONDS": "1",
        "CONSUMER_BATCH": "5",
        "LOG_LEVEL": "INFO",
    }
    queue = PostgresQueue(f"{postgres_dsn}", f"posts_{suffix}", 3, 3)
    # Malformed messages already waiting: they must end in the dead-letter queue.
    queue.send_raw("not json")
    queue.send({**make_message("bad", "1", "x", ["solar"], datetime.now(UTC)), "text": ""})
    queue.send(make_message("bad", "2", "solar " + "z" * 1024 * 1024, ["solar"], datetime.now(UTC)))
    queue.send({**make_envelope([make_message("bad", "3", "solar", ["solar"], OLD)]), "posts": []})
    # A good post (of 2001, outside the dashboard's range) next to a bad one: the envelope is
    # acked, the bad post alone dead-lettered.
    good = make_message("old", "1", "solar is great", ["solar"], OLD)
    queue.send(make_envelope([good, {**make_message("bad", "4", "x", ["solar"], OLD), "text": ""}]))
    port = free_port()
    web = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "reference_apps.social_analytics.wsgi:app",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "web.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    started = datetime.now(UTC)
    listener_log = root / "listener.log"
    consumer = process("consumer", env, root / "consumer.log")
    listener = process("listener", env, listener_log)
    processes = [web, consumer, listener]
    try:
        wait_until(lambda: answers(f"{url}/readyz"), 90, "the dashboard")
        draft = Pipeline(url, env, started, queue, bucket, 0, listener_log, 0, 0)
        killed_at = wait_until(lambda: (n := draft.total()) >= 100 and n, 120, "100 posts counted")
        consumer.send_signal(signal.SIGKILL)  # mid-stream, no chance to finish its batch
        consumer.wait()
        consumer = process("consumer", env, root / "consumer.log")
        processes.append(consumer)
        expected = sum(entry["count"] for entry in expected_totals().values())
        wait_until(lambda: draft.total() >= expected, 240, f"{expected} keyword posts counted")
        wait_until(lambda: len(queue.dead_letters()) >= 5, 60, "five dead letters")
        listener.send_signal(signal.SIGTERM)
        consumer.send_signal(signal.SIGTERM)
        yield Pipeline(
            url,
            env,
            started,
            queue,
            bucket,
            killed_at,
            listener_log,
            listener.wait(timeout=20),
            consumer.wait(timeout=20),
        )
    finally:
        for running in processes:
            if running.poll() is None:
                stop(running)
        remote_context.__exit__(None, None, None)


def test_dashboard_aggregates_equal_vader_over_the_same_posts(pipeline: Pipeline) -> None:
    expected = expected_totals()
    assert sorted(expected) == sorted(parse_keywords(DEFAULT_KEYWORDS))
    for keyword, want in expected.items():
        status, data = pipeline.sentiment(keyword)
        assert status == 200
        totals = data["totals"]
        assert {name: totals[name] for name in ("count", "positive", "neutral", "negative")} == {
            name: want[name] for name in ("count", "positive", "neutral", "negative")
        }, keyword
        assert totals["mean"] == pytest.approx(want["sum"] / want["count"], abs=1e-4)
        assert sum(point["count"] for point in data["points"]) == want["count"]
        assert data["top_positive"][0]["score"] >= data["top_positive"][-1]["score"] > 0


def test_consumer_killed_mid_stream_lost_and_doubled_nothing(pipeline: Pipeline) -> None:
    expected = sum(entry["count"] for entry in expected_totals().values())
    assert 100 <= pipeline.killed_at_count < expected  # it really died mid-stream
    assert pipeline.total() == expected  # not one more: nothing counted twice
    assert pipeline.consumer_exit == 0  # the restarted one stopped cleanly on SIGTERM


def test_malformed_messages_were_dead_lettered(pipeline: Pipeline) -> None:
    dead = pipeline.queue.dead_letters()
    assert len(dead) == 5
    assert "not json" in dead
    [refused] = [body for body in dead if isinstance(body, dict) and "rejected" in body]
    assert (refused["error"], refused["post"]["uid"]) == ("empty post", "bad:4")
    assert pipeline.queue.receive() is None
    old = pipeline.sentiment("solar", **{"from": "2001-01-01T00:00Z", "to": "2001-01-01T00:01Z"})
    assert old[1]["totals"]["count"] == 1  # the good post of that envelope was counted


def test_the_raw_archive_holds_every_post(pipeline: Pipeline) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=pipeline.env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=pipeline.bucket, Prefix="raw/"
        )
        for item in page.get("Contents", [])
    ]
    assert keys and all(key.startswith("raw/replay/") and key.endswith(".jsonl.gz") for key in keys)
    uids = [
        json.loads(line)["uid"]
        for key in keys
        for line in gzip.decompress(s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read())
        .decode()
        .splitlines()
    ]
    assert sorted(set(uids)) == sorted(f"replay:r{number:05d}" for number in range(1, POSTS + 1))
    assert pipeline.listener_exit == 0  # SIGTERM: archived, saved, exited cleanly
    log = pipeline.listener_log.read_text()
    assert '"listener stopped"' in log
    # The bad sources were tried, failed with a reason, and the replay went on regardless.
    assert "is not an RSS or Atom feed" in log
    assert "HTTP 500" in log and "rate limited (HTTP 429)" in log


def test_bad_queries_over_http(pipeline: Pipeline) -> None:
    status, body = get(f"{pipeline.url}/api/v1/keywords/bitcoin/sentiment")
    assert status == 404 and "unknown keyword" in body["error"]
    status, body = pipeline.sentiment(
        "solar", **{"from": "2026-11-30T12:00Z", "to": "2026-11-30T11:00Z"}
    )
    assert status == 400 and "backwards" in body["error"]


def test_the_dashboard_in_a_real_browser(pipeline: Pipeline, browser: Browser) -> None:  # noqa: F811
    expected = expected_totals()["solar"]
    page = browser.open(f"{pipeline.url}/?keyword=solar")
    assert page.title.startswith("solar")
    bars = page.find_elements(By.CSS_SELECTOR, "#volume-chart .point")
    assert len(bars) == 61  # one per minute of the last hour
    assert sum(int(bar.get_attribute("data-value")) for bar in bars) == expected["count"]
    dots = page.find_elements(By.CSS_SELECTOR, "#sentiment-chart circle.point")
    assert dots and all(-1 <= float(dot.get_attribute("data-value")) <= 1 for dot in dots)
    row = page.find_element(By.CSS_SELECTOR, 'tr[data-keyword="solar"] td.count')
    assert int(row.text) == expected["count"]
    assert page.find_elements(By.CSS_SELECTOR, "ol.posts.positive li")
    assert page.find_elements(By.CSS_SELECTOR, "ol.posts.negative li")
    assert browser.console_errors() == []
    assert browser.unlabelled_controls() == []
    browser.screenshot("social-analytics-desktop")
    browser.open(f"{pipeline.url}/?keyword=coffee&resolution=hour", PHONE)
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#volume-chart .point")
    assert browser.console_errors() == []
    browser.screenshot("social-analytics-phone")
