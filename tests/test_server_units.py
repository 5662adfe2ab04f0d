"""The embedded server's parts without sockets: the grant store, the PKCE check, the
inspection API and the login form's token. RFC 6749 §4.1.2–4.1.3 and §6, RFC 7636 §4.6.

Where a socket adds nothing, a part is driven directly (its checks raise errors carrying
RFC codes) or through a handler fed from a buffer (CPython's ``SocketlessRequestHandler``
pattern); the end-to-end behaviour over real sockets is in ``test_authserver``.
"""
from __future__ import annotations

import dataclasses
import io
import re
import unittest
import urllib.parse
from types import SimpleNamespace

import pkce
from oauthdemo.core.errors import InvalidGrant, InvalidRequest, TableFull
from oauthdemo.core.events import CodeIssued, EventBus, PkceChecked, Recorder
from oauthdemo.core.steps import Step
from oauthdemo.server.authorize import CODE_TTL
from oauthdemo.server.authserver import AuthorizationServer
from oauthdemo.server.handler import BROWSER_COOKIE, AuthServerHandler
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.server.store import CodeRecord, GrantStore, Limits
from oauthdemo.server.token import new_grant

from .support import shared_rsa_key

APP = "http://localhost:8091"
REDIRECT_URI = APP + "/callback"
PORT = 8092
BROWSER_A, BROWSER_B = "A" * 32, "B" * 32
START = 1_700_000_000.0


class Clock:
    """Time that moves only when a test says so (no demo needed, unlike demo_fixtures')."""

    def __init__(self):
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float):
        self.now += seconds


def code_record(clock: Clock, scope: str = "openid offline_access", **overrides) -> CodeRecord:
    fields = dict(client_id="demo-web-app", redirect_uri=REDIRECT_URI,
                  challenge=pkce.make_challenge("v" * 43), scope=scope, nonce="n",
                  audience=None, user="alice", auth_time=clock(), created=clock(),
                  expires=clock() + CODE_TTL)
    fields.update(overrides)
    return CodeRecord(**fields)


def accept(record, now):
    if record is None:
        raise InvalidGrant("unknown")


def refuse_used(record, now):
    if record is None or record.used:
        raise InvalidGrant("unknown or used")


class ServerCase(unittest.TestCase):
    """An AuthorizationServer with no port: its parts, a recorder and a clock."""

    def setUp(self):
        self.clock, self.recorder = Clock(), Recorder()
        self.auth = AuthorizationServer(SigningKeyStore(key=shared_rsa_key()),
                                        events=EventBus(self.recorder), clock=self.clock)
        self.auth.set_issuer(f"http://localhost:{PORT}")
        self.auth.register_web_app([APP])

    def authorization_request(self, **overrides) -> dict:
        self.verifier, challenge = pkce.make_pair()
        params = {"response_type": "code", "client_id": "demo-web-app",
                  "redirect_uri": REDIRECT_URI, "scope": "openid profile offline_access",
                  "code_challenge": challenge, "code_challenge_method": "S256",
                  "state": "state-" + self.verifier[:10], "nonce": "n-1"}
        params.update(overrides)
        return params

    def stored_request(self, browser: str = BROWSER_A, **overrides):
        endpoint = self.auth.authorization
        params = self.authorization_request(**overrides)
        client, redirect_uri = endpoint.check_client_and_redirect(params)
        return endpoint.store_request(client, redirect_uri, params,
                                      endpoint.check_request(params), browser)

    def issued_code(self) -> str:
        """A whole consent, straight through the endpoint: the code on the redirect."""
        endpoint = self.auth.authorization
        txn = endpoint.log_in(self.stored_request(), "alice")
        location = endpoint.finish(txn, allow=True)
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["code"]


class TestGrantStore(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()
        self.store = GrantStore(self.clock, Limits(codes=2))

    def test_a_code_is_redeemed_once(self):
        self.store.add_code("code-1", code_record(self.clock))
        grant = self.store.redeem_code("code-1", refuse_used, new_grant)
        self.assertTrue(self.store.code("code-1").used)
        self.assertEqual(self.store.code("code-1").grant_id, grant.grant_id)
        with self.assertRaises(InvalidGrant) as ctx:
            self.store.redeem_code("code-1", refuse_used, new_grant)
        self.assertEqual(ctx.exception.error, "invalid_grant")
        self.assertEqual(self.store.sizes()["grants"], 1)

    def test_codes_are_kept_by_hash_and_forgotten_at_their_expiry(self):
        self.store.add_code("code-1", code_record(self.clock))
        self.assertIsNotNone(self.store.code("code-1"))
        self.clock.advance(CODE_TTL)
        self.assertIsNone(self.store.code("code-1"))
        with self.assertRaises(InvalidGrant):
            self.store.redeem_code("code-1", accept, new_grant)

    def test_a_full_code_table_refuses_and_never_evicts(self):
        self.store.add_code("code-1", code_record(self.clock))
        self.store.add_code("code-2", code_record(self.clock))
        with self.assertRaises(TableFull) as ctx:
            self.store.add_code("code-3", code_record(self.clock))
        self.assertEqual((ctx.exception.status_code, ctx.exception.error),
                         (503, "temporarily_unavailable"))
        self.assertIsNotNone(self.store.code("code-1"))

    def test_rotation_moves_the_generation_on(self):
        self.store.add_code("code-1", code_record(self.clock))
        grant = self.store.redeem_code("code-1", accept, new_grant)
        rotated = self.store.rotate(grant.grant_id, lambda g: None)
        self.assertEqual((grant.generation, rotated.generation), (0, 1))
        self.assertEqual(self.store.grant(grant.grant_id).generation, 1)

    def test_revoking_a_grant_happens_once_and_lasts(self):
        self.store.add_code("code-1", code_record(self.clock))
        grant = self.store.redeem_code("code-1", accept, new_grant)
        self.assertTrue(self.store.grant_alive(grant.grant_id))
        self.assertTrue(self.store.revoke_grant(grant.grant_id))
        self.assertFalse(self.store.revoke_grant(grant.grant_id))
        self.assertFalse(self.store.grant_alive(grant.grant_id))
        self.assertFalse(self.store.grant_alive(None))

    def test_a_grant_without_offline_access_lives_as_long_as_its_access_token(self):
        from oauthdemo.server.token import ACCESS_TOKEN_TTL, GRANT_TTL
        short = new_grant(code_record(self.clock, scope="openid"), self.clock())
        long = new_grant(code_record(self.clock), self.clock())
        self.assertEqual(short.expires - int(self.clock()), ACCESS_TOKEN_TTL)
        self.assertEqual(long.expires - int(self.clock()), GRANT_TTL)

    def test_caps_can_be_lowered_on_a_running_store(self):
        self.store.set_limits(codes=1)
        self.store.add_code("code-1", code_record(self.clock))
        with self.assertRaises(TableFull):
            self.store.add_code("code-2", code_record(self.clock))


class TestPkceCheck(ServerCase):
    """RFC 7636 §4.6: the challenge is recomputed once; the event carries both values."""

    def setUp(self):
        super().setUp()
        self.grant_type = self.auth.code_grant
        self.verifier = pkce.make_verifier()
        self.record = code_record(self.clock, challenge=pkce.make_challenge(self.verifier))

    def test_rfc7636_appendix_b_verifier_matches(self):
        verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        record = code_record(self.clock,
                             challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        self.grant_type.check_pkce(record, verifier)
        event = self.recorder.of(PkceChecked)[-1]
        self.assertTrue(event.ok)
        self.assertEqual(event.recomputed, event.stored)

    def test_wrong_verifier_emits_pkce_checked_false_and_is_invalid_grant(self):
        wrong = pkce.make_verifier()
        with self.assertRaises(InvalidGrant) as ctx:
            self.grant_type.check_pkce(self.record, wrong)
        self.assertEqual((ctx.exception.error, ctx.exception.status_code), ("invalid_grant", 403))
        [event] = self.recorder.of(PkceChecked)
        self.assertEqual((event.actor, event.verifier, event.stored, event.ok),
                         ("authorization server", wrong, self.record.challenge, False))
        self.assertEqual(event.recomputed, pkce.make_challenge(wrong))
        steps = [e.step for e in self.recorder.events if hasattr(e, "step")]
        self.assertEqual(steps, [Step.PKCE_CHECK])
        self.assertFalse(self.auth.inspect.pkce_record(self.record.challenge).match)

    def test_missing_or_malformed_verifier_is_invalid_request_and_not_a_check(self):
        for verifier in (None, "", "too-short", "é" * 43):
            with self.subTest(verifier=verifier), self.assertRaises(InvalidRequest) as ctx:
                self.grant_type.check_pkce(self.record, verifier)
            self.assertEqual(ctx.exception.error, "invalid_request")
        self.assertEqual(self.recorder.of(PkceChecked), [])

    def test_a_code_is_bound_to_its_challenge_when_issued(self):
        code = self.issued_code()
        [issued] = self.recorder.of(CodeIssued)
        self.assertEqual((issued.code, issued.lifetime), (code, CODE_TTL))
        self.assertEqual(issued.challenge, self.auth.inspect.code_record(code).challenge)


class TestInspection(ServerCase):
    """The teaching pages' window: frozen snapshots, never the server's live state."""

    def test_a_transaction_snapshot_cannot_change_the_server(self):
        txn = self.stored_request()
        seen = self.auth.inspect.transaction_for_state(txn.state)
        with self.assertRaises(dataclasses.FrozenInstanceError):
            seen.user = "mallory"
        self.auth.authorization.log_in(txn, "alice")
        self.assertIsNone(seen.user)                                  # the old snapshot
        self.assertEqual(self.auth.inspect.transaction_for_state(txn.state).user, "alice")

    def test_a_code_snapshot_does_not_follow_the_redemption(self):
        code = self.issued_code()
        before = self.auth.inspect.code_record(code)
        self.auth.token_endpoint.answer(
            {"grant_type": "authorization_code", "client_id": "demo-web-app", "code": code,
             "redirect_uri": REDIRECT_URI, "code_verifier": self.verifier}, None)
        self.assertFalse(before.used)
        self.assertTrue(self.auth.inspect.code_record(code).used)
        with self.assertRaises(dataclasses.FrozenInstanceError):
            before.used = False

    def test_the_pkce_record_is_frozen(self):
        code = self.issued_code()
        record = self.auth.inspect.code_record(code)
        with self.assertRaises(InvalidGrant):
            self.auth.token_endpoint.answer(
                {"grant_type": "authorization_code", "client_id": "demo-web-app",
                 "code": code, "redirect_uri": REDIRECT_URI,
                 "code_verifier": pkce.make_verifier()}, None)
        entry = self.auth.inspect.pkce_record(record.challenge)
        self.assertFalse(entry.match)
        with self.assertRaises(dataclasses.FrozenInstanceError):
            entry.match = True
        self.assertFalse(self.auth.inspect.pkce_record(record.challenge).match)

    def test_unknown_or_empty_lookups_are_none(self):
        inspect = self.auth.inspect
        self.assertEqual((inspect.transaction_for_state("nope"), inspect.code_record(""),
                          inspect.pkce_record(None)), (None, None, None))


class TestConsent(ServerCase):
    """OIDC Core §3.1.2.4: consent answers one request, once, after a login."""

    def test_consent_before_login_is_invalid_request(self):
        with self.assertRaises(InvalidRequest) as ctx:
            self.auth.authorization.finish(self.stored_request(), allow=True)
        self.assertEqual(ctx.exception.error, "invalid_request")

    def test_a_request_is_answered_once(self):
        txn = self.auth.authorization.log_in(self.stored_request(), "alice")
        self.assertIn("code=", self.auth.authorization.finish(txn, allow=True))
        with self.assertRaises(InvalidRequest):
            self.auth.authorization.finish(txn, allow=True)     # a racing second submit
        self.assertEqual(len(self.recorder.of(CodeIssued)), 1)

    def test_deny_sends_access_denied_with_state_and_iss(self):
        txn = self.auth.authorization.log_in(self.stored_request(), "alice")
        location = self.auth.authorization.finish(txn, allow=False)
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        self.assertEqual((params["error"], params["state"], params["iss"]),
                         ("access_denied", txn.state, self.auth.issuer))


class Socketless(AuthServerHandler):
    """The real handler fed from a buffer: no socket, no deadline timer, no thread."""

    def __init__(self, raw: bytes, auth: AuthorizationServer):   # not BaseRequestHandler's
        self.rfile, self.wfile = io.BytesIO(raw), io.BytesIO()
        self.client_address = ("127.0.0.1", 0)
        self.server = SimpleNamespace(server_address=("127.0.0.1", PORT), public_host="",
                                      app=auth)
        self.handle_one_request()


def post(auth, path: str, fields: dict, browser: str) -> tuple:
    """(status, body) of one form POST from the browser whose cookie is ``browser``."""
    body = urllib.parse.urlencode(fields).encode("ascii")
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost:{PORT}\r\n"
            f"Cookie: {BROWSER_COOKIE}={browser}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    raw = Socketless(head.encode("ascii") + body, auth).wfile.getvalue()
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode("utf-8")


def get(auth, path: str, browser: str) -> tuple:
    """(status, body) of one GET from the browser whose cookie is ``browser``."""
    head = (f"GET {path} HTTP/1.1\r\nHost: localhost:{PORT}\r\n"
            f"Cookie: {BROWSER_COOKIE}={browser}\r\n\r\n")
    raw = Socketless(head.encode("ascii"), auth).wfile.getvalue()
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode("utf-8")


class TestLoginFormToken(ServerCase):
    """The login and consent forms carry a token bound to the browser and the request."""

    def login_fields(self, txn) -> dict:
        return {"txn": txn.txn_id, "user": "alice",
                "form_token": self.auth.authorization.form_token(txn)}

    def test_form_token_from_another_browser_is_403_invalid_request(self):
        txn = self.stored_request(browser=BROWSER_A)
        status, page = post(self.auth, "/authorize/login", self.login_fields(txn), BROWSER_B)
        self.assertEqual(status, 403)
        self.assertEqual(re.search(r'data-error="([^"]*)"', page).group(1), "invalid_request")
        self.assertIsNone(self.auth.inspect.transaction_for_state(txn.state).user)

    def test_form_token_of_another_request_is_refused(self):
        mine, other = self.stored_request(), self.stored_request()
        fields = dict(self.login_fields(mine), form_token=self.auth.authorization.form_token(other))
        with self.assertRaises(InvalidRequest) as ctx:
            self.auth.authorization.find_transaction(fields, BROWSER_A)
        self.assertEqual((ctx.exception.error, ctx.exception.status_code),
                         ("invalid_request", 403))

    def test_the_right_browser_gets_the_consent_page_with_a_form_token(self):
        txn = self.stored_request(browser=BROWSER_A)
        status, _ = post(self.auth, "/authorize/login", self.login_fields(txn), BROWSER_A)
        self.assertEqual(status, 303)                       # post/redirect/get
        status, page = get(self.auth, "/authorize/consent?txn=" + txn.txn_id, BROWSER_A)
        self.assertEqual(status, 200)
        self.assertIn(f'name="form_token" value="{self.auth.authorization.form_token(txn)}"',
                      page)
        self.assertNotIn('name="csrf"', page)


if __name__ == "__main__":
    unittest.main()
