"""The backend's session store: one SQLite file, private to its owner, that survives restarts.

It holds what the mobile app must never see: the provider's tokens (RFC 6749 §10.3, §10.4:
access and refresh tokens are kept confidential) and the key that signs the backend's own
session tokens (RFC 7518 §3.2, HS256). So the file is created owner-only (0600) in a
private (0700) directory, and so are SQLite's WAL side files: one planted there by
someone else would be read as part of our database.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from oauthdemo.core import paths
from oauthdemo.core.errors import ConfigError

BUSY_TIMEOUT = 10                      # seconds a writer waits for another writer's lock
SQLITE_SIDE_FILES = ("-wal", "-shm")   # WAL mode's journals, beside the database file
DB_ALTERNATIVE = "set BACKEND_DB to a file in a private directory of your own"
NOT_PRIVATE_STATUS = 503               # a shared database: the backend is unavailable, not broken

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    sid                 TEXT PRIMARY KEY,   -- the session token's 'sid' claim
    sub                 TEXT NOT NULL,      -- who logged in (from the verified ID token)
    user_info           TEXT NOT NULL,      -- JSON: sub, name, email
    access_token        TEXT NOT NULL,      -- the provider's tokens: they stay here
    refresh_token       TEXT,
    id_token            TEXT,
    provider_expires_at REAL,
    created_at          REAL NOT NULL,
    expires_at          REAL NOT NULL,      -- = the session token's exp
    revoked_at          REAL,               -- set by logout and by rotation
    revoked_reason      TEXT
);
"""


@dataclass(frozen=True)
class ProviderTokens:
    """The provider's answer as the backend keeps it; none of it leaves the backend."""
    access_token: str
    refresh_token: str | None = None
    id_token: str | None = None
    expires_at: float | None = None     # from the provider's expires_in, if it sent one


@dataclass(frozen=True)
class StoredSession:
    """One row of ``sessions``: who logged in, the provider's tokens, and the session's life."""
    sid: str
    user: dict                          # sub, name, email (from the verified ID token)
    provider: ProviderTokens
    created_at: float
    expires_at: float
    revoked_at: float | None = None
    revoked_reason: str | None = None

    def columns(self) -> dict:
        """The row as SQLite stores it (the schema above)."""
        return {
            "sid": self.sid, "sub": self.user["sub"], "user_info": json.dumps(self.user),
            "access_token": self.provider.access_token,
            "refresh_token": self.provider.refresh_token, "id_token": self.provider.id_token,
            "provider_expires_at": self.provider.expires_at,
            "created_at": self.created_at, "expires_at": self.expires_at,
            "revoked_at": self.revoked_at, "revoked_reason": self.revoked_reason}

    @property
    def sub(self) -> str:
        return self.user["sub"]

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "StoredSession":
        tokens = ProviderTokens(row["access_token"], row["refresh_token"], row["id_token"],
                                row["provider_expires_at"])
        return cls(row["sid"], json.loads(row["user_info"]), tokens, row["created_at"],
                   row["expires_at"], row["revoked_at"], row["revoked_reason"])


class SessionStore:
    """Sessions and the session-signing key, in one SQLite file that survives restarts.

    Each operation opens its own connection (so threads never share one) and writes
    inside ``BEGIN IMMEDIATE``: the write lock is taken up front, so two concurrent
    requests queue for it (up to BUSY_TIMEOUT) instead of corrupting or deadlocking.
    WAL mode lets readers carry on while one request writes.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        create_private_file(self.path)
        db = self.connect()
        try:
            db.execute("PRAGMA journal_mode=WAL")   # stored in the file: set once, kept
            db.executescript(SCHEMA)
        finally:
            db.close()

    def connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    @contextlib.contextmanager
    def transaction(self):
        db = self.connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def session_key(self) -> bytes:
        """The HS256 key, made on first use. Text, not raw bytes: jose refuses HMAC keys
        that look like a public key (key confusion), and random bytes may start with '{'."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('session_key', ?)",
                       (secrets.token_urlsafe(48).encode("ascii"),))
            return bytes(db.execute("SELECT value FROM meta WHERE name = 'session_key'")
                         .fetchone()[0])

    def insert(self, session: StoredSession, now: float):
        row = session.columns()
        columns, marks = ", ".join(row), ", ".join("?" for _ in row)
        with self.transaction() as db:
            # Expired sessions can never be used again (their token's exp has passed):
            # dropping them here keeps the file from growing without bound.
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            db.execute(f"INSERT INTO sessions ({columns}) VALUES ({marks})", tuple(row.values()))

    def get(self, sid: str) -> StoredSession | None:
        db = self.connect()
        try:
            row = db.execute("SELECT * FROM sessions WHERE sid = ?", (sid,)).fetchone()
        finally:
            db.close()
        return StoredSession.from_row(row) if row is not None else None

    def revoke(self, sid: str, reason: str, now: float) -> bool:
        """True only for the one caller that revoked a live session: two concurrent
        refreshes (or logouts) of one token cannot both succeed."""
        with self.transaction() as db:
            cur = db.execute("UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
                             "WHERE sid = ? AND revoked_at IS NULL", (now, reason, sid))
            return cur.rowcount == 1


# -- the file: owner-only, and so are its journals -----------------------------------------

def create_private_file(path: Path):
    """The database holds the provider's tokens and the signing key: owner-only (0600) in a
    private directory, like paths.write_private_file. SQLite gives its -wal and -shm files
    the database's mode, but opens ones that already exist: planted there first, they
    would be read as part of our database, so they must be ours and 600 too."""
    paths.make_private_dirs(path.parent)
    check_database_files(path)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, paths.PRIVATE_FILE_MODE))
    check_database_files(path)   # again: some filesystems ignore the mode we asked for


def check_database_files(path: Path):
    names = (path.name,) + tuple(path.name + suffix for suffix in SQLITE_SIDE_FILES)
    try:
        paths.check_private_dir(path.parent, files=names, alternative=DB_ALTERNATIVE)
    except paths.UnsafePermissions as err:   # a sentence for the person running the demo
        raise ConfigError(f"The backend database is not private: {err}",
                          status_code=NOT_PRIVATE_STATUS) from err
