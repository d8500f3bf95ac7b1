"""The consumer on the shared PostgreSQL queue and key-value table (what the hosts use): counts
match VADER, a redelivered post never counts twice, malformed messages are dead-lettered, two
consumers racing lose nothing."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reference_apps.social_analytics import Service, build_service, load_settings
from reference_apps.social_analytics.aggregates import hour_key, minute_key, series
from reference_apps.social_analytics.consumer import handle, receive_batch
from reference_apps.social_analytics.posts import make_message

NOW = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)


@pytest.fixture
def svc(postgres_dsn: str, fresh_pg_table: str, tmp_path) -> Service:
    env = {
        "DATA_DIR": str(tmp_path),
        "QUEUE_URL": f"{postgres_dsn}?table={fresh_pg_table}_q",
        "KV_URL": f"{postgres_dsn}?table={fresh_pg_table}_kv",
        "QUEUE_MAX_DELIVERIES": "3",
        "QUEUE_VISIBILITY_TIMEOUT": "30",
    }
    return build_service(load_settings(env, web=False), queue=True)


def post(number: int, text: str, keywords: list[str], moment: datetime = NOW) -> dict:
    return make_message("test", str(number), text, keywords, moment)


def consume_all(svc: Service) -> int:
    done = 0
    while batch := receive_batch(svc, 10, 0):
        done += handle(svc, batch)
    return done


def test_counts_and_scores_match_vader(svc: Service) -> None:
    texts = ["solar is great", "solar is awful, I hate it", "solar panels", "LOVE solar :)"]
    for number, text in enumerate(texts):
        svc.queue.send(post(number, text, ["solar"]))
    svc.queue.send(
        post(9, "solar and coffee are wonderful", ["coffee", "solar"], NOW + timedelta(minutes=1))
    )
    assert consume_all(svc) == 5
    vader = SentimentIntensityAnalyzer()
    scores = [vader.polarity_scores(text)["compound"] for text in texts]
    minute = svc.kv.get(minute_key("solar", "2026-11-30T12:34"))
    assert minute["count"] == 4
    assert (minute["positive"], minute["neutral"], minute["negative"]) == (2, 1, 1)
    assert minute["score_sum"] == pytest.approx(sum(scores))
    assert [top["text"] for top in minute["top_positive"]] == ["LOVE solar :)", "solar is great"]
    assert [top["text"] for top in minute["top_negative"]] == ["solar is awful, I hate it"]
    hour = svc.kv.get(hour_key("solar", "2026-11-30T12"))
    assert hour["count"] == 5 and sorted(hour["minutes"]) == ["34", "35"]
    assert svc.kv.get(minute_key("coffee", "2026-11-30T12:35"))["count"] == 1
    by_hour = series(svc.kv, "solar", NOW - timedelta(hours=1), NOW, "hour")
    assert [point["count"] for point in by_hour["points"]] == [0, 5]


def test_a_redelivered_post_is_not_counted_twice(svc: Service) -> None:
    svc.queue.send(post(1, "solar is great", ["solar"]))
    svc.queue.send(post(2, "solar is bad", ["solar"]))
    assert consume_all(svc) == 2
    # The consumer died after counting and before its ack: the same posts come again.
    svc.queue.send(post(1, "solar is great", ["solar"]))
    svc.queue.send(post(2, "solar is bad", ["solar"]))
    svc.queue.send(post(3, "solar is fine", ["solar"]))
    assert consume_all(svc) == 3
    minute = svc.kv.get(minute_key("solar", "2026-11-30T12:34"))
    assert (minute["count"], len(minute["uids"])) == (3, 3)
    assert svc.kv.get(hour_key("solar", "2026-11-30T12"))["count"] == 3


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("not json at all", "not a JSON object"),
        (json.dumps({**post(1, "x", ["solar"]), "text": ""}), "empty post"),
        (json.dumps({**post(1, "x", ["solar"]), "text": "   "}), "empty post"),
        (json.dumps(post(1, "solar " + "y" * 1024 * 1024, ["solar"])), "exceeds"),
        (json.dumps(post(1, "solar \ufffd\ufffd", [])), "keywords"),
        (json.dumps(post(1, "solar", ["DROP TABLE"])), "keywords"),
        (json.dumps({**post(1, "solar", ["solar"]), "created_at": "yesterday"}), "ISO 8601"),
        (json.dumps({**post(1, "solar", ["solar"]), "v": 99}), "version"),
    ],
)
def test_a_malformed_message_goes_to_the_dead_letter_queue(
    svc: Service, payload: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    svc.queue.send_raw(payload)
    svc.queue.send(post(7, "solar is good", ["solar"]))
    assert consume_all(svc) == 1  # the good post is counted, the bad one is not
    assert svc.queue.receive() is None
    assert len(svc.queue.dead_letters()) == 1
    assert any(why in record.error for record in caplog.records)  # type: ignore[attr-defined]
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34"))["count"] == 1


def test_a_backend_failure_leaves_the_batch_for_redelivery(svc: Service) -> None:
    svc.queue.send(post(1, "solar is great", ["solar"]))
    broken = Service(svc.objects, svc.kv, svc.queue, svc.keywords, svc.max_chars)

    def fail(*_args: object) -> None:
        raise ConnectionError("table unreachable")

    broken.kv = type("Down", (), {"transform": fail})()
    batch = receive_batch(broken, 10, 0)
    assert handle(broken, batch) == 0
    svc.queue.release(batch[0])  # what the visibility timeout does, without the wait
    assert consume_all(svc) == 1
    assert svc.queue.dead_letters() == []


def test_two_consumers_racing_count_every_post_once(svc: Service) -> None:
    for number in range(200):
        svc.queue.send(post(number, f"solar post {number} is good", ["solar"]))
    totals = []
    threads = [threading.Thread(target=lambda: totals.append(consume_all(svc))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(totals) == 200
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34"))["count"] == 200
