"""Users and their files: rows in the SQL database, bytes in the object store.

Each user's objects live under ``users/<user id>/``; every file lookup is filtered by the owner,
so another user's file is indistinguishable from a missing one. Uploads are all-or-nothing and
respect a per-user quota.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..backends import Database, DependencyDown, IntegrityError, ObjectStore
from ..web import ApiError, safe_filename

log = logging.getLogger("cloud_drive.storage")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    quota_bytes BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    object_key TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (user_id, name));
CREATE INDEX IF NOT EXISTS files_user ON files (user_id, created_at);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS admins (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    granted_at DOUBLE PRECISION NOT NULL)
"""

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{2,31}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
ID = re.compile(r"^[0-9a-f]{32}$")
# Names a visitor could use to pass for the operator or a mailbox role (RFC 2142) in the admin
# list or in a mail; nobody registers them, an operator grants admin with ``flask grant-admin``.
RESERVED_NAMES = frozenset(
    {
        "abuse",
        "admin",
        "administrator",
        "hostmaster",
        "info",
        "mailer-daemon",
        "noc",
        "no-reply",
        "noreply",
        "operator",
        "postmaster",
        "root",
        "security",
        "support",
        "sysadmin",
        "system",
        "webmaster",
    }
)
# Types a browser may show inline; anything else (HTML, SVG, scripts) is always downloaded.
INLINE_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
}
# The RFC 9106 "second recommended" profile: 64 MiB of memory, 3 passes, 4 lanes.
hasher = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)
# Verified against when the user does not exist, so both cases take the same time.
DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


def new_file_id() -> str:
    """32 hex digits: the creation time in nanoseconds, then 64 random bits."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def created_at(file_id: str) -> float:
    """The creation time a file id carries; a random id of the older scheme that reads as a
    future time is never old enough to sweep."""
    seconds = int(file_id[:16], 16) / 1e9
    return seconds if seconds <= time.time() else float("inf")


@dataclass(frozen=True)
class User:
    id: str
    username: str
    email: str
    quota_bytes: int
    created_at: float
    admin: bool = False


class DriveService:
    """Registration, authentication and per-user file storage."""

    def __init__(
        self,
        db: Database,
        objects: ObjectStore,
        quota_bytes: int,
        session_seconds: float = 12 * 3600,
    ) -> None:
        self.db = db
        self.objects = objects
        self.quota_bytes = quota_bytes
        self.session_seconds = session_seconds
        with db.transaction():
            db.script(SCHEMA)

    # users

    def register(self, username: str, email: str, password: str) -> User:
        username = username.strip().lower()
        email = email.strip()
        if not USERNAME.match(username):
            raise ApiError(400, "username: 3 to 32 characters: lowercase letters, digits, . _ -")
        if username in RESERVED_NAMES:
            raise ApiError(400, f"username: {username!r} is reserved; choose another")
        if not EMAIL.match(email) or len(email) > 254:
            raise ApiError(400, "email: give a valid e-mail address")
        if not 10 <= len(password) <= 256:
            raise ApiError(400, "password: 10 to 256 characters")
        user = User(secrets.token_hex(16), username, email, self.quota_bytes, time.time())
        try:
            self.db.execute(
                "INSERT INTO users (id, username, email, password_hash, quota_bytes, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    user.id,
                    user.username,
                    user.email,
                    hasher.hash(password),
                    user.quota_bytes,
                    user.created_at,
                ),
            )
        except IntegrityError:
            raise ApiError(409, f"username {username!r} is taken") from None
        return user

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches; the same work is done for unknown users."""
        row = self.db.one("SELECT * FROM users WHERE username = ?", (username.strip().lower(),))
        try:
            hasher.verify(row["password_hash"] if row else DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if hasher.check_needs_rehash(row["password_hash"]):
            self.db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?",
                (hasher.hash(password), row["id"]),
            )
        return self._user(row)

    def change_password(self, user: User, current: str, new: str) -> None:
        """Set a new password and end every session of the user (a thief's included)."""
        if self.authenticate(user.username, current) is None:
            raise ApiError(400, "current password is wrong")
        if not 10 <= len(new) <= 256:
            raise ApiError(400, "new password: 10 to 256 characters")
        with self.db.transaction():
            self.db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (hasher.hash(new), user.id)
            )
            self.end_sessions(user)

    def user(self, user_id: str) -> User | None:
        row = self.db.one(
            "SELECT u.*, a.user_id AS admin_id FROM users u"
            " LEFT JOIN admins a ON a.user_id = u.id WHERE u.id = ?",
            (user_id,),
        )
        return self._user(row) if row else None

    @staticmethod
    def _user(row: dict[str, Any]) -> User:
        return User(
            row["id"],
            row["username"],
            row["email"],
            int(row["quota_bytes"]),
            float(row["created_at"]),
            bool(row.get("admin_id")),
        )

    # sessions: the cookie carries a random token; only its digest is stored, so a copy of
    # the database opens no session. Ending a session deletes its row, so a captured cookie
    # stops working at logout, and the lifetime counts from login, not from the last request.

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def start_session(self, user: User) -> str:
        """A new session token for the user, valid for ``session_seconds`` from now."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.db.transaction():
            self.db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            self.db.execute(
                "INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (self._digest(token), user.id, now, now + self.session_seconds),
            )
        return token

    def session_user(self, token: str) -> User | None:
        """The user of a live session, or None when it ended or expired."""
        row = self.db.one(
            "SELECT u.*, a.user_id AS admin_id FROM sessions s"
            " JOIN users u ON u.id = s.user_id LEFT JOIN admins a ON a.user_id = u.id"
            " WHERE s.id = ? AND s.expires_at > ?",
            (self._digest(token), time.time()),
        )
        return self._user(row) if row else None

    def end_session(self, token: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE id = ?", (self._digest(token),))

    def end_sessions(self, user: User) -> None:
        """Log the user out everywhere."""
        self.db.execute("DELETE FROM sessions WHERE user_id = ?", (user.id,))

    def set_admin(self, username: str, admin: bool) -> User:
        """Grant or revoke admin (an operator command, never a web request)."""
        row = self.db.one("SELECT * FROM users WHERE username = ?", (username.strip().lower(),))
        if row is None:
            raise ApiError(404, f"no user {username!r}")
        with self.db.transaction():
            self.db.execute("DELETE FROM admins WHERE user_id = ?", (row["id"],))
            if admin:
                self.db.execute(
                    "INSERT INTO admins (user_id, granted_at) VALUES (?, ?)",
                    (row["id"], time.time()),
                )
        user = self.user(row["id"])
        assert user is not None
        return user

    def users_with_usage(self) -> list[dict[str, Any]]:
        return self.db.execute(
            "SELECT u.username, u.email, u.quota_bytes, u.created_at,"
            " COUNT(f.id) AS files, COALESCE(SUM(f.size), 0) AS used_bytes"
            " FROM users u LEFT JOIN files f ON f.user_id = u.id"
            " GROUP BY u.id, u.username, u.email, u.quota_bytes, u.created_at"
            " ORDER BY u.username"
        )

    def used_bytes(self, user: User) -> int:
        row = self.db.one(
            "SELECT COALESCE(SUM(size), 0) AS used FROM files WHERE user_id = ?", (user.id,)
        )
        return int(row["used"]) if row else 0

    # files

    def files(self, user: User) -> list[dict[str, Any]]:
        return self.db.execute(
            "SELECT id, name, size, content_type, created_at FROM files WHERE user_id = ?"
            " ORDER BY created_at DESC",
            (user.id,),
        )

    def file(self, user: User, file_id: str) -> dict[str, Any]:
        """The user's file; another user's file or a malformed id answers 404 just the same."""
        row = None
        if ID.match(file_id):
            row = self.db.one(
                "SELECT * FROM files WHERE id = ? AND user_id = ?", (file_id, user.id)
            )
        if row is None:
            raise ApiError(404, "no such file")
        return row

    def content(self, user: User, file_id: str) -> tuple[dict[str, Any], bytes]:
        row = self.file(user, file_id)
        return row, self.objects.get(row["object_key"])

    def upload(self, user: User, filename: str, data: bytes) -> dict[str, Any]:
        """Store a file; the object is written first and removed again if the row is refused."""
        if not data:
            raise ApiError(400, "the uploaded file is empty")
        name = safe_filename(filename)
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        file_id = new_file_id()
        key = f"users/{user.id}/{file_id}"
        self.objects.put(key, data, content_type)
        try:
            with self.db.transaction():
                lock = " FOR UPDATE" if self.db.kind == "postgresql" else ""
                self.db.execute(f"SELECT id FROM users WHERE id = ?{lock}", (user.id,))
                used = self.used_bytes(user)
                if used + len(data) > user.quota_bytes:
                    free = max(0, user.quota_bytes - used)
                    raise ApiError(
                        413,
                        f"quota exceeded: {free} bytes free of "
                        f"{user.quota_bytes}, the file has {len(data)}",
                    )
                self.db.execute(
                    "INSERT INTO files (id, user_id, name, size, content_type, object_key,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (file_id, user.id, name, len(data), content_type, key, time.time()),
                )
        except IntegrityError:
            self.objects.delete(key)
            raise ApiError(409, f"a file named {name!r} exists; delete it first") from None
        except DependencyDown:
            if self._committed_anyway(user, file_id, key):
                return self.file(user, file_id)
            raise
        except BaseException:
            self.objects.delete(key)
            raise
        return self.file(user, file_id)

    def _committed_anyway(self, user: User, file_id: str, key: str) -> bool:
        """After the database failed mid-upload, whether the row made it after all (the commit
        can succeed and its answer be lost). No row: the object goes; no answer either: the
        object stays for :meth:`sweep_orphans`, since deleting it could orphan a row."""
        try:
            row = self.db.one(
                "SELECT id FROM files WHERE id = ? AND user_id = ?", (file_id, user.id)
            )
        except DependencyDown:
            log.warning("upload interrupted; object left for the sweeper", extra={"key": key})
            return False
        if row is None:
            self.objects.delete(key)
        return row is not None

    def sweep_orphans(self, older_than: float = 3600) -> list[str]:
        """Remove objects no file row names, older than ``older_than`` seconds (their id
        carries their creation time, so an upload in progress is never touched); returns the
        keys removed. What an interrupted upload or delete left behind goes here."""
        cutoff = time.time() - older_than
        removed = []
        for key in self.objects.list("users/"):
            file_id = key.rsplit("/", 1)[-1]
            if not ID.match(file_id) or created_at(file_id) > cutoff:
                continue
            if self.db.one("SELECT id FROM files WHERE object_key = ?", (key,)) is None:
                self.objects.delete(key)
                removed.append(key)
        if removed:
            log.info("orphaned objects removed", extra={"count": len(removed)})
        return removed

    def delete(self, user: User, file_id: str) -> None:
        row = self.file(user, file_id)
        self.db.execute("DELETE FROM files WHERE id = ? AND user_id = ?", (file_id, user.id))
        try:
            self.objects.delete(row["object_key"])
        except Exception:
            log.exception("orphaned object left behind", extra={"key": row["object_key"]})
