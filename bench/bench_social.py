"""Social-analytics throughput and latency, with the processes the hosts run.

Backends: a throw-away PostgreSQL 15 (queue and key-value table, as on the local target's
services host), the archive on local files.
- direct:   VADER's polarity_scores over the bundled posts in this process (one core), posts/s
- in-process: one consumer's loop in this process over BENCH_POSTS posts in envelopes: posts/s,
            and the CPU time VADER alone needs for them over the CPU time of the consumer plus
            PostgreSQL's server processes (a ratio the load of other jobs barely moves)
- consumer: `python -m reference_apps.social_analytics.consumer`, one process per core, draining
            a queue pre-filled with BENCH_POSTS posts in envelopes of BENCH_ENVELOPE (100, the
            listener's default; 1 = the single-post messages of the format before envelopes);
            posts/s, and per core (target >= 0.7x direct)
- listener: the listener's loop in this process collecting BENCH_POSTS replayed posts as fast as
            the source gives them: envelopes of 100, each journaled to the archive store before it
            is sent (the write-ahead journal), archive and state saves every second; posts/s and
            the CPU time of this process per envelope
- latency:  the listener's loop (replay source at 100 posts/s) in this process -> queue -> one
            consumer process -> the dashboard's API under gunicorn, polled continuously; per post,
            from the listener accepting it (so the envelope's linger is included) to the first API
            answer that counts it; p50 / p99 in ms
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from reference_apps.social_analytics import (  # noqa: E402
    DEFAULT_KEYWORDS,
    Service,
    build_service,
    load_settings,
)
from reference_apps.social_analytics.listener import Listener, run  # noqa: E402
from reference_apps.social_analytics.posts import (  # noqa: E402
    keyword_pattern,
    make_envelope,
    make_message,
    match_keywords,
    parse_keywords,
)
from reference_apps.social_analytics.sources import DATASET, open_source  # noqa: E402

CORES = os.cpu_count() or 1
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
POSTS = int(os.environ.get("BENCH_POSTS", "6000"))
ENVELOPE = int(os.environ.get("BENCH_ENVELOPE", "100"))
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_postgres(root: Path) -> str:
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    data = root / "data"
    subprocess.run(
        [*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(root / "log"),
            "-o",
            options,
            "start",
        ],
        check=True,
        capture_output=True,
    )
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def stop_postgres(root: Path) -> None:
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "stop"],
        capture_output=True,
    )


def dataset() -> list[dict]:
    with gzip.open(DATASET, "rt") as lines:
        return [json.loads(line) for line in lines]


def direct(texts: list[str]) -> float:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < SECONDS:
        analyzer.polarity_scores(texts[count % len(texts)])
        count += 1
    return count / (time.perf_counter() - started)


ASYNC_COMMIT = "&options=-csynchronous_commit%3Doff"
"""libpq options in the backend URL: commits return before the WAL flush (see BENCHMARKS.md)."""


def environment(dsn: str, root: Path, run_id: str, extra: str = "") -> dict[str, str]:
    return {
        **os.environ,
        "DATA_DIR": str(root / "app"),
        "QUEUE_URL": f"{dsn}?table=posts_{run_id}{extra}",
        "KV_URL": f"{dsn}?table=sentiment_{run_id}{extra}",
        "LOG_LEVEL": "WARNING",
    }


def consumers(env: dict[str, str], count: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "reference_apps.social_analytics.consumer"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def prefill(service: Service) -> None:
    """BENCH_POSTS posts of the bundled dataset, in envelopes of BENCH_ENVELOPE."""
    pattern = keyword_pattern(parse_keywords(DEFAULT_KEYWORDS))
    posts = dataset()
    now = datetime.now(UTC)
    messages = [
        make_message("bench", str(number), post["text"], match_keywords(post["text"], pattern), now)
        for number, post in ((n, posts[n % len(posts)]) for n in range(POSTS))
    ]
    for first in range(0, POSTS, ENVELOPE):
        chunk = messages[first : first + ENVELOPE]
        service.queue.send(chunk[0] if ENVELOPE == 1 else make_envelope(chunk))


def postgres_cpu(root: Path) -> float:
    """CPU seconds used so far by the cluster's server processes (the postmaster's children)."""
    pid = int((root / "data" / "postmaster.pid").read_text().split()[0])
    total = 0
    for child in [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def in_process(dsn: str, root: Path) -> tuple[float, float]:
    """One consumer in this process, timed around its loop until the queue is empty (no process
    start, no second consumer): posts/s, and the ratio of CPU time VADER alone needs for the same
    posts to the CPU time of the consumer plus PostgreSQL's server processes (what a quiet
    machine's throughput ratio tends to; unlike wall-clock rates it does not move with the
    load of other jobs)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from reference_apps.social_analytics import consumer

    env = environment(dsn, root, "inproc", ASYNC_COMMIT)
    service = build_service(load_settings(env, web=False), queue=True)
    prefill(service)
    stop = threading.Event()
    receive_many = service.queue.receive_many

    def receive(limit: int, wait: float = 0) -> list:
        batch = receive_many(limit, wait=0)
        if not batch:
            stop.set()
        return batch

    service.queue.receive_many = receive  # type: ignore[method-assign]
    analyzer = SentimentIntensityAnalyzer()
    texts = [post["text"] for post in dataset()]
    cpu = time.process_time()
    for number in range(POSTS):
        analyzer.polarity_scores(texts[number % len(texts)])
    vader_cpu = time.process_time() - cpu
    server, cpu, started = postgres_cpu(root), time.process_time(), time.perf_counter()
    consumer.run(service, stop, 10, poll_seconds=0, largest_batch=50)
    rate = POSTS / (time.perf_counter() - started)
    used = time.process_time() - cpu + postgres_cpu(root) - server
    return rate, vader_cpu / used


def consumer_throughput(dsn: str, root: Path, run_id: str, extra: str = "") -> tuple[float, float]:
    """Posts/s from the consumers' start (start-up included), and from the moment every consumer
    has connected to the queue and the table to the queue being empty (start-up excluded): the
    posts are enqueued hidden and shown once each process is connected (libpq's PGAPPNAME names
    the consumers' sessions)."""
    env = environment(dsn, root, run_id, extra)
    service = build_service(load_settings(env, web=False), queue=True)
    prefill(service)
    table = service.queue.table  # type: ignore[union-attr]
    db = service.queue.db  # type: ignore[union-attr]
    with db.transaction() as cursor:
        cursor.execute(f"UPDATE {table} SET visible_at = now() + interval '1 hour'")
    name = f"bench-consumer-{run_id}"
    processes = consumers({**env, "PGAPPNAME": name}, CORES)
    launched = time.perf_counter()
    while True:  # each consumer opens its queue and its table, then polls: it is up
        with db.transaction() as cursor:
            cursor.execute(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
            if cursor.fetchone()["n"] >= 2 * CORES:
                break
        time.sleep(0.02)
    ready = time.perf_counter()
    with db.transaction() as cursor:
        cursor.execute(f"UPDATE {table} SET visible_at = now()")
    while True:
        with db.transaction() as cursor:
            cursor.execute(f"SELECT count(*) AS n FROM {table}")
            if cursor.fetchone()["n"] == 0:
                break
        time.sleep(0.02)
    finished = time.perf_counter()
    stop_all(processes)
    return POSTS / (finished - launched), POSTS / (finished - ready)


def listener_throughput(dsn: str, root: Path) -> tuple[float, float, int]:
    """The listener's loop over BENCH_POSTS posts as fast as the replay gives them, until every
    post is enqueued and saved: posts/s, CPU ms of this process per envelope, envelopes."""
    env = {**environment(dsn, root, "listener"), "DATA_DIR": str(root / "listener")}  # own state
    service = build_service(load_settings(env, web=False), queue=True)
    source = open_source(f"replay:?rate=100000&limit={POSTS}&loop=true", {})
    listener = Listener(service, [source], flush_seconds=1)
    listener.restore()
    cpu, started = time.process_time(), time.perf_counter()
    while source.emitted < POSTS or listener.outbox:
        listener.step()
    listener.flush()
    elapsed = time.perf_counter() - started
    envelopes = listener.counts["envelopes"]
    return POSTS / elapsed, (time.process_time() - cpu) * 1000 / envelopes, envelopes


def latency(dsn: str, root: Path) -> list[float]:
    env = {**environment(dsn, root, "latency"), "DASHBOARD_REFRESH_SECONDS": "60"}
    port = free_port()
    web = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "reference_apps.social_analytics.wsgi:app",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes = [web, *consumers(env, 1)]
    service = build_service(load_settings(env, web=False), queue=True)
    keywords = parse_keywords(DEFAULT_KEYWORDS)
    total_posts = int(100 * SECONDS)
    sent: list[tuple[float, int]] = []  # (time accepted, keyword-posts so far)
    source = open_source(f"replay:?rate=100&limit={total_posts}&loop=false", {})
    listener = Listener(service, [source], flush_seconds=10)
    original_accept = listener.accept

    def timed_accept(name: str, post: object) -> bool:
        accepted = original_accept(name, post)  # type: ignore[arg-type]
        if accepted:
            previous = sent[-1][1] if sent else 0
            matched = next(reversed(listener.pending.values()))[-1]["keywords"]  # this post's
            sent.append((time.perf_counter(), previous + len(matched)))
        return accepted

    listener.accept = timed_accept  # type: ignore[method-assign]
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    start = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%MZ")
    seen: list[tuple[float, int]] = []
    stop = threading.Event()
    from reference_apps.social_analytics.listener import Lease

    thread = threading.Thread(target=run, args=(listener, stop, Lease(service, 30), 0.005))
    thread.start()
    deadline = time.perf_counter() + SECONDS + 30
    expected = None
    while time.perf_counter() < deadline:
        total = 0
        for keyword in keywords:
            url = f"{base}/api/v1/keywords/{keyword}/sentiment?from={start}&resolution=minute"
            with urllib.request.urlopen(url, timeout=5) as response:
                total += json.load(response)["totals"]["count"]
        seen.append((time.perf_counter(), total))
        if len(sent) == total_posts:
            expected = sent[-1][1]
            if total >= expected:
                break
    stop.set()
    thread.join()
    stop_all(processes)
    delays = []
    for sent_at, needed in sent:
        visible = next((at for at, total in seen if total >= needed and at >= sent_at), None)
        if visible is not None:
            delays.append((visible - sent_at) * 1000)
    if expected is None or len(delays) < len(sent):
        print(f"  warning: {len(sent) - len(delays)} posts not seen within the deadline")
    return delays


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-social-"))
    texts = [post["text"] for post in dataset()]
    try:
        dsn = start_postgres(root)
        rate = direct(texts)
        print(f"VADER directly, one process: {rate:.0f} posts/s")
        alone, cpu_ratio = in_process(dsn, root)
        print(
            f"one consumer in this process, {POSTS} posts in envelopes of {ENVELOPE}, async"
            f" commit: {alone:.0f} posts/s = {alone / rate:.2f}x direct; CPU time: VADER alone"
            f" = {cpu_ratio:.2f}x (consumer + PostgreSQL)"
        )
        for run_id, extra in (("sync", ""), ("async", ASYNC_COMMIT)):
            overall, steady = consumer_throughput(dsn, root, run_id, extra)
            for what, through in (("with start-up", overall), ("after start-up", steady)):
                print(
                    f"consumer x {CORES} processes, {POSTS} posts, {run_id} commit, {what}:"
                    f" {through:.0f} posts/s = {through / CORES:.0f} per core ="
                    f" {through / CORES / rate:.2f}x direct (target >= 0.7x)"
                )
        posts_per_second, cpu_ms, envelopes = listener_throughput(dsn, root)
        print(
            f"listener, {POSTS} posts collected as fast as replayed, {envelopes} envelopes,"
            f" journal + queue + archive: {posts_per_second:.0f} posts/s,"
            f" {cpu_ms:.2f} ms CPU per envelope"
        )
        delays = latency(dsn, root)
        quantiles = statistics.quantiles(delays, n=100)
        print(
            f"listener -> dashboard at 100 posts/s, {len(delays)} posts:"
            f" p50 {quantiles[49]:.0f} ms, p99 {quantiles[98]:.0f} ms"
        )
    finally:
        stop_postgres(root)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
