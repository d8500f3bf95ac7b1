"""KeyValue.transform: read-modify-write that loses no update when workers race (SQLite and
PostgreSQL lock the row from the read to the write); a failing change writes nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reference_apps.backends import KeyValue
from reference_apps.backends.kv import PostgresKeyValue, SqliteKeyValue


def increment(item: dict | None) -> dict:
    current = (item or {}).get("n", 0)
    return {"n": current + 1}


def transform_contract(kv: KeyValue) -> None:
    assert kv.transform("counter", increment) == {"n": 1}
    threads = [
        threading.Thread(target=lambda: [kv.transform("counter", increment) for _ in range(10)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kv.get("counter") == {"n": 81}

    def broken(_item: dict | None) -> dict:
        raise RuntimeError("change failed")

    with pytest.raises(RuntimeError):
        kv.transform("counter", broken)
    with pytest.raises(RuntimeError):
        kv.transform("absent", broken)
    assert kv.get("counter") == {"n": 81}
    assert kv.get("absent") is None


def test_sqlite_transform(tmp_path: Path) -> None:
    transform_contract(SqliteKeyValue(tmp_path / "kv.db"))


def test_postgres_transform(postgres_dsn: str, fresh_pg_table: str) -> None:
    transform_contract(PostgresKeyValue(postgres_dsn, fresh_pg_table))


def transform_many_contract(kv: KeyValue) -> None:
    kv.put("b", {"n": 5})
    assert kv.transform_many({"b": increment, "a": increment}) == {"a": {"n": 1}, "b": {"n": 6}}

    def broken(_item: dict | None) -> dict:
        raise RuntimeError("change failed")

    with pytest.raises(RuntimeError):
        kv.transform_many({"a": increment, "z": broken})
    assert kv.get("a") == {"n": 1}  # all or nothing: "a" was not incremented


def test_sqlite_transform_many(tmp_path: Path) -> None:
    transform_many_contract(SqliteKeyValue(tmp_path / "kv.db"))


def test_postgres_transform_many(postgres_dsn: str, fresh_pg_table: str) -> None:
    transform_many_contract(PostgresKeyValue(postgres_dsn, fresh_pg_table))
