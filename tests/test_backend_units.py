"""The mobile backend without sockets: the SQLite store, the session-token checks and the
routes object, where a real provider adds nothing (tests/test_backend.py has the real one).

Errors are asserted by their RFC 6750 / RFC 6749 code, as the HTTP boundary would send
them (``as_oauth2``); time moves with an injected clock.
"""
from __future__ import annotations

import email.message
import json
import sqlite3
import tempfile
import unittest
from pathlib import Path

from oauthdemo.backend import service
from oauthdemo.backend.routes import BackendRoutes
from oauthdemo.backend.service import Backend
from oauthdemo.backend.store import ProviderTokens, SessionStore, StoredSession
from oauthdemo.backend.wiring import LazyBackend
from oauthdemo.core.errors import (ConfigError, DemoError, NotFound, ProviderUnreachable,
                                   as_oauth2)
from oauthdemo.core.events import Checked, EventBus, Recorder, StepStarted, TokenIssued
from oauthdemo.core.jose import decode_unverified, encode_jwt
from oauthdemo.core.steps import Step
from oauthdemo.settings import Provider
from oauthdemo.web.httpkit import Request

from .demo_fixtures import Clock

ALICE = {"sub": "google-oauth2|1", "name": "Alice Example", "email": "alice@example.com"}
PROVIDER = Provider("embedded", "http://localhost:8092/", "demo-backend", "s3cret")


class ProviderNotReached:
    """Stands where the backend's OIDC client goes: these tests must never reach the
    provider (a refusal happens first). Only logout's revocation is answered."""

    provider = PROVIDER
    metadata: dict = {}   # the discovery document, read at start-up: asking it reaches nobody

    def __init__(self, revoke_error: DemoError | None = None):
        self.revoke_error = revoke_error
        self.revoked: list = []

    def revoke(self, token: str) -> bool:
        if self.revoke_error is not None:
            raise self.revoke_error
        self.revoked.append(token)
        return True

    def __getattr__(self, name):
        raise AssertionError(f"the provider was reached ({name}) but should not have been")


class StoreCase(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.db_path = Path(tmp.name) / "state" / "backend.sqlite3"
        self.store = SessionStore(self.db_path)

    def session(self, sid: str = "sid-1", *, now: float = 1000.0, ttl: float = 60) -> StoredSession:
        tokens = ProviderTokens("provider-access", "provider-refresh", "provider-id", now + 3600)
        return StoredSession(sid, ALICE, tokens, created_at=now, expires_at=now + ttl)


class TestSessionStore(StoreCase):
    def test_a_session_reads_back_as_it_was_stored(self):
        stored = self.session()
        self.store.insert(stored, now=1000.0)
        self.assertEqual(self.store.get("sid-1"), stored)
        self.assertIsNone(self.store.get("no-such-sid"))

    def test_only_one_revocation_of_a_session_wins(self):
        self.store.insert(self.session(), now=1000.0)
        self.assertTrue(self.store.revoke("sid-1", "logged out", now=1001.0))
        self.assertFalse(self.store.revoke("sid-1", "rotated", now=1002.0))
        got = self.store.get("sid-1")
        self.assertEqual((got.revoked, got.revoked_reason, got.revoked_at),
                         (True, "logged out", 1001.0))

    def test_expired_sessions_are_dropped_when_a_new_one_is_stored(self):
        self.store.insert(self.session("old", now=1000.0, ttl=60), now=1000.0)
        self.store.insert(self.session("new", now=2000.0, ttl=60), now=2000.0)
        self.assertIsNone(self.store.get("old"))
        self.assertIsNotNone(self.store.get("new"))

    def test_the_session_key_is_made_once_and_survives_a_restart(self):
        key = self.store.session_key()
        self.assertEqual(SessionStore(self.db_path).session_key(), key)
        self.assertGreaterEqual(len(key), 64)


class BackendCase(StoreCase):
    def setUp(self):
        super().setUp()
        self.clock = Clock(start=1_800_000_000)
        self.recorder = Recorder()
        self.client = ProviderNotReached()
        self.backend = Backend(self.client, self.store, events=EventBus(self.recorder),
                               clock=self.clock)

    def new_session(self) -> str:
        tokens = ProviderTokens("provider-access", "provider-refresh", "provider-id", None)
        return self.backend.start_session(ALICE, tokens)["session_token"]

    def assert_refused(self, call, code: str):
        with self.assertRaises(DemoError) as caught:
            call()
        self.assertEqual(as_oauth2(caught.exception).error, code)

    def assert_refused_everywhere(self, token: str | None):
        for call in (self.backend.me, self.backend.refresh, self.backend.logout):
            with self.subTest(call=call.__name__):
                self.assert_refused(lambda: call(token), "invalid_token")


class TestSessionTokens(BackendCase):
    def test_a_live_session_token_is_accepted(self):
        me = self.backend.me(self.new_session())
        self.assertEqual(me["user"], ALICE)
        self.assertIsNone(me["provider_token_expires_at"])

    def test_a_revoked_session_is_refused(self):
        token = self.new_session()
        self.assertTrue(self.backend.logout(token)["revoked"])
        self.assertEqual(self.client.revoked, ["provider-refresh"])
        self.assert_refused_everywhere(token)

    def test_an_expired_session_is_refused(self):
        token = self.new_session()
        self.clock.advance(service.SESSION_TTL)
        self.assert_refused_everywhere(token)

    def test_a_token_for_another_audience_or_issuer_is_refused(self):
        _, claims = decode_unverified(self.new_session())
        for name, other in (("aud", "another API"), ("iss", "another backend")):
            with self.subTest(claim=name):
                forged = encode_jwt({**claims, name: other}, self.backend.key, alg="HS256")
                self.assert_refused_everywhere(forged)

    def test_a_missing_token_is_refused(self):
        self.assert_refused_everywhere(None)

    def test_refresh_rotates_the_session(self):
        old = self.new_session()
        answer = self.backend.refresh(old)
        self.assertFalse(answer["provider_tokens_refreshed"])   # no expiry known: kept
        self.assertEqual(self.backend.me(answer["session_token"])["user"], ALICE)
        self.assert_refused(lambda: self.backend.me(old), "invalid_token")

    def test_logout_holds_when_the_provider_cannot_be_reached(self):
        self.client.revoke_error = ProviderUnreachable("down")
        token = self.new_session()
        self.assertEqual(self.backend.logout(token),
                         {"revoked": True, "provider_tokens_revoked": False})
        self.assertFalse(self.recorder.of(Checked)[-1].ok)
        self.assert_refused(lambda: self.backend.me(token), "invalid_token")


class TestExchangeRefusals(BackendCase):
    """Refused before the provider is reached, and nothing is stored."""

    def fields(self, **changes) -> dict:
        return {"code": "a-code", "code_verifier": "v" * 43,
                "redirect_uri": "http://127.0.0.1:53682/callback", "nonce": "n", **changes}

    def test_a_redirect_uri_that_is_not_a_loopback_callback(self):
        for uri in ("https://evil.example/callback", "http://127.0.0.1:53682/other",
                    "http://127.0.0.1.evil.example:53682/callback", "myapp://callback"):
            with self.subTest(redirect_uri=uri):
                self.assert_refused(lambda: self.backend.exchange(self.fields(redirect_uri=uri)),
                                    "invalid_request")
        self.assertEqual(self.stored_rows(), 0)

    def test_each_missing_field(self):
        for name in service.EXCHANGE_FIELDS:
            with self.subTest(missing=name):
                self.assert_refused(lambda: self.backend.exchange(self.fields(**{name: ""})),
                                    "invalid_request")
        self.assertEqual(self.stored_rows(), 0)

    def stored_rows(self) -> int:
        db = sqlite3.connect(self.db_path)
        try:
            return db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        finally:
            db.close()


class TestEvents(BackendCase):
    def test_the_steps_the_backend_announces(self):
        token = self.new_session()
        self.backend.me(token)
        with self.assertRaises(DemoError):
            self.backend.exchange({})
        steps = [(e.step, e.context) for e in self.recorder.of(StepStarted)]
        self.assertEqual(steps, [(Step.PROTECTED_API, "the backend's session token"),
                                 (Step.TOKEN_REQUEST, "the backend redeems the mobile app's code")])

    def test_the_backends_step_10_names_the_logins_flow(self):
        """Issue 11 item 2: the flow tag travels in the (verified) session token."""
        tokens = ProviderTokens("provider-access", "provider-refresh", "provider-id", None)
        token = self.backend.start_session(ALICE, tokens, flow="Ab3dEf")["session_token"]
        self.backend.me(token)
        [step] = self.recorder.of(StepStarted)
        self.assertEqual((step.step, step.flow), (Step.PROTECTED_API, "Ab3dEf"))
        [issued] = self.recorder.of(TokenIssued)
        self.assertEqual((issued.actor, issued.token), ("backend", token))


# -- the routes object, with a request that never touched a socket ---------------------------

class StubHandler:
    """What httpkit.Request reads from its handler: the headers and the body."""

    def __init__(self, body: bytes = b"", **headers):
        self.headers = email.message.Message()
        for name, value in headers.items():
            self.headers[name.replace("_", "-")] = value
        self.body = body

    def read_body(self) -> bytes:
        return self.body


def request(method: str, path: str, body: dict | None = None, token: str | None = None):
    headers = {"Content_Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    handler = StubHandler(json.dumps(body).encode() if body is not None else b"", **headers)
    return Request(handler, method, path, {})


class TestRoutes(BackendCase):
    def setUp(self):
        super().setUp()
        self.routes = BackendRoutes(LazyBackend.ready(self.backend))

    def answer(self, *args, **kwargs) -> tuple:
        resp = self.routes.handle(request(*args, **kwargs))
        return resp.status, json.loads(resp.body)

    def test_config_and_me(self):
        status, config = self.answer("GET", "/auth/config")
        self.assertEqual((status, config["client_id"]), (200, "demo-backend"))
        self.assertNotIn("s3cret", json.dumps(config))
        status, me = self.answer("HEAD", "/api/me", token=self.new_session())
        self.assertEqual((status, me["user"]), (200, ALICE))

    def test_every_backend_path_is_routed_and_nothing_else(self):
        for method, path in BackendRoutes.ROUTES:
            self.assertTrue(callable(getattr(self.routes, BackendRoutes.ROUTES[method, path])))
        with self.assertRaises(NotFound):
            self.routes.handle(request("GET", "/auth/nothing"))
        with self.assertRaises(NotFound):
            self.routes.handle(request("GET", "/auth/exchange"))

    def test_bad_exchange_is_invalid_request(self):
        self.assert_refused(lambda: self.answer("POST", "/auth/exchange", body={}),
                            "invalid_request")


class TestLazyBackend(unittest.TestCase):
    def test_built_once_and_a_failed_build_is_tried_again(self):
        attempts = []

        def build():
            attempts.append(1)
            if len(attempts) == 1:
                raise ConfigError("not private", status_code=503)
            return "the backend"

        lazy = LazyBackend(build)
        with self.assertRaises(ConfigError):
            lazy.get()
        self.assertEqual((lazy.get(), lazy.get(), len(attempts)), ("the backend", "the backend", 2))


if __name__ == "__main__":
    unittest.main()
