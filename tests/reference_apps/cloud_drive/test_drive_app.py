"""The cloud-drive app through HTTP (Flask test client, https base URL because the session
cookie is Secure), on the embedded local backends; plus the same flow on PostgreSQL + S3."""

from __future__ import annotations

import email
import hashlib
import io
import uuid
from pathlib import Path

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient

from reference_apps.cloud_drive import create_app
from reference_apps.cloud_drive.storage import hasher

BASE = "https://drive.example"
PASSWORD = "correct horse battery"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return create_app(
        {
            "DATA_DIR": str(tmp_path),
            "USER_QUOTA_MB": "0.01",
            "MAX_UPLOAD_MB": "1",
            "LOGIN_RATE_LIMIT": "5 per minute",
        }
    )


def new_client(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_HOST"] = "drive.example"
    return client


def token(client: FlaskClient) -> str:
    return client.get(f"{BASE}/api/v1/csrf").json["csrf_token"]


def register(client: FlaskClient, username: str) -> None:
    response = client.post(
        f"{BASE}/api/v1/users",
        headers={"X-CSRFToken": token(client)},
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    assert response.status_code == 201, response.json


def upload(client: FlaskClient, data: bytes, name: str = "notes.txt"):
    return client.post(
        f"{BASE}/api/v1/files",
        headers={"X-CSRFToken": token(client)},
        data={"file": (io.BytesIO(data), name)},
    )


def test_register_upload_list_download_delete(app: Flask) -> None:
    alice = new_client(app)
    register(alice, "alice")
    created = upload(alice, b"hello drive", "notes.txt")
    assert created.status_code == 201
    file_id = created.json["id"]
    assert created.json["content_type"] == "text/plain" and created.json["size"] == 11
    assert [item["name"] for item in alice.get(f"{BASE}/api/v1/files").json["files"]] == [
        "notes.txt"
    ]
    content = alice.get(f"{BASE}/api/v1/files/{file_id}/content")
    assert content.data == b"hello drive"
    assert content.headers["Content-Disposition"] == 'attachment; filename="notes.txt"'
    assert content.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert alice.get(f"{BASE}/api/v1/me").json["used_bytes"] == 11
    deleted = alice.delete(f"{BASE}/api/v1/files/{file_id}", headers={"X-CSRFToken": token(alice)})
    assert deleted.status_code == 204
    assert alice.get(f"{BASE}/api/v1/files/{file_id}").status_code == 404
    assert app.extensions["drive"].objects.list() == []


def test_another_users_file_answers_404(app: Flask) -> None:
    alice, bob = new_client(app), new_client(app)
    register(alice, "alice")
    register(bob, "bob")
    file_id = upload(alice, b"private").json["id"]
    for path in (
        f"/api/v1/files/{file_id}",
        f"/api/v1/files/{file_id}/content",
        f"/files/{file_id}",
    ):
        response = bob.get(BASE + path)
        assert response.status_code == 404
        assert b"private" not in response.data
    assert (
        bob.delete(
            f"{BASE}/api/v1/files/{file_id}", headers={"X-CSRFToken": token(bob)}
        ).status_code
        == 404
    )
    assert alice.get(f"{BASE}/api/v1/files/{file_id}/content").data == b"private"


def test_quota_is_enforced_and_nothing_partial_is_stored(app: Flask) -> None:
    alice = new_client(app)
    register(alice, "alice")
    assert upload(alice, b"x" * 8000, "a.bin").status_code == 201
    refused = upload(alice, b"y" * 3000, "b.bin")  # quota 0.01 MB = 10485 bytes
    assert refused.status_code == 413
    assert refused.json["error"] == "quota exceeded: 2485 bytes free of 10485, the file has 3000"
    assert len(app.extensions["drive"].objects.list()) == 1


def test_bad_uploads(app: Flask) -> None:
    alice = new_client(app)
    register(alice, "alice")
    empty = upload(alice, b"")
    assert (empty.status_code, empty.json["error"]) == (400, "the uploaded file is empty")
    assert upload(alice, b"z" * (1024 * 1024 + 10)).status_code == 413
    assert upload(alice, b"1", "same.txt").status_code == 201
    duplicate = upload(alice, b"2", "same.txt")
    assert duplicate.status_code == 409
    traversal = upload(alice, b"3", "../../../etc/cron.d/evil\x01")
    assert traversal.status_code == 201 and traversal.json["name"] == "evil"
    assert len(app.extensions["drive"].objects.list()) == 2
    assert all(key.startswith("users/") for key in app.extensions["drive"].objects.list())


def test_html_is_never_served_inline(app: Flask) -> None:
    alice = new_client(app)
    register(alice, "alice")
    file_id = upload(alice, b"<script>alert(1)</script>", "x.html").json["id"]
    page = alice.get(f"{BASE}/files/{file_id}")
    assert page.mimetype == "application/octet-stream"
    assert page.headers["Content-Disposition"].startswith("attachment")
    image_id = upload(alice, b"\x89PNG fake", "pic.png").json["id"]
    assert alice.get(f"{BASE}/files/{image_id}").headers["Content-Disposition"].startswith("inline")


def test_state_changing_calls_need_the_csrf_token(app: Flask) -> None:
    alice = new_client(app)
    register(alice, "alice")
    refused = alice.post(f"{BASE}/api/v1/files", data={"file": (io.BytesIO(b"x"), "a.txt")})
    assert refused.status_code == 400
    assert refused.json["error"] == "The CSRF token is missing."
    form = alice.post(f"{BASE}/login", data={"username": "alice", "password": PASSWORD})
    assert form.status_code == 400


def test_session_cookie_is_secure_httponly_samesite(app: Flask) -> None:
    client = new_client(app)
    register(client, "alice")
    cookie = client.get_cookie("__Host-session", domain="drive.example")
    assert cookie is not None
    assert cookie.secure and cookie.http_only and cookie.same_site == "Lax"


def test_passwords_are_hashed_with_argon2id(app: Flask) -> None:
    register(new_client(app), "alice")
    row = app.extensions["drive"].db.one("SELECT password_hash FROM users")
    assert row["password_hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in row["password_hash"]
    assert hasher.verify(row["password_hash"], PASSWORD)


def test_login_logout_and_rate_limit(app: Flask) -> None:
    register(new_client(app), "alice")
    client = new_client(app)
    wrong = client.post(
        f"{BASE}/api/v1/session",
        headers={"X-CSRFToken": token(client)},
        json={"username": "alice", "password": "nope nope nope"},
    )
    assert (wrong.status_code, wrong.json["error"]) == (401, "wrong username or password")
    ok = client.post(
        f"{BASE}/api/v1/session",
        headers={"X-CSRFToken": token(client)},
        json={"username": "alice", "password": PASSWORD},
    )
    assert ok.status_code == 200 and ok.json["username"] == "alice"
    assert client.get(f"{BASE}/api/v1/me").status_code == 200
    assert (
        client.delete(f"{BASE}/api/v1/session", headers={"X-CSRFToken": token(client)}).status_code
        == 204
    )
    assert client.get(f"{BASE}/api/v1/me").status_code == 401
    statuses = [
        client.post(
            f"{BASE}/api/v1/session",
            headers={"X-CSRFToken": token(client)},
            json={"username": "alice", "password": "guess guess guess"},
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]  # 5 per minute: 2 earlier attempts + 3 more
    limited = client.post(
        f"{BASE}/api/v1/session",
        headers={"X-CSRFToken": token(client)},
        json={"username": "alice", "password": PASSWORD},
    )
    assert limited.status_code == 429
    assert limited.json["error"].startswith("too many attempts")


def test_admin_page_is_for_admins_only(app: Flask) -> None:
    root, bob = new_client(app), new_client(app)
    register(root, "ops")
    register(bob, "bob")
    assert root.get(f"{BASE}/admin").status_code == 403
    granted = app.test_cli_runner().invoke(args=["grant-admin", "ops"])
    assert granted.exit_code == 0 and granted.output == "ops: admin=yes\n"
    assert bob.get(f"{BASE}/admin").status_code == 403
    page = root.get(f"{BASE}/admin")
    assert page.status_code == 200 and b"bob@example.com" in page.data
    assert new_client(app).get(f"{BASE}/admin").headers["Location"].startswith("/login")


def test_html_pages_register_login_upload_profile(app: Flask, tmp_path: Path) -> None:
    client = new_client(app)

    def form_token(path: str) -> str:
        page = client.get(BASE + path)
        return page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()

    created = client.post(
        f"{BASE}/register",
        data={
            "csrf_token": form_token("/register"),
            "username": "carol",
            "email": "carol@example.com",
            "password": PASSWORD,
        },
    )
    assert created.status_code == 303
    (outbox_file,) = (tmp_path / "outbox").iterdir()
    welcome = email.message_from_bytes(outbox_file.read_bytes())
    assert welcome["To"] == "carol@example.com" and "carol" in welcome.get_payload()
    uploaded = client.post(
        f"{BASE}/files",
        data={"csrf_token": form_token("/"), "file": (io.BytesIO(b"doc"), "doc.txt")},
    )
    assert uploaded.status_code == 303
    assert b"doc.txt" in client.get(f"{BASE}/").data
    changed = client.post(
        f"{BASE}/profile",
        data={
            "csrf_token": form_token("/profile"),
            "current_password": "wrong",
            "new_password": "another long password",
        },
    )
    assert changed.status_code == 400 and b"current password is wrong" in changed.data
    client.post(f"{BASE}/logout", data={"csrf_token": form_token("/")})
    assert client.get(f"{BASE}/").status_code == 302
    bad_user = client.post(
        f"{BASE}/register",
        data={
            "csrf_token": form_token("/register"),
            "username": "X",
            "email": "nope",
            "password": "short",
        },
    )
    assert bad_user.status_code == 400 and b"username: 3 to 32 characters" in bad_user.data
    login = client.post(
        f"{BASE}/login?next=//evil.example/",
        data={"csrf_token": form_token("/login"), "username": "carol", "password": PASSWORD},
    )
    assert login.status_code == 303 and login.headers["Location"] == "/"  # no open redirect


def test_on_postgres_and_s3(tmp_path: Path, postgres_dsn: str, aws_env: str) -> None:
    """The multi-host configuration: users in PostgreSQL, bytes in an S3-compatible store."""
    bucket = f"drive-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    schema_db = f"d{uuid.uuid4().hex[:8]}"
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {schema_db}")
    app = create_app(
        {
            "DATA_DIR": str(tmp_path),
            "OBJECT_STORE_URL": f"s3://{bucket}/drive",
            "DATABASE_URL": postgres_dsn.rsplit("/", 1)[0] + f"/{schema_db}",
        }
    )
    assert app.extensions["drive"].db.kind == "postgresql"
    alice, bob = new_client(app), new_client(app)
    register(alice, "alice")
    register(bob, "bob")
    file_id = upload(alice, b"in s3", "s3.txt").json["id"]
    assert alice.get(f"{BASE}/api/v1/files/{file_id}/content").data == b"in s3"
    assert bob.get(f"{BASE}/api/v1/files/{file_id}/content").status_code == 404
    keys = [item["Key"] for item in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("drive/users/") and keys[0].endswith(file_id)
    assert new_client(app).get("/readyz").json["checks"] == {
        "object_store": "ok",
        "database": "ok",
        "mail": "ok",
    }


def api_login(client: FlaskClient, username: str, password: str = PASSWORD):
    return client.post(
        f"{BASE}/api/v1/session",
        headers={"X-CSRFToken": token(client)},
        json={"username": username, "password": password},
    )


def form_token(client: FlaskClient, path: str) -> str:
    page = client.get(BASE + path)
    return page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()


def stolen_copy(app: Flask, victim: FlaskClient) -> FlaskClient:
    """A second browser holding a copy of the victim's session cookie."""
    thief = new_client(app)
    cookie = victim.get_cookie("__Host-session", domain="drive.example")
    assert cookie is not None
    thief.set_cookie("__Host-session", cookie.value, domain="drive.example", secure=True)
    assert thief.get(f"{BASE}/api/v1/me").status_code == 200
    return thief


def test_a_captured_cookie_dies_at_logout(app: Flask) -> None:
    alice = new_client(app)
    register(alice, "alice")
    thief = stolen_copy(app, alice)
    cookie = alice.get_cookie("__Host-session", domain="drive.example")
    sid = app.session_interface.get_signing_serializer(app).loads(cookie.value)["sid"]
    stored = [row["id"] for row in app.extensions["drive"].db.execute("SELECT id FROM sessions")]
    assert stored == [hashlib.sha256(sid.encode()).hexdigest()]  # a digest, never the token
    assert (
        alice.delete(f"{BASE}/api/v1/session", headers={"X-CSRFToken": token(alice)}).status_code
        == 204
    )
    assert thief.get(f"{BASE}/api/v1/me").status_code == 401


def test_password_change_and_log_out_everywhere_end_other_sessions(app: Flask) -> None:
    alice = new_client(app)
    register(alice, "alice")
    thief = stolen_copy(app, alice)
    changed = alice.post(
        f"{BASE}/profile",
        data={
            "csrf_token": form_token(alice, "/profile"),
            "current_password": PASSWORD,
            "new_password": "another long password",
        },
    )
    assert changed.status_code == 200 and b"password changed" in changed.data
    assert thief.get(f"{BASE}/api/v1/me").status_code == 401
    assert alice.get(f"{BASE}/api/v1/me").status_code == 200  # the changer stays logged in
    laptop = new_client(app)
    assert api_login(laptop, "alice", "another long password").status_code == 200
    alice.post(
        f"{BASE}/logout", data={"csrf_token": form_token(alice, "/profile"), "everywhere": "1"}
    )
    assert laptop.get(f"{BASE}/api/v1/me").status_code == 401
    assert alice.get(f"{BASE}/api/v1/me").status_code == 401


def test_sessions_have_an_absolute_lifetime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    app = create_app({"DATA_DIR": str(tmp_path), "SESSION_HOURS": "1"})
    alice = new_client(app)
    register(alice, "alice")
    started = time.time()
    for minutes in (20, 40, 59):  # activity does not extend the session
        monkeypatch.setattr(time, "time", lambda m=minutes: started + m * 60)
        me = alice.get(f"{BASE}/api/v1/me")
        assert me.status_code == 200
        assert "Set-Cookie" not in me.headers  # not refreshed on each request
    monkeypatch.setattr(time, "time", lambda: started + 61 * 60)
    assert alice.get(f"{BASE}/api/v1/me").status_code == 401


def test_reserved_names_cannot_be_registered_and_admin_is_not_a_name(tmp_path: Path) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "ADMIN_USERS": "admin,mallory"})
    mallory = new_client(app)
    for name in ("admin", "root", "Administrator"):
        refused = mallory.post(
            f"{BASE}/api/v1/users",
            headers={"X-CSRFToken": token(mallory)},
            json={"username": name, "email": "m@example.com", "password": PASSWORD},
        )
        assert refused.status_code == 400
        assert refused.json["error"] == f"username: {name.lower()!r} is reserved; choose another"
    register(mallory, "mallory")  # named in the old ADMIN_USERS: no longer an admin by name
    assert mallory.get(f"{BASE}/admin").status_code == 403
    assert mallory.get(f"{BASE}/api/v1/me").json["admin"] is False
    missing = app.test_cli_runner().invoke(args=["grant-admin", "nobody"])
    assert missing.exit_code == 1 and "no user 'nobody'" in missing.output
    assert app.test_cli_runner().invoke(args=["grant-admin", "mallory"]).exit_code == 0
    assert mallory.get(f"{BASE}/api/v1/me").json["admin"] is True
    revoked = app.test_cli_runner().invoke(args=["revoke-admin", "mallory"])
    assert revoked.output == "mallory: admin=no\n"
    assert mallory.get(f"{BASE}/admin").status_code == 403


def test_change_password_is_rate_limited_per_user(tmp_path: Path) -> None:
    app = create_app({"DATA_DIR": str(tmp_path), "PASSWORD_CHANGE_RATE_LIMIT": "3 per 15 minutes"})
    alice, bob = new_client(app), new_client(app)
    register(alice, "alice")
    register(bob, "bob")

    def guess(client: FlaskClient, address: str) -> int:
        return client.post(
            f"{BASE}/profile",
            data={
                "csrf_token": form_token(client, "/profile"),
                "current_password": "guess guess guess",
                "new_password": "another long password",
            },
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    # A new address per guess does not help: the limit is per user.
    assert [guess(alice, f"203.0.113.{n}") for n in range(4)] == [400, 400, 400, 429]
    assert guess(bob, "203.0.113.9") == 400  # another user has their own budget


def test_api_log_out_everywhere(app: Flask) -> None:
    phone = new_client(app)
    register(phone, "alice")
    laptop = new_client(app)
    assert api_login(laptop, "alice").status_code == 200
    ended = phone.delete(
        f"{BASE}/api/v1/session?everywhere=true", headers={"X-CSRFToken": token(phone)}
    )
    assert ended.status_code == 204
    assert laptop.get(f"{BASE}/api/v1/me").status_code == 401
    assert phone.get(f"{BASE}/api/v1/me").status_code == 401
    assert app.extensions["drive"].db.execute("SELECT id FROM sessions") == []
