"""The walkthrough client end to end: every route, every state check, ID token checks
against a misbehaving provider, the protected API, isolation and bounded memory.

One demo serves the whole module (its clock only moves forward, and each test uses its
own browsers), so a test never counts what another left behind: it looks at its own
browser's session. Refusals are asserted by their RFC code (the error page's data-error,
or the API's JSON), never by page prose."""
from __future__ import annotations

import html
import json
import threading
import unittest
import urllib.parse

from oauthdemo import settings
from oauthdemo.core.steps import THE_TEN
from oauthdemo.core.text import abbreviate
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import (Clock, demo_settings, latest_session, log_in, query_of,
                            start_test_demo)
from .fake_provider import CLIENT_ID, FakeProvider
from .support import error_code

SESSION_COOKIE = "demo_session"


def setUpModule():
    global RUNNING, CONSOLE, CLOCK
    CLOCK = Clock()
    RUNNING, CONSOLE = start_test_demo(clock=CLOCK)


def tearDownModule():
    RUNNING.stop()


class AppCase(unittest.TestCase):
    """The module's demo, under the names the tests use."""

    def setUp(self):
        self.running, self.console, self.clock = RUNNING, CONSOLE, CLOCK
        self.app_url = RUNNING.app_url

    def start_login(self, browser: ScriptedBrowser) -> str:
        """GET /login; returns the callback URL the authorization server sends back."""
        resp = browser.get(self.app_url + "/login")
        self.assertEqual(resp.status, 302)
        return browser.login_at_provider(resp.location)

    def assert_refused(self, resp, status: int, code: str):
        """Refused with this status and RFC code, and no session was handed out."""
        self.assertEqual((resp.status, error_code(resp)), (status, code), resp.text[:300])
        cookies = resp.headers.get_all("Set-Cookie") or []
        self.assertFalse([c for c in cookies if c.startswith(SESSION_COOKIE + "=")], cookies)

    def logged_in(self, browser: ScriptedBrowser) -> bool:
        return browser.get(self.app_url + "/api/protected").status == 200


class TestFullFlow(AppCase):
    def test_full_flow_through_every_route(self):
        browser = ScriptedBrowser()
        home = browser.get(self.app_url + "/")
        self.assertIn("Start OAuth Login (PKCE)", home.text)
        start = browser.get(self.app_url + "/login")
        params = query_of(start.location)
        self.assertEqual(params["code_challenge_method"], "S256")
        self.assertGreaterEqual(len(params["state"]), 43)      # ≥ 256 bits, base64url
        for name in ("code_challenge", "nonce", "redirect_uri", "scope", "client_id"):
            self.assertTrue(params.get(name), name)
        callback = browser.login_at_provider(start.location)
        done = browser.get(callback)
        self.assertEqual((done.status, done.location), (303, self.app_url + "/"))
        self.assertIn("HttpOnly", done.headers["Set-Cookie"])
        self.assertIn("SameSite=Lax", done.headers["Set-Cookie"])
        profile = browser.get(self.app_url + "/")
        self.assertIn("Alice Example", profile.text)
        self.assertEqual(profile.headers["Cache-Control"], "no-store")
        api = json.loads(browser.get(self.app_url + "/api/protected").text)
        self.assertEqual(api["user"]["email"], "alice@example.com")
        self.assertIn("openid", api["scope"])
        self.assertIsInstance(api["expires_at"], int)
        self.assertEqual(browser.request(self.app_url + "/logout", data={}).status, 403)
        out = browser.submit(browser.get(self.app_url + "/"))   # the profile's Log out form
        self.assertEqual(out.status, 303)
        self.assertIn("/v2/logout", out.location)
        self.assertEqual(browser.get(self.app_url + "/api/protected").status, 401)
        cookie = {c.name: c.value for c in browser.jar}["demo_browser"]
        self.assertIsNone(self.running.app.flows.latest(cookie))   # no tokens kept after logout

    def test_no_token_in_any_url(self):
        browser = ScriptedBrowser()
        callback = self.start_login(browser)
        done = browser.get(callback)
        self.assertNotIn("token", done.location)

    def test_console_narrates_the_real_verifier_and_challenge(self):
        browser = ScriptedBrowser()
        start = browser.get(self.app_url + "/login")
        state = query_of(start.location)["state"]
        pending = self.running.app.pending.peek(state)
        console = self.console.getvalue()
        self.assertIn(pending.verifier, console)
        self.assertIn(query_of(start.location)["code_challenge"], console)
        browser.get(browser.login_at_provider(start.location))
        console = self.console.getvalue()
        for step in THE_TEN[:9]:                 # Step 10 is the API call, not made here
            self.assertIn(f"── {step.label} · {step.title}", console)
        self.assertIn("they match (hmac.compare_digest)", console)

    def test_tokens_abbreviated_on_console(self):
        browser = log_in(self.running)
        session = latest_session(self.running)
        console = self.console.getvalue()
        self.assertNotIn(session.tokens["access_token"], console)
        self.assertIn(abbreviate(session.tokens["access_token"]), console)
        self.assertIsNotNone(browser)


class TestStateChecks(AppCase):
    def test_state_missing(self):
        browser = ScriptedBrowser()
        callback = self.start_login(browser)
        params = query_of(callback)
        del params["state"]
        resp = browser.get(self.app_url + "/callback?" + urllib.parse.urlencode(params))
        self.assert_refused(resp, 400, "invalid_state")

    def test_state_unknown_forged_callback_csrf(self):
        browser = ScriptedBrowser()
        resp = browser.get(self.app_url + "/callback?code=stolen&state=never-issued")
        self.assert_refused(resp, 400, "invalid_state")

    def test_state_reused_replayed_callback(self):
        browser = ScriptedBrowser()
        callback = self.start_login(browser)
        self.assertEqual(browser.get(callback).status, 303)
        self.assert_refused(browser.get(callback), 400, "invalid_state")

    def test_state_from_another_browser(self):
        victim, attacker = ScriptedBrowser(), ScriptedBrowser()
        callback = self.start_login(attacker)          # attacker starts a login …
        self.assert_refused(victim.get(callback), 400, "invalid_state")   # … victim finishes it
        self.assertFalse(self.logged_in(victim))
        self.assertFalse(self.logged_in(attacker))

    def test_state_expired(self):
        browser = ScriptedBrowser()
        callback = self.start_login(browser)
        self.clock.advance(601)
        self.assert_refused(browser.get(callback), 400, "invalid_state")

    def test_access_denied_is_shown_with_a_hint(self):
        browser = ScriptedBrowser()
        start = browser.get(self.app_url + "/login")
        callback = browser.login_at_provider(start.location, allow=False)
        resp = browser.get(callback)
        self.assert_refused(resp, 400, "access_denied")
        self.assertIn("pressed Deny", resp.text)      # the hint is what this test is about

    def test_wrong_iss_refused(self):
        browser = ScriptedBrowser()
        params = query_of(self.start_login(browser))
        params["iss"] = "https://evil.example/"
        resp = browser.get(self.app_url + "/callback?" + urllib.parse.urlencode(params))
        self.assert_refused(resp, 400, "invalid_issuer")

    def test_code_replay_with_a_fresh_state_is_refused_by_the_server(self):
        browser = ScriptedBrowser()
        callback = self.start_login(browser)
        self.assertEqual(browser.get(callback).status, 303)
        code = query_of(callback)["code"]
        start = browser.get(self.app_url + "/login")     # a new login, a new state …
        fresh = query_of(start.location)["state"]
        replay = self.app_url + "/callback?" + urllib.parse.urlencode(
            {"code": code, "state": fresh, "iss": self.running.auth.issuer})
        self.assert_refused(browser.get(replay), 403, "invalid_grant")   # … but the old code


class TestEscaping(AppCase):
    PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'

    def test_error_description_escaped(self):
        browser = ScriptedBrowser()
        url = self.app_url + "/callback?" + urllib.parse.urlencode(
            {"error": "access_denied", "error_description": self.PAYLOAD})
        resp = browser.get(url)
        self.assertNotIn(self.PAYLOAD, resp.text)
        self.assertIn(html.escape(self.PAYLOAD, quote=True), resp.text)

    def test_error_code_and_state_escaped(self):
        browser = ScriptedBrowser()
        for params in ({"error": self.PAYLOAD}, {"code": "x", "state": self.PAYLOAD}):
            resp = browser.get(self.app_url + "/callback?" + urllib.parse.urlencode(params))
            self.assertNotIn("<script>", resp.text)
            self.assertIn("script-src 'self'", resp.headers["Content-Security-Policy"])


class TestHardening(AppCase):
    """Input from the network never reaches a header, the console or a decision unchecked."""

    INJECTED = '"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\015\\012X-Injected: yes"'

    def test_cookie_cannot_inject_a_response_header(self):
        cookie = {"Cookie": f"demo_browser={self.INJECTED}; as_browser={self.INJECTED}"}
        authorize_url = ScriptedBrowser().get(self.app_url + "/login").location
        for url in (self.app_url + "/login", self.app_url + "/attacks", authorize_url):
            resp = ScriptedBrowser().get(url, headers=cookie)
            self.assertIsNone(resp.headers.get("X-Injected"), url)
            set_cookies = resp.headers.get_all("Set-Cookie") or []
            self.assertTrue(set_cookies, url)          # a fresh browser id was issued instead
            for value in set_cookies:
                self.assertRegex(value, r"^[a-z_]+=[A-Za-z0-9_-]{32}; ")

    def test_console_gets_no_control_characters(self):
        url = self.app_url + "/callback?error=%1b]0;pwned%07%1b[2Jx&state=%1b[2J"
        self.assertEqual(ScriptedBrowser().get(url).status, 400)
        console = self.console.getvalue()
        self.assertIn("pwned", console)
        self.assertNotIn("\x1b", console)
        self.assertNotIn("\x07", console)

    def test_callback_without_iss_refused_when_the_provider_sends_it(self):
        browser = ScriptedBrowser()
        params = query_of(self.start_login(browser))
        del params["iss"]                       # RFC 9207 §2.4: the mix-up defence
        resp = browser.get(self.app_url + "/callback?" + urllib.parse.urlencode(params))
        self.assert_refused(resp, 400, "invalid_issuer")

    def test_logout_with_origin_null_needs_the_form_token(self):
        browser = log_in(self.running)
        null = {"Origin": "null"}   # what browsers send under Referrer-Policy: no-referrer
        resp = browser.request(self.app_url + "/logout", data={"form_token": "forged"},
                               headers=null)
        self.assertEqual((resp.status, error_code(resp)), (403, "invalid_request"))
        self.assertTrue(self.logged_in(browser))
        form = browser.get(self.app_url + "/").forms()[0]
        resp = browser.request(self.app_url + "/logout", data=form["fields"], headers=null)
        self.assertEqual(resp.status, 303)
        self.assertFalse(self.logged_in(browser))

    def test_logout_from_another_origin_refused(self):
        browser = log_in(self.running)
        resp = browser.request(self.app_url + "/logout", data={},
                               headers={"Origin": "http://localhost:9999"})
        self.assertEqual((resp.status, error_code(resp)), (403, "invalid_request"))
        self.assertTrue(self.logged_in(browser))      # still logged in


class TestProtectedApi(AppCase):
    def get(self, headers=None):
        resp = ScriptedBrowser().get(self.app_url + "/api/protected", headers=headers)
        return resp.status, json.loads(resp.text), resp.headers

    def test_rfc6750_no_credentials_gets_a_bare_bearer_challenge(self):
        # RFC 6750 §3.1: a request without any authentication gets the scheme and a realm,
        # and no error code (nothing was wrong with a token it never sent).
        status, body, headers = self.get()
        self.assertEqual(status, 401)
        self.assertRegex(headers["WWW-Authenticate"], r'^Bearer realm="[^"]+"$')
        self.assertNotIn("error", body)   # nor does the body: a message, no error code

    def test_bad_token(self):
        status, body, headers = self.get({"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})
        self.assertEqual((status, body["error"]), (401, "invalid_token"))
        self.assertIn('error="invalid_token"', headers["WWW-Authenticate"])

    def test_valid_bearer_token(self):
        log_in(self.running, user="bob")
        token = latest_session(self.running).tokens["access_token"]
        status, body, _ = self.get({"Authorization": f"Bearer {token}"})
        self.assertEqual(status, 200)
        self.assertEqual(body["user"]["email"], "bob@example.org")
        self.assertEqual(body["validated_by"], "jwt")

    def test_expired_token(self):
        log_in(self.running)
        token = latest_session(self.running).tokens["access_token"]
        self.clock.advance(86400 + 61)
        status, body, _ = self.get({"Authorization": f"Bearer {token}"})
        self.assertEqual((status, body["error"]), (401, "invalid_token"))


class TestIsolationAndBounds(AppCase):
    def test_two_concurrent_flows_do_not_cross(self):
        results = {}

        def run(user):
            browser = log_in(self.running, user=user)
            results[user] = json.loads(browser.get(self.app_url + "/api/protected").text)

        threads = [threading.Thread(target=run, args=(u,)) for u in ("alice", "bob")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(results["alice"]["user"]["email"], "alice@example.com")
        self.assertEqual(results["bob"]["user"]["email"], "bob@example.org")

    def test_two_tabs_in_one_browser_both_work(self):
        browser = ScriptedBrowser()
        first = browser.get(self.app_url + "/login")
        second = browser.get(self.app_url + "/login")
        self.assertEqual(browser.get(browser.login_at_provider(second.location)).status, 303)
        self.assertEqual(browser.get(browser.login_at_provider(first.location)).status, 303)


class TestIdTokenValidation(unittest.TestCase):
    """A fake provider serves spoiled ID tokens; the app must refuse every one."""

    @classmethod
    def setUpClass(cls):
        cls.provider = FakeProvider()
        cfg = demo_settings(provider=settings.Provider("oidc", cls.provider.issuer, CLIENT_ID))
        cls.running, cls.console = start_test_demo(cfg)

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()
        cls.provider.stop()

    def login_with(self, mode: str):
        self.provider.mode = mode
        browser = ScriptedBrowser()
        start = browser.get(self.running.app_url + "/login")
        callback = browser.get(start.location).location      # the fake sends us straight back
        return browser.get(callback)

    def assert_refused(self, mode: str, code: str = "invalid_token"):
        before = len(self.running.app.sessions)
        resp = self.login_with(mode)
        self.assertEqual((resp.status, error_code(resp)), (401, code), resp.text[:300])
        self.assertEqual(len(self.running.app.sessions), before)   # no session created

    def test_good_token_accepted(self):
        self.assertEqual(self.login_with("good").status, 303)

    def test_bad_signature(self):
        self.assert_refused("bad_signature")

    def test_wrong_iss(self):
        self.assert_refused("wrong_iss")

    def test_wrong_aud(self):
        self.assert_refused("wrong_aud")

    def test_expired(self):
        self.assert_refused("expired")

    def test_nonce_mismatch(self):
        self.assert_refused("nonce_mismatch")

    def test_alg_none(self):
        self.assert_refused("alg_none")

    def test_hs256_key_confusion(self):
        self.assert_refused("hs256_confusion")

    def test_unknown_kid_triggers_one_jwks_refetch(self):
        self.running.client.jwks.fetched_at = -1e9   # the refetch interval has passed
        before = self.provider.jwks_fetches
        self.assertEqual(self.login_with("rotated").status, 303)
        self.assertEqual(self.provider.jwks_fetches, before + 1)

    def test_opaque_access_token_checked_at_userinfo(self):
        browser = ScriptedBrowser()
        self.provider.mode = "good"
        start = browser.get(self.running.app_url + "/login")
        browser.get(browser.get(start.location).location)
        body = json.loads(browser.get(self.running.app_url + "/api/protected").text)
        self.assertEqual((body["validated_by"], body["user"]["sub"]), ("userinfo", "fake-user"))


if __name__ == "__main__":
    unittest.main()
