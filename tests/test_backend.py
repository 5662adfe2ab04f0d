"""The mobile app's backend, over real sockets: /auth/exchange as a confidential client,
the HS256 session token, rotation, revocation, a restart on the same SQLite file,
concurrency, and every bad input of issue 5 §4 (a JSON error code, and nothing stored)."""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import tempfile
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from oauthdemo.backend import service as backend
from oauthdemo.backend import wiring
from oauthdemo.backend.store import SessionStore
from oauthdemo.core.errors import ConfigError
from oauthdemo.core.jose import b64url_encode, decode_unverified, encode_jwt
from oauthdemo.client.oidc import OIDCClient
from oauthdemo.client.transport import http_json
from oauthdemo.settings import Provider, Settings
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import Clock, demo_settings, start_test_demo

APP_REDIRECT = "http://127.0.0.1:53682/callback"   # the app's loopback redirect (never fetched)


def query_of(url: str) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def call(url: str, body: dict | None = None, token: str | None = None) -> tuple:
    """A JSON request as the mobile app would send it; returns (status, JSON body)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers,
                                 method="POST" if body is not None else "GET")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=20) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


class BackendCase(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.db_path = Path(tmp.name) / "state" / "backend.sqlite3"
        self.clock = Clock()
        self.cfg = demo_settings(backend_db=str(self.db_path))
        self.start()

    def start(self):
        self.running, self.console = start_test_demo(self.cfg, clock=self.clock)
        self.addCleanup(self.running.stop)
        self.url = self.running.app_url
        self.auth = self.running.auth

    # -- the mobile app's side: a public client that only makes the PKCE request -------------
    def app_client(self) -> OIDCClient:
        status, config = call(self.url + "/auth/config")
        self.assertEqual(status, 200)
        client = OIDCClient.discover(Provider("oidc", config["issuer"], config["client_id"], None,
                                              config["audience"]))   # silent: no events wanted
        self.scope = config["scope"]          # includes offline_access: a refresh token too
        return client

    def fields_for_new_code(self, user: str = "alice", client: OIDCClient | None = None) -> dict:
        """What the app sends to /auth/exchange after a real login at the provider."""
        req = (client or self.app_client()).begin(APP_REDIRECT, scope=self.scope)
        params = query_of(ScriptedBrowser().login_at_provider(req.url, user=user))
        self.assertEqual(params["state"], req.state)
        return {"code": params["code"], "code_verifier": req.verifier,
                "redirect_uri": APP_REDIRECT, "nonce": req.nonce}

    def exchange(self, fields: dict) -> tuple:
        return call(self.url + "/auth/exchange", fields)

    def session(self, user: str = "alice") -> dict:
        status, body = self.exchange(self.fields_for_new_code(user))
        self.assertEqual(status, 200, body)
        return body

    def rows(self) -> list:
        db = sqlite3.connect(self.db_path)
        try:
            db.row_factory = sqlite3.Row
            return db.execute("SELECT * FROM sessions ORDER BY created_at").fetchall()
        finally:
            db.close()

    def assert_error(self, answer: tuple, status: int, code: str):
        self.assertEqual(answer[0], status, answer[1])
        self.assertEqual(answer[1]["error"], code, answer[1])
        self.assertTrue(answer[1]["error_description"])


class TestExchange(BackendCase):
    def test_config_is_public_and_the_database_is_made_on_first_use(self):
        self.assertFalse(self.db_path.exists())
        status, config = call(self.url + "/auth/config")
        self.assertEqual(status, 200)
        self.assertEqual(config["client_id"], "demo-backend")
        self.assertEqual(config["issuer"], self.auth.issuer)
        secret = self.auth.clients["demo-backend"].secret
        self.assertNotIn(secret, json.dumps(config))
        self.assertEqual(stat.S_IMODE(self.db_path.stat().st_mode), 0o600)
        db = sqlite3.connect(self.db_path)
        self.addCleanup(db.close)
        self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")

    def test_exchange_end_to_end(self):
        fields = self.fields_for_new_code()
        status, body = self.exchange(fields)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["user_info"]["email"], "alice@example.com")
        self.assertEqual(body["expires_in"], backend.SESSION_TTL)
        header, claims = decode_unverified(body["session_token"])
        self.assertEqual(header["alg"], "HS256")
        self.assertEqual(claims["exp"] - claims["iat"], backend.SESSION_TTL)
        [row] = self.rows()
        self.assertEqual(row["sid"], claims["sid"])
        self.assertTrue(row["access_token"] and row["refresh_token"] and row["id_token"])
        self.assertNotIn(row["access_token"], json.dumps(body))  # provider tokens stay here
        status, me = call(self.url + "/api/me", token=body["session_token"])
        self.assertEqual(status, 200, me)
        self.assertIn("Hello Alice Example", me["message"])
        self.assertTrue(any(e.verifier == fields["code_verifier"] and e.match
                            for e in self.auth.inspect.pkce_records()))
        console = self.console.getvalue()
        self.assertIn("backend", console)
        self.assertNotIn(self.auth.clients["demo-backend"].secret, console)

    def test_the_backend_authenticates_as_a_confidential_client(self):
        fields = self.fields_for_new_code()
        status, body = http_json(self.auth.url("/oauth/token"), data={
            "grant_type": "authorization_code", "client_id": "demo-backend",
            "code": fields["code"], "redirect_uri": APP_REDIRECT,
            "code_verifier": fields["code_verifier"]})
        self.assertEqual((status, body["error"]), (401, "invalid_client"))  # a code alone is useless
        self.assertEqual(self.exchange(fields)[0], 200)

    def test_twenty_concurrent_exchanges_each_get_their_own_session(self):
        client = self.app_client()
        all_fields = [self.fields_for_new_code(("alice", "bob", "carol")[i % 3], client)
                      for i in range(20)]
        start = threading.Barrier(20)
        answers = [None] * 20

        def exchange(i):
            start.wait()
            answers[i] = self.exchange(all_fields[i])

        threads = [threading.Thread(target=exchange, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual([a[0] for a in answers], [200] * 20, answers)
        sids = {decode_unverified(a[1]["session_token"])[1]["sid"] for a in answers}
        self.assertEqual(len(sids), 20)
        self.assertEqual({r["sid"] for r in self.rows()}, sids)
        for status, body in answers:
            self.assertEqual(call(self.url + "/api/me", token=body["session_token"])[0], 200)


class TestBadExchanges(BackendCase):
    """Issue 5 §4: each gets a clear JSON error, and no session row is written."""

    def assert_refused(self, fields, status: int, code: str):
        before = len(self.rows()) if self.db_path.exists() else 0
        self.assert_error(self.exchange(fields), status, code)
        self.assertEqual(len(self.rows()), before)

    def test_missing_fields(self):
        fields = self.fields_for_new_code()
        for name in backend.EXCHANGE_FIELDS:
            partial = {k: v for k, v in fields.items() if k != name}
            self.assert_refused(partial, 400, "invalid_request")
            self.assert_refused({**fields, name: ""}, 400, "invalid_request")
        self.assertEqual(self.exchange(fields)[0], 200)   # none of that used up the code

    def test_body_that_is_not_json(self):
        req = urllib.request.Request(self.url + "/auth/exchange", data=b"{not json",
                                     headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with self.assertRaises(urllib.error.HTTPError) as caught:
            opener.open(req, timeout=10)
        with caught.exception as err:
            self.assertEqual((err.code, json.loads(err.read())["error"]), (400, "invalid_request"))

    def test_wrong_verifier(self):
        fields = self.fields_for_new_code()
        other_verifier = self.fields_for_new_code()["code_verifier"]
        self.assert_refused({**fields, "code_verifier": other_verifier}, 403, "invalid_grant")

    def test_reused_code(self):
        fields = self.fields_for_new_code()
        self.assertEqual(self.exchange(fields)[0], 200)
        self.assert_refused(fields, 403, "invalid_grant")
        self.assertEqual(len(self.rows()), 1)

    def test_redirect_uri_the_app_chose_is_not_trusted(self):
        fields = self.fields_for_new_code()
        for uri in ("https://evil.example/callback", "http://127.0.0.1:53682/other",
                    "http://127.0.0.1.evil.example:53682/callback", "myapp://callback"):
            self.assert_refused({**fields, "redirect_uri": uri}, 400, "invalid_request")
        self.assertEqual(self.exchange(fields)[0], 200)   # refused before reaching the provider

    def test_nonce_of_another_login(self):
        fields = self.fields_for_new_code()
        other_nonce = self.fields_for_new_code()["nonce"]
        self.assert_refused({**fields, "nonce": other_nonce}, 401, "invalid_token")


class TestSessionTokens(BackendCase):
    """Forged, expired, revoked, other-key and alg-none tokens are refused everywhere."""

    def assert_refused_everywhere(self, token: str | None):
        before = [tuple(r) for r in self.rows()]
        for path, body in (("/api/me", None), ("/auth/refresh", {}), ("/auth/logout", {})):
            self.assert_error(call(self.url + path, body, token=token), 401, "invalid_token")
        self.assertEqual([tuple(r) for r in self.rows()], before)   # nothing stored or revoked

    def session_key(self) -> bytes:
        db = sqlite3.connect(self.db_path)
        try:
            return bytes(db.execute("SELECT value FROM meta WHERE name = 'session_key'")
                         .fetchone()[0])
        finally:
            db.close()

    def test_missing_token(self):
        self.session()
        self.assert_refused_everywhere(None)

    def test_forged_token(self):
        token = self.session()["session_token"]
        header, payload, signature = token.split(".")
        _, claims = decode_unverified(token)
        forged = b64url_encode(json.dumps({**claims, "sub": "github|5821930"}).encode())
        self.assert_refused_everywhere(f"{header}.{forged}.{signature}")

    def test_expired_token(self):
        token = self.session()["session_token"]
        self.clock.advance(backend.SESSION_TTL + 1)
        self.assert_refused_everywhere(token)

    def test_token_signed_with_another_key(self):
        _, claims = decode_unverified(self.session()["session_token"])
        self.assert_refused_everywhere(encode_jwt(claims, os.urandom(32).hex().encode(),
                                                  alg="HS256"))

    def test_alg_none(self):
        _, claims = decode_unverified(self.session()["session_token"])
        parts = [b64url_encode(json.dumps(p).encode()) for p in ({"alg": "none"}, claims)]
        self.assert_refused_everywhere(".".join(parts) + ".")

    def test_provider_access_token_is_not_a_session_token(self):
        self.session()
        provider_token = self.rows()[0]["access_token"]       # RS256: not on the allowlist
        self.assert_refused_everywhere(provider_token)

    def test_session_that_does_not_exist(self):
        _, claims = decode_unverified(self.session()["session_token"])
        made_up = encode_jwt({**claims, "sid": "no-such-session"}, self.session_key(), alg="HS256")
        self.assert_refused_everywhere(made_up)

    def test_revoked_token_is_refused_at_once(self):
        token = self.session()["session_token"]
        status, body = call(self.url + "/auth/logout", {}, token=token)
        self.assertEqual((status, body["revoked"]), (200, True))
        self.assertTrue(body["provider_tokens_revoked"])
        self.assertEqual(self.rows()[0]["revoked_reason"], "logged out")
        self.assert_refused_everywhere(token)
        provider_refresh = self.rows()[0]["refresh_token"]
        status, body = http_json(self.auth.url("/oauth/token"), data={
            "grant_type": "refresh_token", "client_id": "demo-backend",
            "client_secret": self.auth.clients["demo-backend"].secret,
            "refresh_token": provider_refresh})
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))


class TestRefreshAndRestart(BackendCase):
    def test_refresh_rotates_the_session(self):
        old = self.session()["session_token"]
        status, body = call(self.url + "/auth/refresh", {}, token=old)
        self.assertEqual(status, 200, body)
        self.assertFalse(body["provider_tokens_refreshed"])     # they have a day left
        new = body["session_token"]
        self.assertNotEqual(decode_unverified(new)[1]["sid"], decode_unverified(old)[1]["sid"])
        self.assertEqual(call(self.url + "/api/me", token=new)[0], 200)
        self.assert_error(call(self.url + "/api/me", token=old), 401, "invalid_token")
        first, second = self.rows()
        self.assertEqual(first["revoked_reason"], "rotated")
        self.assertEqual(first["access_token"], second["access_token"])

    def test_refresh_renews_provider_tokens_close_to_expiry(self):
        old = self.session()["session_token"]
        self.running.app.backend.service().refresh_margin = 2 * 86400    # "close to expiry" = always
        status, body = call(self.url + "/auth/refresh", {}, token=old)
        self.assertEqual(status, 200, body)
        self.assertTrue(body["provider_tokens_refreshed"])
        first, second = self.rows()
        self.assertNotEqual(first["access_token"], second["access_token"])
        self.assertNotEqual(first["refresh_token"], second["refresh_token"])   # rotated too

    def test_two_refreshes_of_one_session_cannot_both_win(self):
        old = self.session()["session_token"]
        start = threading.Barrier(2)
        answers = []

        def refresh():
            start.wait()
            answers.append(call(self.url + "/auth/refresh", {}, token=old)[0])

        threads = [threading.Thread(target=refresh) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(answers), [200, 401])
        self.assertEqual(len(self.rows()), 2)

    def test_session_survives_a_restart_on_the_same_database(self):
        token = self.session("bob")["session_token"]
        self.running.stop()
        self.start()                                 # a new process would do exactly this
        status, me = call(self.url + "/api/me", token=token)
        self.assertEqual(status, 200, me)
        self.assertEqual(me["user"]["name"], "Bob Builder")


class TestWiring(unittest.TestCase):
    def test_a_real_provider_needs_the_backend_client_and_secret(self):
        web = Provider("oidc", "https://id.example/", "web-app")
        with self.assertRaises(ConfigError) as caught:
            wiring.backend_provider(web, None, Settings(backend_client_id="backend"))
        self.assertEqual(caught.exception.status_code, 503)
        made = wiring.backend_provider(web, None, Settings(backend_client_id="backend",
                                                           backend_client_secret="s3cret"))
        self.assertEqual((made.issuer, made.client_id, made.client_secret),
                         ("https://id.example/", "backend", "s3cret"))

    def test_a_database_others_can_read_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "backend.sqlite3"
            path.touch()
            os.chmod(path, 0o644)
            with self.assertRaises(ConfigError):
                SessionStore(path)

    def test_database_path_setting(self):
        self.assertEqual(wiring.database_path(Settings(backend_db="/tmp/x.sqlite3")),
                         Path("/tmp/x.sqlite3"))
        self.assertEqual(wiring.database_path(Settings()).name, wiring.DB_FILE_NAME)


if __name__ == "__main__":
    unittest.main()
