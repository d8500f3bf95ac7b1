"""Behaviour every implementation of an interface must show; each backend test calls these."""

from __future__ import annotations

import time

import pytest

from reference_apps.backends import KeyValue, ObjectNotFound, ObjectStore, Queue


def object_store_contract(store: ObjectStore) -> None:
    store.put("originals/a1", b"first", "image/jpeg")
    store.put("originals/a1", b"second", "image/jpeg")
    store.put("results/a1", b"\x00\xffbinary")
    assert store.get("originals/a1") == b"second"
    assert store.get("results/a1") == b"\x00\xffbinary"
    assert store.list("originals/") == ["originals/a1"]
    assert store.list() == ["originals/a1", "results/a1"]
    with pytest.raises(ObjectNotFound):
        store.get("originals/missing")
    for bad in ("../escape", "/absolute", "a/../../b", "name\x00x", "a//b", ""):
        with pytest.raises(ValueError, match="invalid object key"):
            store.put(bad, b"x")
    store.delete("originals/a1")
    store.delete("originals/a1")  # idempotent
    assert store.list() == ["results/a1"]
    store.check()


def kv_contract(kv: KeyValue) -> None:
    assert kv.get("job:1") is None
    kv.put("job:1", {"status": "queued", "attempts": 0, "filters": [{"name": "blur"}]})
    assert kv.get("job:1") == {"status": "queued", "attempts": 0, "filters": [{"name": "blur"}]}
    merged = kv.update("job:1", {"status": "done", "note": "ünïcode ✓"})
    expected = {"status": "done", "attempts": 0, "filters": [{"name": "blur"}], "note": "ünïcode ✓"}
    assert merged == expected
    assert kv.get("job:1") == expected
    assert isinstance(kv.get("job:1")["attempts"], int)
    kv.put("job:1", {"status": "replaced"})
    assert kv.get("job:1") == {"status": "replaced"}
    assert kv.update("job:2", {"created": True}) == {"created": True}
    kv.delete("job:1")
    kv.delete("job:1")
    assert kv.get("job:1") is None
    kv.check()


def queue_contract(queue: Queue, wait: float = 0) -> None:
    """FIFO enough for one producer, ack deletes, release redelivers with a higher count."""
    first = queue.send({"job_id": "a"})
    queue.send({"job_id": "b"})
    got_a = queue.receive(wait=wait)
    got_b = queue.receive(wait=wait)
    assert got_a is not None and got_b is not None
    assert sorted([got_a.body["job_id"], got_b.body["job_id"]]) == ["a", "b"]
    assert (got_a.deliveries, got_b.deliveries) == (1, 1)
    assert queue.receive() is None  # both are invisible now
    by_id = {got_a.body["job_id"]: got_a, got_b.body["job_id"]: got_b}
    assert by_id["a"].id == first
    queue.ack(by_id["a"])
    queue.release(by_id["b"])
    again = queue.receive(wait=wait)
    assert again is not None and again.body == {"job_id": "b"} and again.deliveries == 2
    queue.ack(again)
    assert queue.receive() is None
    assert queue.dead_letters() == []
    queue.check()


def dead_letter_contract(queue: Queue, wait: float = 0) -> None:
    """With max_deliveries=2, the third receive dead-letters the message instead."""
    assert queue.max_deliveries == 2
    queue.send_raw("not json at all")
    for expected in (1, 2):
        message = queue.receive(wait=wait)
        assert message is not None and message.deliveries == expected
        assert message.body == "not json at all"
        queue.release(message)
    assert queue.receive(wait=wait) is None
    assert queue.dead_letters() == ["not json at all"]


def visibility_contract(queue: Queue) -> None:
    """An unacknowledged message comes back after the visibility timeout, not before."""
    queue.send({"job_id": "v"})
    first = queue.receive()
    assert first is not None
    assert queue.receive() is None
    time.sleep(queue.visibility_timeout + 0.5)
    second = queue.receive(wait=2)
    assert second is not None and second.id == first.id and second.deliveries == 2
    queue.ack(second)
