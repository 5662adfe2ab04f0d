"""The mobile app's backend: it redeems the app's code as a confidential client and keeps a session.

The "Flet mobile app + FastAPI backend" design, with the standard library. RFC 6749
§4.1.3 (the backend redeems the code, adding its client secret, §2.3.1), RFC 7636 §4.5
(the app's code_verifier travels with the code), RFC 8252 §7.3 (the app's redirect_uri
must be a loopback /callback), OpenID Connect Core §3.1.3.7 (the ID token, nonce
included, is checked by the one OIDC client path), RFC 7519 + RFC 7518 §3.2 (the
backend's own session token: an HS256 JWT), RFC 6750 (it is sent as a Bearer token).

The division of labour is the point of the design:

* the mobile app holds no secret: it makes the PKCE pair, catches the code and hands
  code + verifier (+ redirect_uri and nonce) to ``POST /auth/exchange``;
* the backend adds its client secret, exchanges the code, validates the ID token,
  stores the provider's tokens in SQLite and answers with its OWN short-lived session
  token; the provider's tokens never leave the backend;
* ``/api/me`` accepts that session token; ``POST /auth/refresh`` rotates it (and renews
  the provider's tokens when they are close to expiry); ``POST /auth/logout`` revokes it.

The routes are mounted in the walkthrough app (``complete_oauth_demo.py``), so the
backend answers on :8091 beside the web app, and shares its authorization server.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from oauthdemo.core import paths
from oauthdemo.core.loopback import is_loopback_callback
from oauthdemo.core.errors import ConfigError, InvalidRequest, InvalidToken, OAuth2Error
from oauthdemo.web.httpkit import json_response
from oauthdemo.core.claims import Expect, verify_jwt
from oauthdemo.core.jose import encode_jwt
from oauthdemo.client.oidc import AuthRequest, OIDCClient
from oauthdemo.settings import Provider

SESSION_TTL = 15 * 60             # a session token lives 15 minutes; /auth/refresh renews it
SESSION_ALGORITHMS = ["HS256"]    # the allowlist: 'none' and RS256 tokens are refused
SESSION_ISSUER = "oauth-pkce-demo backend"
SESSION_AUDIENCE = "oauth-pkce-demo backend API"   # its own /api/me, nothing else
PROVIDER_REFRESH_MARGIN = 5 * 60  # renew the provider's tokens when they have less left
EXCHANGE_FIELDS = ("code", "code_verifier", "redirect_uri", "nonce")
DB_FILE_NAME = "backend.sqlite3"
BUSY_TIMEOUT = 10                 # seconds a writer waits for another writer's lock
SQLITE_SIDE_FILES = ("-wal", "-shm")   # WAL mode's journals, beside the database file
DB_ALTERNATIVE = "set BACKEND_DB to a file in a private directory of your own"

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


# -- the database -------------------------------------------------------------------------

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

    def insert(self, row: dict, now: float):
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self.transaction() as db:
            # Expired sessions can never be used again (their token's exp has passed):
            # dropping them here keeps the file from growing without bound.
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            db.execute(f"INSERT INTO sessions ({columns}) VALUES ({marks})", tuple(row.values()))

    def get(self, sid: str) -> sqlite3.Row | None:
        db = self.connect()
        try:
            return db.execute("SELECT * FROM sessions WHERE sid = ?", (sid,)).fetchone()
        finally:
            db.close()

    def revoke(self, sid: str, reason: str, now: float) -> bool:
        """True only for the one caller that revoked a live session: two concurrent
        refreshes (or logouts) of one token cannot both succeed."""
        with self.transaction() as db:
            cur = db.execute("UPDATE sessions SET revoked_at = ?, revoked_reason = ? "
                             "WHERE sid = ? AND revoked_at IS NULL", (now, reason, sid))
            return cur.rowcount == 1


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
                          status_code=503) from err


# -- the backend's decisions ------------------------------------------------------------------

class Backend:
    """The state behind /auth/* and /api/me: a confidential OIDC client and the store."""

    def __init__(self, client: OIDCClient, store: SessionStore, *, narrator, clock=time.time,
                 scope: str = "openid profile email offline_access"):
        self.client = client
        self.store = store
        self.narrator = narrator
        self.clock = clock
        self.scope = scope
        self.session_ttl = SESSION_TTL
        self.refresh_margin = PROVIDER_REFRESH_MARGIN
        self.key = store.session_key()

    def public_config(self) -> dict:
        """What the app needs to start a login; nothing here is secret."""
        p = self.client.provider
        return {"issuer": p.issuer, "client_id": p.client_id, "audience": p.audience,
                "scope": self.scope, "redirect_uri": "http://127.0.0.1:<any port>/callback"}

    # == POST /auth/exchange ===================================================================
    def exchange(self, fields: dict) -> dict:
        code, verifier, redirect_uri, nonce = self.require_fields(fields)
        self.check_redirect_uri(redirect_uri)
        req = AuthRequest(state="", nonce=nonce, verifier=verifier, challenge="",
                          redirect_uri=redirect_uri, issuer=self.client.provider.issuer,
                          scope=self.scope, created=self.clock())
        tokens = self.client.exchange_code(code, req)
        claims = self.client.validate_id_token(tokens.get("id_token"), nonce, req.trace)
        self.client.narrate_tokens(tokens)
        user = {"sub": claims["sub"], "name": claims.get("name"), "email": claims.get("email")}
        return self.start_session(user, self.provider_tokens(tokens))

    def require_fields(self, fields: dict) -> tuple:
        """The nonce is required too: the backend, not the app, validates the ID token, and
        without the app's nonce it could not tell this login's ID token from a replayed one."""
        missing = [name for name in EXCHANGE_FIELDS if not fields.get(name)]
        if missing:
            raise InvalidRequest("Missing field(s): " + ", ".join(missing) + ". Send code, "
                                 "code_verifier, redirect_uri and nonce.")
        return tuple(fields[name] for name in EXCHANGE_FIELDS)

    def check_redirect_uri(self, redirect_uri: str):
        """RFC 8252 §7.3: only a loopback /callback. The app never chooses where codes go:
        a code issued for any other redirect (say, a web page's) is not redeemed here."""
        if not is_loopback_callback(redirect_uri):
            raise InvalidRequest("redirect_uri must be http://127.0.0.1:<port>/callback "
                                 "(a native app's loopback redirect).")
        self.narrator.ok("backend", f"redirect_uri {redirect_uri} is a loopback /callback "
                                    "(RFC 8252 §7.3 allowlist)")

    def provider_tokens(self, tokens: dict, previous: dict | None = None) -> dict:
        """The provider's answer as stored; a provider that does not rotate keeps the old one."""
        previous = previous or {}
        expires_in = tokens.get("expires_in")
        return {"access_token": tokens["access_token"],
                "refresh_token": tokens.get("refresh_token") or previous.get("refresh_token"),
                "id_token": tokens.get("id_token") or previous.get("id_token"),
                "provider_expires_at": self.clock() + int(expires_in) if expires_in else None}

    def start_session(self, user: dict, provider: dict) -> dict:
        now = self.clock()
        row = {"sid": secrets.token_urlsafe(18), "sub": user["sub"],
               "user_info": json.dumps(user), **provider, "created_at": now,
               "expires_at": now + self.session_ttl}
        self.store.insert(row, now)
        token = encode_jwt({"iss": SESSION_ISSUER, "aud": SESSION_AUDIENCE, "sub": user["sub"], "sid": row["sid"],
                            "iat": int(now), "exp": int(row["expires_at"])}, self.key, alg="HS256")
        self.narrator.ok("backend", f"session sid={row['sid'][:8]}… stored in SQLite with the "
                                    "provider's tokens; the app gets only a session token "
                                    f"(HS256, {self.session_ttl // 60} min): "
                                    f"{self.narrator.token(token)}")
        return {"session_token": token, "token_type": "Bearer", "expires_in": self.session_ttl,
                "user_info": user}

    # == every call that presents a session token ================================================
    def check_session(self, token: str | None) -> sqlite3.Row:
        """Signature (HS256 with the database's key; the token never picks alg or key), exp,
        then the sid row: it must exist and not be revoked, so logout works at once."""
        if not token:
            raise InvalidToken("Send 'Authorization: Bearer <session_token>' "
                               "(from POST /auth/exchange).")
        _, claims = verify_jwt(token, algorithms=SESSION_ALGORITHMS, key=self.key,
                               expect=Expect(iss=SESSION_ISSUER, aud=SESSION_AUDIENCE,
                                             now=self.clock()))
        row = self.store.get(str(claims.get("sid", "")))
        if row is None:
            raise InvalidToken("No such session (it was never issued here, or has expired).")
        if row["revoked_at"] is not None:
            raise InvalidToken(f"This session has been revoked ({row['revoked_reason']}).")
        return row

    # == GET /api/me ==============================================================================
    def me(self, token: str | None) -> dict:
        n = self.narrator
        n.step(10, "The backend's protected API (session token)")
        row = self.check_session(token)
        user = json.loads(row["user_info"])
        n.ok("backend", f"session token verified (HS256, key from the database); sid "
                        f"{row['sid'][:8]}… is live → {user.get('name') or user['sub']}")
        provider_exp = row["provider_expires_at"]
        return {"message": f"Hello {user.get('name') or user['sub']}: the backend accepted your "
                           "session token.",
                "user": user, "session_expires_at": int(row["expires_at"]),
                "provider_token_expires_at": int(provider_exp) if provider_exp else None}

    # == POST /auth/refresh ========================================================================
    def refresh(self, token: str | None) -> dict:
        """Rotation: the presented session is revoked first (exactly one caller wins), then a
        new one starts, with the provider's tokens renewed if they are nearly spent."""
        row = self.check_session(token)
        if not self.store.revoke(row["sid"], "rotated", self.clock()):
            raise InvalidToken("This session was rotated or revoked a moment ago.")
        self.narrator.say("backend", f"session sid={row['sid'][:8]}… rotated: the old session "
                                     "token is refused from now on")
        provider, renewed = self.renew_provider_tokens(row)
        answer = self.start_session(json.loads(row["user_info"]), provider)
        return {**answer, "provider_tokens_refreshed": renewed}

    def renew_provider_tokens(self, row) -> tuple:
        stored = {k: row[k] for k in ("access_token", "refresh_token", "id_token",
                                      "provider_expires_at")}
        expires_at = row["provider_expires_at"]
        nearly_spent = expires_at is not None and expires_at - self.clock() <= self.refresh_margin
        if not (nearly_spent and row["refresh_token"]):
            return stored, False
        self.narrator.say("backend", "the provider's access token is close to expiry: using "
                                     "the stored refresh token (it rotates too)")
        tokens = self.client.refresh(row["refresh_token"], id_claims={"sub": row["sub"]})
        return self.provider_tokens(tokens, previous=stored), True

    # == POST /auth/logout =========================================================================
    def logout(self, token: str | None) -> dict:
        row = self.check_session(token)
        if not self.store.revoke(row["sid"], "logged out", self.clock()):
            raise InvalidToken("This session was rotated or revoked a moment ago.")
        self.narrator.ok("backend", f"session sid={row['sid'][:8]}… revoked: its token is "
                                    "refused from this moment")
        return {"revoked": True, "provider_tokens_revoked": self.revoke_at_provider(row)}

    def revoke_at_provider(self, row) -> bool:
        """RFC 7009: revoking the refresh token ends the whole grant at the provider."""
        try:
            return self.client.revoke(row["refresh_token"] or row["access_token"])
        except OAuth2Error as err:
            self.narrator.fail("backend", f"the provider's revocation failed: {err.error}")
            return False


# -- wiring: which client the backend is, where its database lives -------------------------

_BUILD_LOCK = threading.Lock()


def backend_provider(web: Provider, auth_server, values: dict) -> Provider:
    """The backend's own registration at the same provider as the web app."""
    if auth_server is not None:   # the embedded server registers demo-backend with a secret
        registered = auth_server.clients[auth_server.backend_client_id]
        return Provider(web.kind, web.issuer, registered.client_id, registered.secret,
                        web.audience)
    client_id, secret = values.get("BACKEND_CLIENT_ID"), values.get("BACKEND_CLIENT_SECRET")
    if not (client_id and secret):
        raise ConfigError("The mobile backend is a confidential client: set BACKEND_CLIENT_ID "
                          "and BACKEND_CLIENT_SECRET (see .env.example).", status_code=503)
    return Provider(web.kind, web.issuer, client_id, secret, web.audience)


def database_path(values: dict) -> Path:
    configured = values.get("BACKEND_DB")
    if configured:
        return Path(configured).expanduser()
    return paths.user_cache_dir() / DB_FILE_NAME


def backend_for(app) -> Backend:
    """The backend mounted in the walkthrough app, built on the first /auth/ or /api/me
    request (so the database file is created on first use, not at every start)."""
    with _BUILD_LOCK:
        if getattr(app, "backend", None) is None:
            values = app.settings.values
            provider = backend_provider(app.client.provider, app.auth_server, values)
            client = OIDCClient(provider, narrator=app.narrator, clock=app.clock, actor="backend")
            client.discover()
            store = SessionStore(database_path(values))
            app.backend = Backend(client, store, narrator=app.narrator, clock=app.clock,
                                  scope=app.scope)
        return app.backend


class BackendRoutes:
    """The backend's HTTP face, mixed into the walkthrough app's handler. Thin: parse, call."""

    backend_routes = {
        ("GET", "/auth/config"): "backend_config",
        ("POST", "/auth/exchange"): "backend_exchange",
        ("POST", "/auth/refresh"): "backend_refresh",
        ("POST", "/auth/logout"): "backend_logout",
        ("GET", "/api/me"): "backend_me",
    }

    @property
    def backend(self) -> Backend:
        return backend_for(self.server.app)

    def backend_config(self, req):
        return json_response(self.backend.public_config())

    def backend_exchange(self, req):
        self.backend.narrator.say("backend", "POST /auth/exchange from the mobile app")
        return json_response(self.backend.exchange(req.form_or_json()))

    def backend_refresh(self, req):
        return json_response(self.backend.refresh(req.bearer_token()))

    def backend_logout(self, req):
        return json_response(self.backend.logout(req.bearer_token()))

    def backend_me(self, req):
        return json_response(self.backend.me(req.bearer_token()))
