"""The dashboard's API and page on the embedded defaults: series, bad queries answered with a 4xx
that says what to fix, and generated requests from /openapi.json that never get a 5xx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import schemathesis
from conftest import free_port, stop
from flask import Flask
from hypothesis import HealthCheck, given, settings

from reference_apps.social_analytics import create_app
from reference_apps.social_analytics.aggregates import record
from reference_apps.social_analytics.posts import make_envelope, make_message, parse_body

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = create_app(
        {"DATA_DIR": str(tmp_path), "KEYWORDS": "solar,coffee", "LOG_LEVEL": "WARNING"}
    )
    kv = app.extensions["social_service"].kv
    posts = [
        make_message("t", "1", "solar is great", ["solar"], NOW - timedelta(minutes=2)),
        make_message("t", "2", "solar is terrible", ["solar"], NOW - timedelta(minutes=2)),
        make_message("t", "3", "solar panels", ["solar"], NOW),
    ]
    record(kv, [parse_body(make_envelope(posts), 5000)])
    return app


def test_series_per_minute_and_per_hour(app: Flask) -> None:
    client = app.test_client()
    start = (NOW - timedelta(minutes=3)).isoformat()
    data = client.get(f"/api/v1/keywords/solar/sentiment?from={start}&to={NOW.isoformat()}").json
    assert [point["count"] for point in data["points"]] == [0, 2, 0, 1]
    assert data["points"][1]["t"] == (NOW - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:00Z")
    assert data["totals"]["count"] == 3 and data["totals"]["neutral"] == 1
    assert data["top_positive"][0]["text"] == "solar is great"
    assert data["top_negative"][0]["text"] == "solar is terrible"
    hourly = client.get("/api/v1/keywords/SOLAR/sentiment?resolution=hour").json
    assert hourly["totals"]["count"] == 3 and len(hourly["points"]) == 25
    assert client.get("/api/v1/keywords").json == {"keywords": ["solar", "coffee"]}


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        (
            "/api/v1/keywords/bitcoin/sentiment",
            404,
            "unknown keyword 'bitcoin'; known: solar, coffee",
        ),
        (
            "/api/v1/keywords/solar/sentiment?from=2026-11-30T12:00Z&to=2026-11-30T11:00Z",
            400,
            "the time range is backwards",
        ),
        ("/api/v1/keywords/solar/sentiment?from=yesterday", 400, "is not an ISO 8601 time"),
        ("/api/v1/keywords/solar/sentiment?resolution=second", 400, "minute or hour"),
        (
            "/api/v1/keywords/solar/sentiment?from=2020-01-01T00:00Z&to=2026-01-01T00:00Z",
            400,
            "range too long",
        ),
        ("/api/v1/keywords/solar/sentiment?to=99999-01-01", 400, "ISO 8601"),
    ],
)
def test_bad_queries_get_a_4xx_that_says_what_to_fix(
    app: Flask, url: str, status: int, message: str
) -> None:
    response = app.test_client().get(url)
    assert response.status_code == status
    assert message in response.json["error"]


def test_the_page_shows_a_bad_query_as_an_error_page(app: Flask) -> None:
    response = app.test_client().get("/?keyword=solar&from=2026-11-30T12:00Z&to=2026-11-30T11:00Z")
    assert response.status_code == 400 and b"the time range is backwards" in response.data
    assert app.test_client().get("/?keyword=nope").status_code == 404


def test_the_page_refreshes_itself_unless_a_range_is_fixed(app: Flask) -> None:
    client = app.test_client()
    live = client.get("/").data.decode()
    assert '<meta http-equiv="refresh" content="15">' in live and 'rel="icon"' in live
    fixed = client.get(f"/?from={(NOW - timedelta(minutes=5)).isoformat()}").data.decode()
    assert "http-equiv" not in fixed


def test_openapi_fuzz_has_no_5xx(app: Flask) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    covered = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call()
            assert response.status_code < 500, f"{case.method} {case.formatted_path}"
            if response.status_code >= 400:
                assert response.json()["error"]

        run()
        covered.append(f"{operation.method.upper()} {operation.path}")
    assert "GET /api/v1/keywords/{keyword}/sentiment" in covered and len(covered) == 4


@pytest.mark.slow
def test_flask_run_with_zero_configuration(tmp_path: Path) -> None:
    """Only HOME set: the dashboard comes up ready on the embedded defaults."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "LANG"}}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "flask"),
            "--app",
            "reference_apps.social_analytics",
            "run",
            "--port",
            str(port),
        ],
        cwd=tmp_path,
        env={**env, "HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                    assert json.load(answer)["status"] == "ready"
                    break
            except OSError:
                assert time.monotonic() < deadline, "the dashboard did not come up"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            assert b'id="volume-chart"' in answer.read()
    finally:
        stop(process)
    assert (tmp_path / ".local/share/tierstack/social-analytics/kv.db").is_file()


def test_the_bundled_dataset_is_what_its_generator_writes() -> None:
    """The committed file and the seeded generator agree, so the dataset can be reviewed as code."""
    import gzip

    from reference_apps.social_analytics.data.generate_replay import generate
    from reference_apps.social_analytics.sources import DATASET

    with gzip.open(DATASET, "rt", encoding="utf-8") as lines:
        committed = [json.loads(line) for line in lines]
    assert committed == generate()
    assert len(committed) == 3000 and DATASET.stat().st_size < 1024 * 1024
    assert {post["label"] for post in committed} == {"positive", "neutral", "negative"}
    assert all(post["topic"] in post["text"].lower() for post in committed)
