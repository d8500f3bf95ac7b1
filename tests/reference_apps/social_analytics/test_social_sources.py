"""Sources and the listener against scripted remotes: Mastodon paging, 429 and 500 with backoff,
feeds that are RSS, Atom or not XML at all, non-UTF-8 bytes, empty and 1 MB posts, duplicates.
The listener keeps running through every one of them."""

from __future__ import annotations

import dataclasses
import gzip
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from social_remote import Remote, serve

from reference_apps.backends import Backoff, DependencyDown
from reference_apps.social_analytics import Service, build_service, load_settings
from reference_apps.social_analytics.listener import STATE_KEY, Lease, Listener, run
from reference_apps.social_analytics.posts import envelope_id
from reference_apps.social_analytics.sources import (
    MastodonSource,
    RateLimited,
    SourceError,
    open_source,
)


def service(tmp_path: Path) -> Service:
    return build_service(load_settings({"DATA_DIR": str(tmp_path)}, web=False), queue=True)


def status(number: int, content: str) -> dict:
    return {
        "id": str(number),
        "created_at": "2026-11-30T12:00:00.000Z",
        "content": content,
        "url": f"https://social.example/@a/{number}",
        "account": {"acct": "a@social.example"},
    }


def ok_json(items: list) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(items).encode()


def envelopes(svc: Service) -> list[dict]:
    """Every message in the queue, acked; each must be an envelope named by its posts' ids."""
    bodies = []
    while (message := svc.queue.receive()) is not None:
        body = message.body
        assert body["v"] == 2 and body["id"] == envelope_id([p["uid"] for p in body["posts"]])
        bodies.append(body)
        svc.queue.ack(message)
    return bodies


def drain(svc: Service) -> list[dict]:
    """The posts of every envelope in the queue, in order."""
    return [post for body in envelopes(svc) for post in body["posts"]]


@pytest.fixture
def remote() -> Remote:
    with serve() as remote:
        yield remote


def test_mastodon_pages_with_since_id_and_strips_html(remote: Remote) -> None:
    tag = "/api/v1/timelines/tag/solar"
    remote.routes[tag] = [
        ok_json([status(12, "<p>I <b>love</b> #solar</p>"), status(11, "<p>solar&amp;wind</p>")]),
        ok_json([status(13, "<p>solar again</p>")]),
    ]
    source = open_source(f"mastodon+http://{remote.url[7:]}/tags/solar", {})
    assert isinstance(source, MastodonSource)
    first = source.poll(0)
    assert [post.text for post in first] == ["I love #solar", "solar&wind"]
    assert first[0].url == "https://social.example/@a/12" and first[0].author == "a@social.example"
    assert [post.id for post in source.poll(100)] == ["13"]
    assert remote.requests == [f"{tag}?limit=40", f"{tag}?limit=40&since_id=12"]
    assert source.state() == {"since_id": "13"}


def test_mastodon_429_waits_for_retry_after_and_500_backs_off(remote: Remote) -> None:
    tag = "/api/v1/timelines/tag/solar"
    remote.routes[tag] = [
        (429, {"Retry-After": "120"}, b"slow down"),
        (500, {}, b"oops"),
        (500, {}, b"oops"),
        ok_json([status(5, "solar")]),
    ]
    source = open_source(
        f"mastodon+http://{remote.url[7:]}/tags/solar", {"MASTODON_INTERVAL": "10"}
    )
    with pytest.raises(RateLimited, match="HTTP 429"):
        source.poll(1000)
    assert source.next_poll == 1120 and not source.due(1119)
    with pytest.raises(SourceError, match="HTTP 500"):
        source.poll(1120)
    assert source.next_poll == 1120 + 40  # 10 s * 2**2: the second failure in a row
    with pytest.raises(SourceError, match="HTTP 500"):
        source.poll(1160)
    assert source.next_poll == 1160 + 80
    assert [post.id for post in source.poll(1240)] == ["5"]
    assert source.next_poll == 1250  # back to the normal interval


RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<item><guid>urn:1</guid><title>Solar is wonderful</title><link>https://n.example/1</link>
<pubDate>Mon, 30 Nov 2026 10:00:00 GMT</pubDate>
<description>&lt;p&gt;great &lt;b&gt;panels&lt;/b&gt;&lt;/p&gt;</description></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>t</title><id>urn:feed</id><updated>2026-11-30T10:00:00Z</updated>
<entry><id>urn:a</id><title>Coffee was awful</title><updated>2026-11-30T09:00:00Z</updated>
<link href="https://n.example/a"/></entry></feed>"""


def test_rss_and_atom_feeds(remote: Remote) -> None:
    remote.routes["/rss"] = [(200, {"ETag": '"v1"'}, RSS), (304, {}, b"")]
    remote.routes["/atom"] = [(200, {}, ATOM)]
    rss = open_source(f"rss+{remote.url}/rss", {})
    [post] = rss.poll(0)
    assert (post.id, post.text, post.url) == (
        "urn:1",
        "Solar is wonderful great panels",
        "https://n.example/1",
    )
    assert post.created_at == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert rss.poll(1000) == []  # 304: nothing new
    atom = open_source(f"atom+{remote.url}/atom", {})
    assert [(p.id, p.text) for p in atom.poll(0)] == [("urn:a", "Coffee was awful")]


@pytest.mark.parametrize(
    "body",
    [b"<html><body>not a feed</body></html>", b'{"json": true}', b"\xff\xfe\x00garbage", b""],
)
def test_a_feed_that_is_not_xml_is_a_clear_source_error(remote: Remote, body: bytes) -> None:
    remote.routes["/feed"] = [(200, {"Content-Type": "text/html"}, body)]
    source = open_source(f"rss+{remote.url}/feed", {"FEED_INTERVAL": "60"})
    with pytest.raises(SourceError, match="is not an RSS or Atom feed"):
        source.poll(0)
    assert source.next_poll == 120


def test_unreachable_host_is_a_source_error() -> None:
    source = open_source("mastodon+http://127.0.0.1:9/tags/solar", {})
    with pytest.raises(SourceError, match="cannot reach"):
        source.poll(0)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mastodon://social.example/solar", "tags/tagname"),
        ("ftp://x/feed", "unknown source"),
        ("replay:?rate=0", "rate must be"),
        ("replay:?time=yesterday", "time must be now"),
    ],
)
def test_bad_source_urls(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        open_source(url, {})


def write_replay(path: Path, posts: list[dict]) -> Path:
    path.write_bytes(gzip.compress("".join(json.dumps(post) + "\n" for post in posts).encode()))
    return path


def test_a_replay_file_with_recorded_times_is_its_own_source(tmp_path: Path) -> None:
    """A backfill: each post keeps its created_at, and the file's position and seen ids are its
    own, apart from the bundled replay's."""
    posts = [
        {"id": f"b{n}", "author": "a", "text": f"solar {n}", "created_at": f"2001-02-03T04:0{n}Z"}
        for n in range(3)
    ]
    path = write_replay(tmp_path / "backfill.jsonl.gz", posts)
    recorded = open_source(f"replay://{path}?time=recorded&loop=false&rate=1000", {})
    played = open_source(f"replay://{path}?loop=false&rate=1000", {})
    assert recorded.name == played.name == "replay:backfill.jsonl.gz"
    assert open_source("replay:", {}).name == "replay"
    before = datetime.now(UTC)
    times = [post.created_at for post in recorded.poll(0) + recorded.poll(1)]
    assert times == [datetime(2001, 2, 3, 4, n, tzinfo=UTC) for n in range(3)]
    assert all(post.created_at >= before for post in played.poll(0) + played.poll(1))


def test_recorded_times_need_a_time_in_every_post(tmp_path: Path) -> None:
    path = write_replay(
        tmp_path / "bad.jsonl.gz",
        [
            {"id": "1", "author": "a", "text": "solar", "created_at": "2001-02-03T04:00Z"},
            {"id": "2", "author": "a", "text": "solar"},
        ],
    )
    with pytest.raises(ValueError, match="post 2 has no ISO 8601 created_at"):
        open_source(f"replay://{path}?time=recorded", {})


def test_listener_survives_bad_sources_and_bad_posts(tmp_path: Path, remote: Remote) -> None:
    """One listener, three sources: a broken feed, a Mastodon instance that fails then answers
    with awkward posts, and the replay. Every good post is enqueued once and archived."""
    remote.routes["/feed"] = [(200, {}, b"this is not xml")]
    tag = "/api/v1/timelines/tag/solar"
    awkward = [
        status(1, ""),  # empty
        status(2, "<p>   </p>"),  # empty once the markup is gone
        status(3, "solar " + "x" * 1024 * 1024),  # 1 MB
        status(4, "nothing about the keywords"),
        status(5, "solar \x00\x07panels"),  # control characters
    ]
    latin1 = (
        json.dumps([status(6, "solar caf\u00e9")], ensure_ascii=False)
        .encode()
        .replace(b"caf\xc3\xa9", b"caf\xe9")
    )
    remote.routes[tag] = [
        (500, {}, b""),
        (429, {"Retry-After": "1"}, b""),
        ok_json(awkward),
        (200, {}, latin1),
        ok_json(awkward),
    ]
    svc = service(tmp_path)
    sources = [
        open_source(f"rss+{remote.url}/feed", {}),
        open_source(f"mastodon+http://{remote.url[7:]}/tags/solar", {"MASTODON_INTERVAL": "1"}),
        open_source("replay:?rate=1000&limit=5&loop=false", {}),
    ]
    listener = Listener(svc, sources, flush_seconds=3600)
    for now in (0, 2, 10, 20, 30, 40):  # the 500, the 429, the posts, the latin-1, a repeat
        listener.step(now)
    listener.flush()
    bodies = drain(svc)
    mastodon = [b for b in bodies if b["source"].startswith("mastodon")]
    assert [b["uid"].rsplit(":", 1)[1] for b in mastodon] == ["3", "5", "6"]
    assert len(mastodon[0]["text"]) == svc.max_chars  # cut, not dropped
    assert mastodon[1]["text"] == "solar panels"
    assert mastodon[2]["text"] == "solar caf\ufffd"
    assert len([b for b in bodies if b["source"] == "replay"]) == 5
    assert listener.counts["duplicates"] == 4  # posts 3 and 5, on each of the two repeats
    archived = [
        json.loads(line)
        for key in svc.objects.list("raw/")
        for line in gzip.decompress(svc.objects.get(key)).splitlines()
    ]
    assert sorted(item["uid"] for item in archived) == sorted(b["uid"] for b in bodies)
    assert all(key.startswith(("raw/mastodon_", "raw/replay/")) for key in svc.objects.list("raw/"))


def test_listener_resumes_from_its_saved_state(tmp_path: Path) -> None:
    svc = service(tmp_path)
    first = Listener(svc, [open_source("replay:?rate=1000&limit=40&loop=false", {})])
    first.step(0)
    first.step(0.02)  # ~20 posts
    first.flush()
    emitted = json.loads(svc.objects.get(STATE_KEY))["sources"]["replay"]["position"]["emitted"]
    assert 0 < emitted < 40
    second = Listener(svc, [open_source("replay:?rate=1000&limit=40&loop=false", {})])
    second.restore()
    second.step(0)
    second.step(10)
    second.flush()
    uids = [body["uid"] for body in drain(svc)]
    assert len(uids) == len(set(uids)) == 40


def test_lease_one_holder_at_a_time(tmp_path: Path) -> None:
    svc = service(tmp_path)
    first, second = Lease(svc, 60, "a"), Lease(svc, 60, "b")
    assert first.hold() and not second.hold()
    assert first.hold()  # renewal
    first.release()
    assert second.hold() and not first.hold()


def wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_standby_listener_takes_over_where_the_active_one_stopped(tmp_path: Path) -> None:
    """Two listener processes' loops on one table: the first collects, stops on SIGTERM (its
    loop's stop event), and the standby continues from the saved state: no post twice."""
    svc = service(tmp_path)

    def listener() -> Listener:
        return Listener(svc, [open_source("replay:?rate=100&limit=300&loop=false", {})], 0.1)

    active, standby = listener(), listener()
    stop_active, stop_standby = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=run, args=(active, stop_active, Lease(svc, 3, "a"), 0.02)),
        threading.Thread(target=run, args=(standby, stop_standby, Lease(svc, 3, "b"), 0.02)),
    ]
    threads[0].start()
    wait_for(lambda: active.counts["enqueued"] > 0)
    threads[1].start()
    stop_active.set()
    threads[0].join()
    wait_for(lambda: active.counts["enqueued"] + standby.counts["enqueued"] >= 300)
    stop_standby.set()
    threads[1].join()
    assert 0 < active.counts["enqueued"] < 300
    assert standby.counts["enqueued"] == 300 - active.counts["enqueued"]
    uids = [body["uid"] for body in drain(svc)]
    assert len(uids) == len(set(uids)) == 300


class Refusing:
    """A backend that raises the adapters' outage error while ``down`` is set (a stopped
    object store or table, as the emulator fault tests produce for real)."""

    def __init__(self, backend: object) -> None:
        self.backend = backend
        self.down = threading.Event()

    def __getattr__(self, name: str) -> object:
        attribute = getattr(self.backend, name)
        if not callable(attribute):
            return attribute

        def call(*args: object, **kwargs: object) -> object:
            if self.down.is_set():
                raise DependencyDown("objects")
            return attribute(*args, **kwargs)

        return call


def test_the_listener_rides_out_an_archive_and_table_outage_and_loses_nothing(
    tmp_path: Path,
) -> None:
    """The archive and the lease table stop mid-collection: the loop waits with backoff instead
    of exiting, then resumes from its saved state; every post reaches the queue and the archive
    (some twice in the queue, which the consumer counts once)."""
    svc = service(tmp_path)
    objects, kv = Refusing(svc.objects), Refusing(svc.kv)
    svc = dataclasses.replace(svc, objects=objects, kv=kv)
    listener = Listener(svc, [open_source("replay:?rate=200&limit=300&loop=false", {})], 0.05)
    stop = threading.Event()
    backoff = Backoff(first=0.05, cap=0.2)
    thread = threading.Thread(target=run, args=(listener, stop, Lease(svc, 3, "a"), 0.02, backoff))
    thread.start()
    wait_for(lambda: listener.counts["archived"] > 0)
    objects.down.set()
    kv.down.set()
    wait_for(lambda: backoff.failures >= 3)
    assert thread.is_alive()
    objects.down.clear()
    kv.down.clear()
    wait_for(lambda: backoff.failures == 0 and listener.counts["archived"] >= 300)
    wait_for(lambda: len(set(archived_uids(svc))) == 300)
    stop.set()
    thread.join()
    queued = {body["uid"] for body in drain(svc)}
    assert len(queued) == 300
    assert set(archived_uids(svc)) == queued


def archived_uids(svc: Service) -> list[str]:
    return [
        json.loads(line)["uid"]
        for key in svc.objects.list("raw/")
        for line in gzip.decompress(svc.objects.get(key)).splitlines()
    ]


def test_a_bug_in_the_loop_still_stops_the_listener(tmp_path: Path) -> None:
    """Only an outage is waited out; any other error ends the process (systemd restarts it)."""
    svc = service(tmp_path)
    listener = Listener(svc, [open_source("replay:?rate=1000&limit=5&loop=false", {})], 0.05)

    def broken(now: float | None = None) -> None:
        raise KeyError("a bug")

    listener.step = broken  # type: ignore[method-assign]
    with pytest.raises(KeyError):
        run(listener, threading.Event(), Lease(svc, 3, "a"), 0.01)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SOURCES": "ftp://example.org/feed"}, "SOURCES: ftp://example.org/feed: unknown source"),
        ({"KEYWORDS": "solar, bad keyword!"}, "KEYWORDS: keyword 'bad keyword!'"),
        ({"KEYWORDS": " , "}, "KEYWORDS: name at least one keyword"),
    ],
)
def test_a_bad_setting_stops_the_listener_with_one_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    from reference_apps.backends import ConfigError
    from reference_apps.social_analytics.listener import main

    with pytest.raises(ConfigError) as stopped:
        main({"DATA_DIR": str(tmp_path), **env})
    assert str(stopped.value).startswith(f"configuration error: {message}")
    assert "\n" not in str(stopped.value)


def test_mastodon_waits_when_its_rate_limit_is_spent(remote: Remote) -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=300)).isoformat()
    remote.routes["/api/v1/timelines/tag/solar"] = [
        (200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, b"[]")
    ]
    source = open_source(f"mastodon+http://{remote.url[7:]}/tags/solar", {"MASTODON_INTERVAL": "5"})
    assert source.poll(1000) == []
    assert 1000 + 290 < source.next_poll <= 1000 + 300  # until the reset, not the 5 s interval


def test_a_feed_with_bytes_that_are_not_utf8_still_yields_its_posts(remote: Remote) -> None:
    body = RSS.replace(b"Solar is wonderful", b"Solar caf\xe9 is wonderful")  # latin-1 in UTF-8
    remote.routes["/rss"] = [(200, {}, body)]
    [post] = open_source(f"rss+{remote.url}/rss", {}).poll(0)
    assert post.text.startswith("Solar caf") and "wonderful great panels" in post.text


def test_envelopes_are_cut_at_the_maximum_count_and_bytes(tmp_path: Path) -> None:
    svc = service(tmp_path)
    listener = Listener(
        svc, [open_source("replay:?rate=1000&limit=250&loop=false", {})], 3600, envelope_max=100
    )
    listener.step(0)
    listener.step(10)  # all 250 collected at once: two full envelopes go without lingering
    assert [len(body["posts"]) for body in envelopes(svc)] == [100, 100]
    listener.flush()  # the partial one goes before the state is saved
    assert [len(body["posts"]) for body in envelopes(svc)] == [50]
    assert listener.counts["enqueued"] == 250 and listener.counts["envelopes"] == 3
    small = Listener(
        svc, [open_source("replay:?rate=1000&limit=30&loop=false", {})], 3600, envelope_bytes=4000
    )
    small.step(0)
    small.step(10)
    small.flush()
    sizes = [len(json.dumps(body)) for body in envelopes(svc)]
    assert len(sizes) > 1 and max(sizes) <= 4000 + 200  # the posts' JSON, plus the envelope's


def test_an_envelope_waits_at_most_the_linger(tmp_path: Path) -> None:
    svc = service(tmp_path)
    listener = Listener(
        svc, [open_source("replay:?rate=1000&limit=3&loop=false", {})], 3600, linger=0.3
    )
    listener.step(0)
    listener.step(10)
    assert svc.queue.receive() is None  # lingering: more posts may come
    time.sleep(0.35)
    listener.step(11)
    assert [len(body["posts"]) for body in envelopes(svc)] == [3]


def test_a_retried_send_gives_the_same_envelope_id(tmp_path: Path) -> None:
    svc = service(tmp_path)
    queue = Refusing(svc.queue)
    svc = dataclasses.replace(svc, queue=queue)
    listener = Listener(svc, [open_source("replay:?rate=1000&limit=5&loop=false", {})], 3600)
    listener.step(0)
    listener.step(10)
    queue.down.set()
    with pytest.raises(DependencyDown):
        listener.flush()
    queue.down.clear()
    listener.flush()
    [body] = envelopes(svc)
    assert len(body["posts"]) == 5
    again = Listener(svc, [open_source("replay:?rate=1000&limit=5&loop=false", {})], 3600)
    again.step(0)
    again.step(10)
    again.flush()  # the same posts from the start (a fresh state): the same id
    assert [other["id"] for other in envelopes(svc)] == [body["id"]]
