"""PostgreSQL backends (queue, key-value, SQL) against a real PostgreSQL 15 server: what the
local multi-host target shares between app servers and workers."""

from __future__ import annotations

import threading

import pytest
from backend_contracts import dead_letter_contract, kv_contract, queue_contract, visibility_contract

from reference_apps.backends import ConfigError, Settings, open_backends
from reference_apps.backends.kv import PostgresKeyValue
from reference_apps.backends.queue import PostgresQueue
from reference_apps.backends.settings import parse_url
from reference_apps.backends.sql import Database, IntegrityError


def test_queue(postgres_dsn: str, fresh_pg_table: str) -> None:
    queue_contract(PostgresQueue(postgres_dsn, fresh_pg_table, 5, 30))


def test_queue_dead_letters(postgres_dsn: str, fresh_pg_table: str) -> None:
    dead_letter_contract(PostgresQueue(postgres_dsn, fresh_pg_table, 2, 30))


def test_queue_visibility_timeout(postgres_dsn: str, fresh_pg_table: str) -> None:
    visibility_contract(PostgresQueue(postgres_dsn, fresh_pg_table, 5, 0.5))


def test_concurrent_receivers_never_share_a_message(postgres_dsn: str, fresh_pg_table: str) -> None:
    """SKIP LOCKED: 4 threads (4 connections) drain 200 messages, each exactly once."""
    queue = PostgresQueue(postgres_dsn, fresh_pg_table, 5, 60)
    for number in range(200):
        queue.send({"n": number})
    seen: list[int] = []
    lock = threading.Lock()

    def drain() -> None:
        while (message := queue.receive()) is not None:
            queue.ack(message)
            with lock:
                seen.append(message.body["n"])

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(200))


def test_queue_url_selects_postgres_with_table(postgres_dsn: str, fresh_pg_table: str) -> None:
    settings = Settings.from_env(
        "t",
        {
            "QUEUE_URL": f"{postgres_dsn}?table={fresh_pg_table}",
            "KV_URL": f"{postgres_dsn}?table={fresh_pg_table}_kv",
        },
    )
    settings = Settings.from_env(
        "t", {**settings.extra, "QUEUE_MAX_DELIVERIES": "3", "DATA_DIR": "/tmp/unused"}
    )
    backends = open_backends(settings, queue=True, kv=True, db=False, mail=False)
    assert isinstance(backends.queue, PostgresQueue) and backends.queue.table == fresh_pg_table
    assert backends.queue.max_deliveries == 3
    assert isinstance(backends.kv, PostgresKeyValue) and backends.kv.table == f"{fresh_pg_table}_kv"


def test_kv(postgres_dsn: str, fresh_pg_table: str) -> None:
    kv_contract(PostgresKeyValue(postgres_dsn, fresh_pg_table))


def test_kv_update_is_atomic_under_concurrency(postgres_dsn: str, fresh_pg_table: str) -> None:
    kv = PostgresKeyValue(postgres_dsn, fresh_pg_table)
    kv.put("k", {})
    threads = [threading.Thread(target=kv.update, args=("k", {f"f{i}": i})) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kv.get("k") == {f"f{i}": i for i in range(20)}


def test_sql_database(postgres_dsn: str, fresh_pg_table: str) -> None:
    db = Database(parse_url("DATABASE_URL", postgres_dsn, ("postgresql",)))
    db.script(f"CREATE TABLE {fresh_pg_table} (id TEXT PRIMARY KEY, n BIGINT)")
    db.execute(f"INSERT INTO {fresh_pg_table} VALUES (?, ?)", ("a", 1))
    with pytest.raises(IntegrityError):
        db.execute(f"INSERT INTO {fresh_pg_table} VALUES (?, ?)", ("a", 2))
    with pytest.raises(RuntimeError), db.transaction():
        db.execute(f"INSERT INTO {fresh_pg_table} VALUES (?, ?)", ("b", 2))
        raise RuntimeError("roll back")
    assert db.execute(f"SELECT id, n FROM {fresh_pg_table}") == [{"id": "a", "n": 1}]


def test_missing_database_is_a_config_error(postgres_dsn: str) -> None:
    settings = Settings.from_env("t", {"KV_URL": postgres_dsn.replace("/postgres", "/nope")})
    with pytest.raises(ConfigError, match=r"KV_URL=.*/nope: cannot open"):
        open_backends(settings, queue=False, kv=True, db=False, mail=False)
