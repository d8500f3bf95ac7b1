"""The consumer on the shared PostgreSQL queue and key-value table (what the hosts use) and on
the SQLite defaults: counts match VADER, a redelivered envelope never counts twice, old
single-post messages still count, malformed envelopes are dead-lettered whole and malformed posts
inside a good envelope on their own, two consumers racing lose nothing."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reference_apps.social_analytics import Service, build_service, load_settings, shared_pg
from reference_apps.social_analytics.aggregates import hour_key, minute_key, series
from reference_apps.social_analytics.consumer import handle, next_size, receive_batch, run
from reference_apps.social_analytics.posts import make_envelope, make_message
from reference_apps.social_analytics.shared_pg import shared_database

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
    for first in range(0, 200, 10):
        svc.queue.send(
            make_envelope(
                [post(n, f"solar post {n} is good", ["solar"]) for n in range(first, first + 10)]
            )
        )
    totals = []
    threads = [threading.Thread(target=lambda: totals.append(consume_all(svc))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(totals) == 20  # envelopes acked
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34"))["count"] == 200


def test_one_database_commits_counts_and_ack_together(
    svc: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert shared_database(svc.queue, svc.kv)
    svc.queue.send(post(1, "solar is great", ["solar"]))
    svc.queue.send(post(2, "solar is bad", ["solar"], NOW + timedelta(hours=1)))
    counted = []

    def crash(cursor: object, queue: object, messages: list) -> None:
        # The counts are written in this transaction; the consumer's session dies before the
        # ack, as when its process is killed there.
        counted.append(len(messages))
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")  # type: ignore[attr-defined]

    monkeypatch.setattr(shared_pg, "acknowledge", crash)
    batch = receive_batch(svc, 10, 0)
    assert handle(svc, batch) == 0 and counted == [2]
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34")) is None  # rolled back together
    assert svc.kv.get(hour_key("solar", "2026-11-30T13")) is None
    monkeypatch.undo()
    for message in batch:
        svc.queue.release(message)  # what the visibility timeout does, without the wait
    assert consume_all(svc) == 2
    assert svc.queue.receive() is None and svc.queue.dead_letters() == []
    minute = svc.kv.get(minute_key("solar", "2026-11-30T12:34"))
    assert (minute["count"], minute["uids"]) == (1, ["test:1"])
    assert svc.kv.get(hour_key("solar", "2026-11-30T12"))["count"] == 1
    assert svc.kv.get(hour_key("solar", "2026-11-30T13"))["count"] == 1


def test_a_stale_delivery_is_counted_once_on_one_database(svc: Service) -> None:
    svc.queue.send(post(1, "solar is great", ["solar"]))
    first = receive_batch(svc, 10, 0)
    svc.queue.release(first[0])  # its visibility timeout ran out: another consumer takes it
    second = receive_batch(svc, 10, 0)
    assert second[0].deliveries == 2
    assert handle(svc, first) == 1  # counted; its old receipt deletes nothing
    assert svc.queue.receive_many(10) == []  # still hidden by the second delivery
    assert handle(svc, second) == 1  # already counted: only acked
    minute = svc.kv.get(minute_key("solar", "2026-11-30T12:34"))
    assert (minute["count"], len(minute["uids"])) == (1, 1)
    assert svc.kv.get(hour_key("solar", "2026-11-30T12"))["count"] == 1
    svc.queue.release(second[0])  # nothing left to make visible: it was deleted
    assert svc.queue.receive() is None


@pytest.fixture
def split_svc(postgres_dsn: str, fresh_pg_table: str, tmp_path) -> Service:
    """The queue and the table in two databases of the cluster: the generic path."""
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {fresh_pg_table}")
    other = postgres_dsn.rsplit("/", 1)[0] + f"/{fresh_pg_table}"
    env = {
        "DATA_DIR": str(tmp_path),
        "QUEUE_URL": f"{postgres_dsn}?table={fresh_pg_table}_q",
        "KV_URL": f"{other}?table={fresh_pg_table}_kv",
        "QUEUE_MAX_DELIVERIES": "3",
    }
    return build_service(load_settings(env, web=False), queue=True)


def test_two_databases_take_the_generic_path_and_count_once(split_svc: Service) -> None:
    svc = split_svc
    assert not shared_database(svc.queue, svc.kv)
    svc.queue.send(post(1, "solar is great", ["solar"]))
    svc.queue.send_raw("not json at all")
    batch = receive_batch(svc, 10, 0)
    original = svc.queue.ack_many

    def crash(_messages: list) -> None:
        raise ConnectionError("killed between the counts and the ack")

    svc.queue.ack_many = crash  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        handle(svc, batch)
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34"))["count"] == 1  # committed alone
    svc.queue.ack_many = original  # type: ignore[method-assign]
    for message in batch:
        svc.queue.release(message)
    assert consume_all(svc) == 1
    assert svc.queue.receive() is None and len(svc.queue.dead_letters()) == 1
    minute = svc.kv.get(minute_key("solar", "2026-11-30T12:34"))
    assert (minute["count"], len(minute["uids"])) == (1, 1)
    assert svc.kv.get(hour_key("solar", "2026-11-30T12"))["count"] == 1


def test_sqlite_backends_take_the_generic_path(tmp_path) -> None:
    svc = build_service(load_settings({"DATA_DIR": str(tmp_path)}, web=False), queue=True)
    assert not shared_database(svc.queue, svc.kv)
    for number in range(3):
        svc.queue.send(post(number, "solar is great", ["solar"]))
    assert consume_all(svc) == 3
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34"))["count"] == 3
    assert svc.queue.receive() is None


def test_batches_grow_while_the_queue_is_deep(svc: Service) -> None:
    for number in range(40):
        svc.queue.send(post(number, f"solar post {number}", ["solar"]))
    sizes: list[int] = []
    stop = threading.Event()
    receive_many = svc.queue.receive_many

    def spy(limit: int, wait: float = 0) -> list:
        sizes.append(limit)
        batch = receive_many(limit, wait=0)
        if not batch:
            stop.set()
        return batch

    svc.queue.receive_many = spy  # type: ignore[method-assign]
    run(svc, stop, 4, poll_seconds=0, largest_batch=16)
    # 4 + 8 + 16 = 28 full batches, then 12 of 16 (partial): back to 4, which finds none.
    assert sizes == [4, 8, 16, 16, 4]
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34"))["count"] == 40
    assert next_size(3, 3, 3, 5) == 5 and next_size(5, 5, 3, 5) == 5 and next_size(5, 2, 3, 5) == 3


@pytest.fixture(params=["postgresql", "sqlite"])
def any_svc(request: pytest.FixtureRequest, tmp_path) -> Service:
    """The shared PostgreSQL database (one transaction) and the SQLite defaults (generic path)."""
    env = {"DATA_DIR": str(tmp_path), "QUEUE_MAX_DELIVERIES": "3"}
    if request.param == "postgresql":
        dsn = request.getfixturevalue("postgres_dsn")
        table = request.getfixturevalue("fresh_pg_table")
        env |= {"QUEUE_URL": f"{dsn}?table={table}_q", "KV_URL": f"{dsn}?table={table}_kv"}
    svc = build_service(load_settings(env, web=False), queue=True)
    assert shared_database(svc.queue, svc.kv) == (request.param == "postgresql")
    return svc


def envelope(*numbers: int, text: str = "solar is great") -> dict:
    return make_envelope([post(number, text, ["solar"]) for number in numbers])


def test_an_envelope_counts_once_and_its_id_stands_for_its_posts(any_svc: Service) -> None:
    svc = any_svc
    body = envelope(1, 2, 3)
    svc.queue.send(body)
    assert consume_all(svc) == 1
    # Counted, then the ack was lost: the same envelope comes again, next to a new one.
    svc.queue.send(body)
    svc.queue.send(envelope(4, 5, text="solar is awful"))
    assert consume_all(svc) == 2
    minute = svc.kv.get(minute_key("solar", "2026-11-30T12:34"))
    assert (minute["count"], minute["positive"], minute["negative"]) == (5, 3, 2)
    assert minute["uids"] == [body["id"], envelope(4, 5)["id"]]  # one id per envelope
    assert svc.kv.get(hour_key("solar", "2026-11-30T12"))["count"] == 5
    assert svc.queue.receive() is None and svc.queue.dead_letters() == []


def test_old_single_post_messages_still_count_next_to_envelopes(any_svc: Service) -> None:
    """A rolling upgrade leaves messages of the old listener in the queue."""
    svc = any_svc
    svc.queue.send(post(1, "solar is great", ["solar"]))
    svc.queue.send(envelope(2, 3))
    svc.queue.send(post(1, "solar is great", ["solar"]))  # an old one, redelivered
    assert consume_all(svc) == 3
    minute = svc.kv.get(minute_key("solar", "2026-11-30T12:34"))
    assert minute["count"] == 3
    assert minute["uids"] == ["test:1", envelope(2, 3)["id"]]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"id": None}, "envelope id"),
        ({"id": "e:not-hex"}, "envelope id"),
        ({"posts": []}, "envelope posts"),
        ({"posts": "solar"}, "envelope posts"),
        ({"v": 3}, "version"),
    ],
)
def test_a_malformed_envelope_is_dead_lettered_whole(
    any_svc: Service, change: dict, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    svc = any_svc
    bad = {**envelope(1, 2), **change}
    svc.queue.send(bad)
    svc.queue.send(envelope(7))
    consume_all(svc)
    assert svc.queue.receive() is None
    assert svc.queue.dead_letters() == [bad]
    assert any(why in getattr(record, "error", "") for record in caplog.records)
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34"))["count"] == 1  # envelope 7 only


def test_a_malformed_post_is_dead_lettered_alone_and_the_rest_counted(
    any_svc: Service, caplog: pytest.LogCaptureFixture
) -> None:
    svc = any_svc
    good = [post(number, "solar is great", ["solar"]) for number in (1, 3)]
    bad = {**post(2, "solar", ["solar"]), "created_at": "yesterday"}
    body = make_envelope([good[0], bad, good[1]])
    svc.queue.send(body)
    consume_all(svc)
    minute = svc.kv.get(minute_key("solar", "2026-11-30T12:34"))
    assert (minute["count"], minute["uids"]) == (2, [body["id"]])
    assert svc.queue.receive() is None  # the envelope was acked
    [dead] = svc.queue.dead_letters()
    assert dead["rejected"] == "post" and dead["envelope"] == body["id"]
    assert dead["index"] == 1 and dead["post"]["uid"] == "test:2"
    assert "is no ISO 8601 time" in dead["error"]
    assert any(getattr(record, "envelope", "") == body["id"] for record in caplog.records)
    # The ack was lost and the envelope comes again: nothing counted twice, nothing lost.
    svc.queue.send(body)
    consume_all(svc)
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34"))["count"] == 2
    dead_letters = svc.queue.dead_letters()
    assert dead_letters[0] == dead and all(
        letter["post"]["uid"] == "test:2" for letter in dead_letters
    )
    if shared_database(svc.queue, svc.kv):
        assert len(dead_letters) == 1  # written with the counts, once


def test_an_envelope_of_bad_posts_is_acked_and_each_post_dead_lettered(any_svc: Service) -> None:
    """Even a 1 MB post: its dead letter keeps the start of it, small enough for any queue."""
    svc = any_svc
    huge = post(1, "solar " + "y" * 1024 * 1024, ["solar"])
    body = make_envelope([huge, {**post(2, "solar", ["solar"]), "keywords": []}])
    svc.queue.send(body)
    consume_all(svc)
    assert svc.queue.receive() is None
    assert svc.kv.get(minute_key("solar", "2026-11-30T12:34")) is None  # nothing to count
    dead = sorted(svc.queue.dead_letters(), key=lambda letter: letter["index"])
    assert [letter["index"] for letter in dead] == [0, 1]
    assert "exceeds 5000" in dead[0]["error"] and dead[0]["post_chars"] > 1024 * 1024
    assert dead[0]["post_start"].startswith('{"uid": "test:1"')
    assert len(json.dumps(dead[0])) < 20_000
    assert "keywords" in dead[1]["error"] and dead[1]["post"]["uid"] == "test:2"
