"""The cloud adapters against their emulators stopped and started again: Azurite (Blob and
Queue, its files kept on disk across the restart), the GCS emulator (on disk too), and the
Pub/Sub emulator frozen (SIGSTOP: it keeps its topics in memory only, so a restart would lose
them, which the real service never does) under a running consumer.

While down, every call raises DependencyDown within the bounded timeouts; a consumer loop keeps
running through the outage and handles every message sent before, during (the ones accepted)
and after it; what was stored before is there afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import AZURITE, AZURITE_KEY, PSTEST, free_port, pubsub_queue, stop, wait_for_port

from reference_apps.backends import DependencyDown, Queue, consume
from reference_apps.backends.object_store import AzureBlobObjectStore, GcsObjectStore, ObjectStore
from reference_apps.backends.queue import AzureStorageQueue
from reference_apps.backends.resilience import Backoff

pytestmark = [pytest.mark.emulators, pytest.mark.slow]

PROJECT = "tierstack-faults"
BOUND = 15.0  # seconds a call may take against a dead endpoint (timeouts x attempts)


class Azurite:
    """Azurite on fixed ports with its data in a folder that outlives a restart."""

    def __init__(self) -> None:
        self.ports = {"blob": free_port(), "queue": free_port()}
        self.workdir = Path(tempfile.mkdtemp(prefix="faults-azurite-"))
        self.process: subprocess.Popen | None = None

    @property
    def connection_string(self) -> str:
        account = "devstoreaccount1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.ports['blob']}/{account};"
            f"QueueEndpoint=http://127.0.0.1:{self.ports['queue']}/{account};"
        )

    def start(self) -> None:
        listen = [
            arg
            for kind, port in self.ports.items()
            for arg in (f"--{kind}Host", "127.0.0.1", f"--{kind}Port", str(port))
        ]
        self.process = subprocess.Popen(
            [
                str(AZURITE),
                "--silent",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--location",
                str(self.workdir),
                *listen,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in self.ports.values():
            wait_for_port(port, self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    if not AZURITE.exists():
        pytest.fail("Azurite is missing: run make setup (npm ci in tools/azurite)")
    server = Azurite()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


class Consumer:
    """A consumer loop in a thread, as the workers run it: records each body, then acks."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        self.bodies: list[Any] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        def step() -> None:
            message = self.queue.receive(wait=1)
            if message is not None:
                self.bodies.append(message.body)
                self.queue.ack(message)

        consume(self.stop, step, Backoff(first=0.2, cap=2))

    def wait_for(
        self, expected: list[Any], timeout: float = 60, maybe: tuple[Any, ...] = ()
    ) -> None:
        """Until exactly ``expected`` arrived; each of ``maybe`` may arrive too, at most once."""
        optional = set(map(str, maybe))

        def got() -> list[str]:
            return sorted(body for body in map(str, self.bodies) if body not in optional)

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and got() != sorted(map(str, expected)):
            assert self.thread.is_alive(), "the consumer loop ended"
            time.sleep(0.1)
        assert got() == sorted(map(str, expected))
        bodies = list(map(str, self.bodies))
        assert all(bodies.count(body) <= 1 for body in optional), bodies

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def assert_rides_out_an_outage(
    store: ObjectStore | None,
    queue: Queue | None,
    go_down: Callable[[], None],
    come_back: Callable[[], None],
) -> None:
    """The shared scenario: data and messages before, calls failing fast while down, the
    consumer alive throughout, everything there and flowing after."""
    calls: list[Callable[[], object]] = []
    if store is not None:
        store.put("before/one", b"stored before the outage")
        calls += [lambda: store.put("during/one", b"x"), store.check]
    consumer = Consumer(queue) if queue is not None else None
    sent = [{"n": n} for n in range(3)]
    try:
        if queue is not None and consumer is not None:
            calls.append(lambda: queue.send({"n": "during"}))
            for body in sent:
                queue.send(body)
            consumer.wait_for(sent)
        go_down()
        try:
            for call in calls:
                started = time.monotonic()
                with pytest.raises(DependencyDown):
                    call()
                assert time.monotonic() - started < BOUND, "a call hung on the dead endpoint"
            time.sleep(2)  # the consumer meets the outage and backs off
            assert consumer is None or consumer.thread.is_alive()
        finally:
            come_back()
        if queue is not None and consumer is not None:
            after = [{"n": n} for n in range(3, 6)]
            deadline = time.monotonic() + 30
            while True:  # the first call after the restart may find the port still closed
                try:
                    queue.send(after[0])
                    break
                except DependencyDown:
                    assert time.monotonic() < deadline
                    time.sleep(0.5)
            for body in after[1:]:
                queue.send(body)
            # A send that timed out against a frozen server may still have reached it (as on a
            # real network): the caller got a 503, the message may be delivered, once.
            consumer.wait_for(sent + after, maybe=({"n": "during"},))
        if store is not None:
            assert store.get("before/one") == b"stored before the outage"
            store.put("after/one", b"y")
            assert store.get("after/one") == b"y"
    finally:
        if consumer is not None:
            consumer.close()


def test_azurite_stopped_and_started(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    container, name = f"c{uuid.uuid4().hex[:10]}", f"q{uuid.uuid4().hex[:10]}"
    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)
    queues = QueueServiceClient.from_connection_string(azurite.connection_string)
    queues.create_queue(name)
    queues.create_queue(f"{name}-poison")
    store = AzureBlobObjectStore("devstoreaccount1", container)
    queue = AzureStorageQueue("devstoreaccount1", name, 5, 30)
    assert_rides_out_an_outage(store, queue, azurite.stop, azurite.start)


def test_gcs_emulator_stopped_and_started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The object store only: the GCS emulator has no queue (the queue half is Pub/Sub's)."""
    from gcp_storage_emulator.server import create_server
    from google.cloud import storage

    port = free_port()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)

    def start() -> None:
        servers.append(create_server("127.0.0.1", port, in_memory=False, data_dir=str(tmp_path)))
        servers[-1].start()
        wait_for_port(port)

    servers: list[Any] = []
    start()
    try:
        storage.Client().create_bucket("faults")
        store = GcsObjectStore("faults", "docs")
        assert_rides_out_an_outage(store, None, lambda: servers[-1].stop(), start)
    finally:
        servers[-1].stop()


@pytest.fixture
def pstest() -> Iterator[tuple[subprocess.Popen, str]]:
    if not PSTEST.exists():
        pytest.fail("tools/pstest/pstest is missing: run make setup")
    process = subprocess.Popen([str(PSTEST)], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip() if process.stdout else ""
        assert line.startswith("listening on "), line
        yield process, line.removeprefix("listening on ")
    finally:
        os.kill(process.pid, signal.SIGCONT)
        stop(process)


def test_pubsub_emulator_frozen_under_a_running_consumer(
    pstest: tuple[subprocess.Popen, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    process, host = pstest
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
    topic, subscription = f"t-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}"
    queue = pubsub_queue(PROJECT, topic, subscription)
    assert_rides_out_an_outage(
        None,
        queue,
        lambda: os.kill(process.pid, signal.SIGSTOP),
        lambda: os.kill(process.pid, signal.SIGCONT),
    )
