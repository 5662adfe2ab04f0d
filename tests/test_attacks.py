"""The attack lab: every attack runs for real and is refused with its RFC error code.

RFC 7636 §4.4.1, §4.5, §4.6; RFC 6749 §4.1.2, §4.1.3, §10.12; OpenID Connect Core
§3.1.3.7; RFC 8725 §3.1. The embedded server is the provider (real sockets, port 0);
one test class also runs the lab against that server configured as an *external*
OpenID provider, which is how the "intercept the next login's code" path is exercised.
"""
from __future__ import annotations

import re
import unittest

from oauthdemo.teaching import attacks
from oauthdemo.settings import Provider
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import demo_settings, latest_session, log_in, query_of, start_test_demo

CSRF_FIELD = re.compile(r'name="form_token" value="([^"]+)"')


def lab_token(running, browser: ScriptedBrowser) -> str:
    page = browser.get(running.app_url + "/attacks")
    assert page.status == 200, page.status
    return CSRF_FIELD.search(page.text).group(1)


def browser_id(browser: ScriptedBrowser) -> str:
    return next(c.value for c in browser.jar if c.name == "demo_browser")


def press(running, browser: ScriptedBrowser, attack: str, token: str, origin: str | None = None):
    headers = {"Origin": origin or running.app_url}
    return browser.request(running.app_url + "/attacks/run",
                           data={"attack": attack, "form_token": token}, headers=headers)


def result_region(html: str, letter: str) -> str:
    start = html.index(f'id="result-{letter}"')
    return html[start:html.index("</article>", start)]


class EmbeddedAttackTest(unittest.TestCase):
    """Each attack against the embedded server, called as the lab calls it."""

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()
        cls.lab = cls.running.app.lab

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def assert_refused(self, result: dict, error: str, status: int):
        self.assertTrue(result["ran"], result)
        self.assertTrue(result["rejected"], result)
        self.assertEqual(result["error"], error)
        self.assertEqual(result["response"]["status"], status)
        self.assertTrue(result["stopped_by"] and result["rule"] and result["tried"])

    def test_attack_stolen_code_without_verifier(self):
        result = attacks.attack_stolen_code_without_verifier(self.lab, browser="victim")
        self.assert_refused(result, "invalid_request", 400)
        self.assertIn("(no code_verifier)", result["sent"])

    def test_attack_stolen_code_wrong_verifier(self):
        result = attacks.attack_stolen_code_wrong_verifier(self.lab, browser="victim")
        self.assert_refused(result, "invalid_grant", 403)
        log = self.running.auth.inspect.pkce_records()
        self.assertTrue(any(not entry.match for entry in log))

    def test_attack_code_replay_revokes_the_first_tokens(self):
        result = attacks.attack_code_replay(self.lab, browser="victim")
        self.assert_refused(result, "invalid_grant", 403)
        userinfo, refresh, api = result["extra"]
        self.assertEqual(userinfo["status"], 401)            # the first access token is dead
        self.assertEqual(userinfo["body"]["error"], "invalid_token")
        self.assertTrue(userinfo["revoked"])
        self.assertEqual(refresh["body"]["error"], "invalid_grant")
        self.assertTrue(refresh["revoked"])
        # The card tells the truth: locally the token still looks fine; the server says no.
        self.assertEqual((api["status"], api["body"]["error"]), (401, "invalid_token"))
        self.assertTrue(api["body"]["checks"]["local_jwt"].startswith("valid"))
        self.assertTrue(api["body"]["checks"]["authorization_server"].startswith("NOT"))

    def test_attack_forged_callback_state(self):
        pending_before = len(self.running.app.pending)
        result = attacks.attack_forged_callback(self.lab, browser="victim-browser-id-1234567")
        self.assert_refused(result, "invalid_state", 400)
        self.assertEqual(result["response"]["raised"], "InvalidState")
        # Review 2, finding 6: a callback from another browser does not use up a pending
        # login (here the attacker's own); its state stays bound to the attacker's browser.
        self.assertEqual(len(self.running.app.pending), pending_before + 1)

    def test_attack_redirect_uri_swap(self):
        result = attacks.attack_redirect_uri_swap(self.lab, browser="victim")
        self.assert_refused(result, "invalid_grant", 403)
        self.assertIn(f"redirect_uri={attacks.ATTACKER_REDIRECT}", result["sent"])

    def test_attack_pkce_downgrade(self):
        result = attacks.attack_pkce_downgrade(self.lab, browser="victim")
        self.assert_refused(result, "invalid_request", 303)   # sent back on the redirect
        self.assertIn("code_challenge", result["response"]["body"]["error_description"])

    def test_attack_tampered_id_token_bad_signature(self):
        result = attacks.attack_tampered_id_token(self.lab, browser="victim")
        self.assert_refused(result, "invalid_token", 401)
        self.assertEqual(result["response"]["raised"], "BadSignature")

    def test_attack_alg_none(self):
        result = attacks.attack_alg_none(self.lab, browser="victim")
        self.assert_refused(result, "invalid_token", 401)
        self.assertEqual(result["response"]["raised"], "AlgorithmNotAllowed")

    def test_id_token_attacks_use_this_browsers_own_token(self):
        browser = log_in(self.running)
        session = latest_session(self.running)
        result = attacks.attack_tampered_id_token(self.lab, browser=browser_id(browser),
                                                  tokens=session.tokens)
        self.assertIn("your own ID token", result["tried"])
        self.assertEqual(result["response"]["raised"], "BadSignature")

    def test_attacks_are_narrated_as_the_attacker(self):
        self.lab.run("b", "narration-browser-0123456789")
        text = self.console.getvalue()
        self.assertIn(f"Attack (b) · {attacks.ATTACKS['b'].title}", text)
        self.assertRegex(text, r"attacker │ .*refused: invalid_grant")


class AttackLabHTTPTest(unittest.TestCase):
    """The lab page and its POST: same origin, a per-browser token, results per browser."""

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_run_from_the_page_shows_the_rejection(self):
        browser = ScriptedBrowser()
        token = lab_token(self.running, browser)
        resp = press(self.running, browser, "a", token)
        self.assertEqual(resp.status, 303)
        self.assertTrue(resp.location.endswith("/attacks#attack-a"))
        region = result_region(browser.get(resp.location).text, "a")
        self.assertIn("verdict rejected", region)
        self.assertIn("invalid_request", region)
        self.assertIn("RFC 7636 §4.5", region)

    def test_run_all_refuses_every_attack(self):
        browser = log_in(self.running)
        resp = press(self.running, browser, "all", lab_token(self.running, browser))
        self.assertEqual(resp.status, 303)
        page = browser.get(self.running.app_url + "/attacks").text
        for letter in attacks.ATTACKS:
            self.assertIn("verdict rejected", result_region(page, letter), letter)
        n = len(attacks.ATTACKS)
        self.assertIn(f"{n} of {n} run · {n} stopped", page)

    def test_results_belong_to_one_browser(self):
        alice = ScriptedBrowser()
        press(self.running, alice, "h", lab_token(self.running, alice))
        other = ScriptedBrowser()
        self.assertNotIn("verdict rejected", result_region(
            other.get(self.running.app_url + "/attacks").text, "h"))

    def test_post_without_the_token_is_refused(self):
        browser = ScriptedBrowser()
        lab_token(self.running, browser)
        resp = press(self.running, browser, "a", "not-the-token")
        self.assertEqual(resp.status, 403)
        self.assertIn("invalid_request", resp.text)

    def test_post_from_another_origin_is_refused(self):
        browser = ScriptedBrowser()
        token = lab_token(self.running, browser)
        resp = press(self.running, browser, "a", token, origin="http://evil.example")
        self.assertEqual(resp.status, 403)

    def test_token_of_another_browser_is_refused(self):
        first, second = ScriptedBrowser(), ScriptedBrowser()
        token = lab_token(self.running, first)
        lab_token(self.running, second)
        self.assertEqual(press(self.running, second, "a", token).status, 403)

    def test_unknown_attack_is_a_clear_400(self):
        browser = ScriptedBrowser()
        resp = press(self.running, browser, "z", lab_token(self.running, browser))
        self.assertEqual(resp.status, 400)
        self.assertIn("Unknown attack", resp.text)

    def test_get_on_run_is_not_allowed(self):
        self.assertEqual(ScriptedBrowser().get(self.running.app_url + "/attacks/run").status, 405)


class InterceptedCodeTest(unittest.TestCase):
    """Against a provider the lab cannot script: the embedded server, configured as an
    external OpenID provider (its native client accepts any loopback port)."""

    @classmethod
    def setUpClass(cls):
        cls.provider_demo, _ = start_test_demo()
        issuer = cls.provider_demo.auth.issuer
        cfg = demo_settings(provider=Provider("oidc", issuer, "demo-cli"))
        cls.running, cls.console = start_test_demo(cfg)
        cls.lab = cls.running.app.lab

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()
        cls.provider_demo.stop()

    def intercepted_login(self) -> ScriptedBrowser:
        browser = ScriptedBrowser()
        start = browser.get(self.running.app_url + "/login?intercept=" + attacks.INTERCEPT_FLAG)
        callback = browser.login_at_provider(start.location)
        done = browser.get(callback)
        self.assertEqual(done.status, 303)
        self.assertTrue(done.location.endswith("/attacks#codes"))
        self.assertFalse(any(c.name == "demo_session" for c in browser.jar))   # not logged in
        return browser

    def test_code_attacks_need_an_intercepted_code(self):
        self.assertFalse(self.lab.embedded)
        result = attacks.attack_stolen_code_without_verifier(self.lab, browser="nobody")
        self.assertFalse(result["ran"])
        self.assertEqual(result["action"], "intercept")

    def test_intercepted_code_is_kept_unredeemed_then_attacked(self):
        browser = self.intercepted_login()
        owner = browser_id(browser)
        self.assertEqual(self.lab.codes_waiting(owner), 1)
        auth = self.provider_demo.auth
        self.assertFalse(any(rec.used for rec in auth.inspect.code_records()))
        result = attacks.attack_stolen_code_wrong_verifier(self.lab, browser=owner)
        self.assertEqual((result["error"], result["rejected"]), ("invalid_grant", True))
        self.assertIn("intercepted from your own login", result["tried"])
        self.assertEqual(self.lab.codes_waiting(owner), 0)

    def test_intercept_still_checks_state(self):
        browser = ScriptedBrowser()
        start = browser.get(self.running.app_url + "/login?intercept=" + attacks.INTERCEPT_FLAG)
        callback = browser.login_at_provider(start.location)
        thief = ScriptedBrowser()          # another browser presents the callback
        resp = thief.get(callback)
        self.assertEqual(resp.status, 400)
        self.assertIn("invalid_state", resp.text)
        self.assertIn("state", query_of(callback))

    def test_forged_callback_against_an_external_provider(self):
        result = attacks.attack_forged_callback(self.lab, browser="victim-browser-id-1234567")
        self.assertEqual((result["error"], result["response"]["raised"]),
                         ("invalid_state", "InvalidState"))

    def test_id_token_attacks_without_a_session_ask_for_a_login(self):
        result = attacks.attack_alg_none(self.lab, browser="nobody")
        self.assertFalse(result["ran"])
        self.assertEqual(result["action"], "login")


class ProviderDownTest(unittest.TestCase):
    """A provider that stops answering: each card says so; nothing crashes."""

    def test_unreachable_provider_is_reported_on_the_card(self):
        running, _ = start_test_demo()
        try:
            running.auth_server.shutdown()
            running.auth_server.server_close()
            for letter in ("a", "f"):
                result = running.app.lab.run(letter, "browser-id-0123456789abcdef")
                self.assertFalse(result["ran"], letter)
                self.assertIn("could not run", result["stopped_by"])
            self.assertEqual(ScriptedBrowser().get(running.app_url + "/attacks").status, 200)
        finally:
            running.stop()


if __name__ == "__main__":
    unittest.main()
