"""Local backends (files, SQLite, outbox) and the URL settings that select every backend."""

from __future__ import annotations

import email
from pathlib import Path

import pytest
from backend_contracts import (
    dead_letter_contract,
    kv_contract,
    object_store_contract,
    queue_contract,
    visibility_contract,
)

from reference_apps.backends import ConfigError, Settings, open_backends
from reference_apps.backends.kv import SqliteKeyValue
from reference_apps.backends.mail import FileMailer
from reference_apps.backends.object_store import FileObjectStore
from reference_apps.backends.queue import SqliteQueue
from reference_apps.backends.settings import redact
from reference_apps.backends.sql import Database, IntegrityError


def test_file_object_store(tmp_path: Path) -> None:
    object_store_contract(FileObjectStore(tmp_path / "objects"))


def test_file_object_store_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path)
    store.put("a/b", b"data")
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["a", "b"]
    store.delete("a/b")
    assert list(tmp_path.iterdir()) == []  # empty key folders are removed too


def test_sqlite_kv(tmp_path: Path) -> None:
    kv_contract(SqliteKeyValue(tmp_path / "kv.db"))


def test_sqlite_queue(tmp_path: Path) -> None:
    queue_contract(SqliteQueue(tmp_path / "q.db", max_deliveries=5, visibility_timeout=30))


def test_sqlite_queue_dead_letters(tmp_path: Path) -> None:
    dead_letter_contract(SqliteQueue(tmp_path / "q.db", max_deliveries=2, visibility_timeout=30))


def test_sqlite_queue_visibility_timeout(tmp_path: Path) -> None:
    visibility_contract(SqliteQueue(tmp_path / "q.db", max_deliveries=5, visibility_timeout=0.5))


def test_sqlite_queue_is_durable_across_instances(tmp_path: Path) -> None:
    SqliteQueue(tmp_path / "q.db", 5, 30).send({"job_id": "kept"})
    message = SqliteQueue(tmp_path / "q.db", 5, 30).receive()
    assert message is not None and message.body == {"job_id": "kept"}


def test_stale_receipt_cannot_ack_a_redelivered_message(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "q.db", max_deliveries=5, visibility_timeout=0.2)
    queue.send({"job_id": "x"})
    stale = queue.receive()
    import time

    time.sleep(0.4)
    current = queue.receive()
    assert stale is not None and current is not None
    queue.ack(stale)  # the first worker was too slow: its ack must not delete the new delivery
    queue.release(current)
    assert queue.receive() is not None


def test_sql_database_sqlite(tmp_path: Path) -> None:
    settings = Settings.from_env("t", {"DATA_DIR": str(tmp_path)})
    db = Database(settings.database_url)
    db.script("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER); CREATE INDEX t_n ON t (n)")
    db.execute("INSERT INTO t VALUES (?, ?)", ("a", 1))
    with pytest.raises(IntegrityError):
        db.execute("INSERT INTO t VALUES (?, ?)", ("a", 2))
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("INSERT INTO t VALUES (?, ?)", ("b", 2))
        raise RuntimeError("roll back")
    assert db.execute("SELECT id, n FROM t ORDER BY id") == [{"id": "a", "n": 1}]


def test_file_mailer_writes_a_parseable_message(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path / "outbox", "drive@example.com")
    mailer.send("user@example.com", "Hello", "Body text")
    (message_file,) = (tmp_path / "outbox").iterdir()
    message = email.message_from_bytes(message_file.read_bytes())
    assert message["To"] == "user@example.com"
    assert message["Subject"] == "Hello"
    assert message.get_payload().strip() == "Body text"


def test_zero_configuration_uses_local_backends_under_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env("demo", {"DATA_DIR": str(tmp_path)})
    backends = open_backends(settings, queue=True, kv=True, db=True, mail=True)
    assert isinstance(backends.objects, FileObjectStore)
    assert backends.objects.root == tmp_path / "objects"
    assert isinstance(backends.queue, SqliteQueue) and backends.queue.path == tmp_path / "queue.db"
    assert isinstance(backends.kv, SqliteKeyValue) and backends.kv.path == tmp_path / "kv.db"
    assert backends.db is not None and backends.db.path == tmp_path / "app.db"
    assert isinstance(backends.mail, FileMailer)
    assert settings.max_upload_bytes == 16 * 1024 * 1024
    assert len(settings.secret_key) >= 32


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OBJECT_STORE_URL": "ftp://host/x"}, "OBJECT_STORE_URL=ftp://host/x: unsupported scheme"),
        ({"QUEUE_URL": "sqs://"}, "QUEUE_URL=sqs://: use sqs://queue-name"),
        ({"QUEUE_URL": "pubsub://p/topic"}, "use pubsub://project/topic/subscription"),
        ({"KV_URL": "postgresql://u:secret@h/db?table=drop;x"}, "table name 'drop;x' must be"),
        ({"KV_URL": "aztable://account"}, "use aztable://account/table"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL=mysql://x: unsupported scheme"),
        ({"MAIL_URL": "smtp://"}, "MAIL_URL=smtp://: use smtp://host:port"),
        ({"MAX_UPLOAD_MB": "lots"}, "MAX_UPLOAD_MB=lots: not a number"),
        ({"APP_ENV": "staging"}, "APP_ENV=staging: use development or production"),
        ({"APP_ENV": "production"}, "SECRET_KEY must be set to at least 32 random characters"),
        ({"DATA_DIR": "relative"}, "DATA_DIR=relative: use an absolute path"),
    ],
)
def test_bad_settings_stop_with_one_line(tmp_path: Path, env: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings = Settings.from_env("t", {"DATA_DIR": str(tmp_path), **env})
        open_backends(settings, queue=True, kv=True, db=True, mail=True)
    text = str(raised.value)
    assert message in text
    assert "\n" not in text
    assert ":secret@" not in text  # passwords in URLs are redacted
    assert raised.value.code == text  # SystemExit prints it and exits with status 1


def test_unreachable_backend_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings.from_env(
        "t", {"DATA_DIR": str(tmp_path), "KV_URL": "postgresql://u:pw@127.0.0.1:1/db"}
    )
    with pytest.raises(ConfigError, match=r"KV_URL=postgresql://u:\*\*\*@127.0.0.1:1/db: cannot"):
        open_backends(settings, queue=False, kv=True, db=False, mail=False)


def test_redact_hides_passwords() -> None:
    assert redact("postgresql://app:s3cr3t@db:5432/x") == "postgresql://app:***@db:5432/x"
