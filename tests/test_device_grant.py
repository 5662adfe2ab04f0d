"""The device authorization grant (RFC 8628) at the embedded server, end to end.

Real sockets, the real server, a scripted browser at /activate; the clock is injected, so
"polled too fast" and "expired" never need a sleep. Each RFC rule is a named test.
"""
from __future__ import annotations

import json
import re
import unittest
import urllib.parse

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.server.device import GRANT_TYPE, GuessLimit, normalise_user_code

from .demo_fixtures import Clock, start_test_demo

USER_CODE = re.compile(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")


class DeviceGrantCase(unittest.TestCase):
    """One running demo per class; helpers for the device's and the user's side."""

    @classmethod
    def setUpClass(cls):
        cls.clock = Clock()
        cls.running, cls.console = start_test_demo(clock=cls.clock)
        cls.base = cls.running.auth.issuer.rstrip("/")

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def post(self, path: str, data: dict) -> tuple:
        resp = ScriptedBrowser().request(self.base + path, data=data)
        return resp.status, json.loads(resp.text)

    def start(self, client_id: str = "demo-cli", scope: str = "openid profile") -> dict:
        status, body = self.post("/oauth/device/code", {"client_id": client_id, "scope": scope})
        self.assertEqual(status, 200, body)
        return body

    def poll(self, device: dict, client_id: str = "demo-cli") -> tuple:
        return self.post("/oauth/token", {"grant_type": GRANT_TYPE, "client_id": client_id,
                                          "device_code": device["device_code"]})

    def enter_code(self, typed: str, browser: ScriptedBrowser | None = None):
        """The user types a code into the /activate form (its form token included)."""
        browser = browser or ScriptedBrowser()
        return browser.submit(browser.get(self.base + "/activate"), extra={"user_code": typed})

    def consent_page(self, browser: ScriptedBrowser, typed: str, user: str = "alice"):
        """The user's side up to the consent page: enter the code, log in as ``user``."""
        form = browser.get(self.base + "/activate")
        login = browser.submit(form, extra={"user_code": typed})
        self.assertEqual(login.status, 200, login.text[:300])
        index = next(i for i, f in enumerate(login.forms()) if f["fields"].get("user") == user)
        moved = browser.submit(login, index)
        self.assertEqual(moved.status, 303)
        return browser.get(urllib.parse.urljoin(moved.url, moved.location))

    def answer(self, device: dict, allow: bool = True):
        browser = ScriptedBrowser()
        consent = self.consent_page(browser, device["user_code"])
        decision = ("decision", "allow" if allow else "deny")
        return browser.submit(consent, 0 if allow else 1, button=decision)


class TestDeviceGrant(DeviceGrantCase):
    def test_rfc8628_discovery_names_the_endpoint_and_grant_types(self):
        meta = self.running.auth.metadata()
        self.assertEqual(meta["device_authorization_endpoint"], self.base + "/oauth/device/code")
        self.assertIn(GRANT_TYPE, meta["grant_types_supported"])
        self.assertIn("client_credentials", meta["grant_types_supported"])

    def test_rfc8628_device_authorization_response(self):
        device = self.start()
        self.assertRegex(device["user_code"], USER_CODE)   # §6.1
        self.assertEqual(device["verification_uri"], self.base + "/activate")
        self.assertEqual(device["verification_uri_complete"],
                         self.base + "/activate?user_code=" + device["user_code"])
        self.assertEqual((device["expires_in"], device["interval"]), (600, 5))

    def test_rfc8628_only_the_cli_may_start_a_device_login(self):
        status, body = self.post("/oauth/device/code", {"client_id": "demo-web-app",
                                                        "scope": "openid"})
        self.assertEqual((status, body["error"]), (400, "unauthorized_client"))

    def test_rfc8628_authorization_pending(self):
        status, body = self.poll(self.start())
        self.assertEqual((status, body["error"]), (400, "authorization_pending"))

    def test_rfc8628_slow_down_and_the_interval_grows_by_5(self):
        device = self.start()
        self.assertEqual(self.poll(device)[1]["error"], "authorization_pending")
        self.assertEqual(self.poll(device)[1]["error"], "slow_down")     # at once: too fast
        self.clock.advance(6)          # enough for the old 5 s, not the new 10 s
        self.assertEqual(self.poll(device)[1]["error"], "slow_down")
        self.clock.advance(16)         # now 15 s: more than 5 + 5 + 5
        self.assertEqual(self.poll(device)[1]["error"], "authorization_pending")

    def test_rfc8628_access_denied(self):
        device = self.start()
        done = self.answer(device, allow=False)
        self.assertEqual(done.status, 303)
        self.assertTrue(done.location.endswith("/activate/done?decision=deny"), done.location)
        status, body = self.poll(device)
        self.assertEqual((status, body["error"]), (400, "access_denied"))

    def test_rfc8628_expired_token(self):
        device = self.start()
        self.clock.advance(601)
        status, body = self.poll(device)
        self.assertEqual((status, body["error"]), (400, "expired_token"))
        form = self.enter_code(device["user_code"])
        self.assertEqual(form.status, 400)   # an expired code can no longer be entered

    def test_rfc8628_device_code_works_once(self):
        device = self.start(scope="openid profile offline_access")
        self.answer(device)
        status, tokens = self.poll(device)
        self.assertEqual(status, 200, tokens)
        for name in ("access_token", "id_token", "refresh_token", "expires_in", "scope"):
            self.assertIn(name, tokens)
        self.assertEqual(tokens["token_type"], "Bearer")
        self.clock.advance(6)
        status, body = self.poll(device)
        self.assertEqual(body["error"], "invalid_grant")

    def test_rfc8628_no_refresh_token_without_offline_access(self):
        device = self.start(scope="openid")
        self.answer(device)
        status, tokens = self.poll(device)
        self.assertEqual(status, 200)
        self.assertNotIn("refresh_token", tokens)

    def test_rfc8628_only_its_own_client(self):
        device = self.start()
        self.answer(device)
        status, body = self.poll(device, client_id="demo-web-app")
        self.assertEqual(body["error"], "invalid_grant")
        self.assertEqual(self.poll(device)[0], 200)    # the real device still gets its tokens

    def test_rfc8628_unknown_device_code(self):
        status, body = self.poll({"device_code": "not-a-device-code"})
        self.assertEqual(body["error"], "invalid_grant")

    def test_rfc8628_wrong_user_code_reshows_the_form(self):
        resp = self.enter_code("BCDF-GHJK")
        self.assertEqual(resp.status, 400)
        self.assertIn('data-error="invalid_request"', resp.text)
        self.assertEqual(resp.forms()[0]["action"], "/activate")

    def test_rfc8628_user_code_case_insensitive_dash_optional(self):
        self.assertEqual(normalise_user_code("bcdf-ghjk"), "BCDFGHJK")
        self.assertEqual(normalise_user_code(" bcdfghjk "), "BCDFGHJK")
        self.assertIsNone(normalise_user_code("AEIO-UBCD"))     # vowels are never issued
        device = self.start()
        typed = device["user_code"].replace("-", "").lower()
        consent = self.consent_page(ScriptedBrowser(), typed)
        self.assertEqual(consent.status, 200)

    def test_rfc8628_prefilled_from_verification_uri_complete(self):
        device = self.start()
        page = ScriptedBrowser().get(device["verification_uri_complete"])
        self.assertEqual(page.forms()[0]["fields"]["user_code"], device["user_code"])

    def test_rfc8628_consent_names_the_client_and_warns_of_phishing(self):
        device = self.start()
        consent = self.consent_page(ScriptedBrowser(), device["user_code"])
        self.assertIn('data-client-id="demo-cli"', consent.text)
        self.assertIn(f'data-user-code="{device["user_code"]}"', consent.text)   # §3.3.1
        self.assertIn("only approve if you started this on your own device", consent.text.lower())
        self.assertIn("<code>profile</code>", consent.text)

    def test_rfc8628_consent_needs_its_form_token(self):
        browser = ScriptedBrowser()
        consent = self.consent_page(browser, self.start()["user_code"])
        forged = browser.submit(consent, 0, button=("decision", "allow"),
                                extra={"form_token": "0" * 64})
        self.assertEqual(forged.status, 403)

    def test_rfc8628_device_login_not_answered_by_the_code_flow_consent(self):
        device = self.start()
        browser = ScriptedBrowser()
        consent = self.consent_page(browser, device["user_code"])
        fields = dict(consent.forms()[0]["fields"], decision="allow")
        wrong = browser.request(self.base + "/authorize/consent", data=fields)
        self.assertEqual(wrong.status, 400)
        self.assertEqual(self.poll(device)[1]["error"], "authorization_pending")

    def test_rfc8628_a_code_is_answered_once(self):
        device = self.start()
        browser = ScriptedBrowser()
        consent = self.consent_page(browser, device["user_code"])
        self.assertEqual(browser.submit(consent, 0, button=("decision", "allow")).status, 303)
        again = browser.submit(consent, 1, button=("decision", "deny"))
        self.assertEqual(again.status, 400)
        self.assertEqual(self.poll(device)[0], 200)

    def test_rfc8628_narration_one_line_per_answer_change(self):
        device = self.start()
        for _ in range(3):
            self.clock.advance(6)
            self.poll(device)
        code = device["user_code"]
        console = self.console.getvalue()
        self.assertEqual(console.count(f"poll for {code} → authorization_pending"), 1)
        self.assertIn(f"user code = {code}", console)


class TestUserCodeGuessing(DeviceGrantCase):
    """§5.1: a user code is short; wrong guesses are limited (its own demo: the limits
    count per browser, per address and over all; every test here comes from 127.0.0.1).
    The review's finding 4 has its own tests in test_review_device.py."""

    def test_rfc8628_guessing_user_codes_is_rate_limited(self):
        device, browser = self.start(), ScriptedBrowser()
        for _ in range(5):
            self.assertEqual(self.enter_code("BCDF-BCDF", browser).status, 400)
        blocked = self.enter_code(device["user_code"], browser)
        self.assertEqual(blocked.status, 429)     # this browser's own guesses: it waits
        self.assertIn('data-error="too_many_codes"', blocked.text)
        self.assertTrue(blocked.headers.get("Retry-After"))
        self.assertEqual(self.enter_code(device["user_code"]).status, 200)   # others do not

    def test_rfc8628_guess_limit_overall_and_window(self):
        clock = Clock()
        limit = GuessLimit(clock, per_browser=3, per_address=3, overall=4, window=60)
        for browser in ("a", "b", "c", "d"):
            limit.reserve(browser, browser)
        with self.assertRaises(Exception) as caught:   # a fifth guesser: the global cap
            limit.reserve("e", "e")
        self.assertEqual(caught.exception.status_code, 429)
        clock.advance(61)
        limit.reserve("e", "e")                         # the window has passed


if __name__ == "__main__":
    unittest.main()
