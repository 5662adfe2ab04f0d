"""Issue 12 item 4: error forensics. Each rule has a named test; the ones the embedded
server can decide run against it for real (port 0, its real token endpoint and records),
the others on the values a client has. truth=None: what can be inferred from another provider."""
from __future__ import annotations

import atexit
import base64
import secrets
import unittest

import pkce

from oauthdemo.client.transport import http_json
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.teaching import forensics
from oauthdemo.teaching.mistakes import MistakesGallery

from .demo_fixtures import Clock, start_test_demo

CB = "http://localhost:8091/callback"
_SHARED: dict = {}


def shared_demo() -> tuple:
    """One demo for the three issue-12 forensics files (this one, test_mistakes,
    test_two_tabs): (running, console, clock). Each test makes its own logins."""
    if not _SHARED:
        clock = Clock()
        running, console = start_test_demo(clock=clock)
        atexit.register(running.stop)
        _SHARED.update(demo=(running, console, clock))
    return _SHARED["demo"]


class EmbeddedTruth(unittest.TestCase):
    """One demo for the class; each test makes its own login (a fresh code)."""

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console, cls.clock = shared_demo()
        cls.app, cls.auth = cls.running.app, cls.running.auth
        cls.gallery = MistakesGallery(cls.app)

    def redeem(self, change: dict | None = None, req=None, code=None):
        """A real token request at the embedded server; returns (req, sent, body, truth)."""
        if req is None:
            req, code = self.gallery.set_up_login()
        data, headers = self.app.client.token_request_body(code, req.redirect_uri, req.verifier)
        data.update(change or {})
        status, body = http_json(self.app.client.metadata["token_endpoint"], data=data,
                                 headers=headers)
        truth = self.auth.inspect.truth(code=data["code"], client_id=data["client_id"],
                                        verifier=data["code_verifier"])
        return req, {**data, "code_challenge": req.challenge}, body, truth

    def test_rule_pkce_mismatch_shows_both_values(self):
        req, sent, body, truth = self.redeem({"code_verifier": pkce.make_verifier()})
        self.assertEqual(body["error"], "invalid_grant")
        found = forensics.diagnose(sent, body, truth)
        self.assertEqual(found.rule, "pkce.mismatch")
        self.assertTrue(found.certain)
        self.assertIn(pkce.make_challenge(sent["code_verifier"]), found.lines[0])
        self.assertIn(req.challenge, found.lines[1])

    def test_rule_challenge_as_verifier(self):
        req, code = self.gallery.set_up_login()
        _, sent, body, truth = self.redeem({"code_verifier": req.challenge}, req, code)
        self.assertEqual(forensics.diagnose(sent, body, truth).rule, "pkce.challenge_as_verifier")

    def test_rule_verifier_from_another_login(self):
        other, _ = self.gallery.set_up_login()
        _, sent, body, truth = self.redeem({"code_verifier": other.verifier})
        self.assertEqual(forensics.diagnose(sent, body, truth).rule, "pkce.other_login")

    def test_rule_redirect_uri_host_from_the_servers_record(self):
        req, code = self.gallery.set_up_login()
        swapped = req.redirect_uri.replace("localhost", "127.0.0.1")
        _, sent, body, truth = self.redeem({"redirect_uri": swapped}, req, code)
        found = forensics.diagnose(sent, body, truth)
        self.assertEqual((body["error"], found.rule), ("invalid_grant", "redirect_uri.host"))
        self.assertTrue(found.certain)

    def test_finding6_cli_loopback_on_another_port_is_not_a_redirect_mistake(self):
        """RFC 8252 §7.3: the CLI's loopback redirect may take any port; the server's own
        check (Client.accepts_redirect) passes it, so no redirect_uri rule may fire."""
        first, now = "http://127.0.0.1:8400/callback", "http://127.0.0.1:54321/callback"
        truth = self.auth.inspect.truth(client_id="demo-cli", redirect_uri=now)
        self.assertTrue(truth.redirect_uri_accepted)
        sent = {"redirect_uri": now, "registered_redirect_uri": first}
        self.assertEqual(forensics.diagnose(sent, {"error": "invalid_request"}, truth).rule,
                         "unexplained")
        wrong = "http://127.0.0.1:8400/cb"   # a path it was never registered for
        truth = self.auth.inspect.truth(client_id="demo-cli", redirect_uri=wrong)
        self.assertFalse(truth.redirect_uri_accepted)
        self.assertEqual(forensics.diagnose({**sent, "redirect_uri": wrong},
                                            {"error": "invalid_request"}, truth).rule,
                         "redirect_uri.path")

    def test_rule_code_redeemed_twice(self):
        req, code = self.gallery.set_up_login()
        _, _, first, _ = self.redeem({}, req, code)
        self.assertIn("access_token", first)
        _, sent, body, truth = self.redeem({}, req, code)
        self.assertEqual(forensics.diagnose(sent, body, truth).rule, "code.redeemed")

    def test_rule_code_expired(self):
        req, code = self.gallery.set_up_login()
        self.clock.advance(forensics.CODE_TTL + 1)
        _, sent, body, truth = self.redeem({}, req, code)
        self.assertEqual(body["error"], "invalid_grant")
        self.assertEqual(forensics.diagnose(sent, body, truth).rule, "code.expired")

    def test_rule_code_unknown(self):
        _, sent, body, truth = self.redeem({"code": secrets.token_urlsafe(32)})
        self.assertEqual(forensics.diagnose(sent, body, truth).rule, "code.unknown")

    def test_a_failed_pkce_check_leaves_the_code_unused(self):
        """Forensics read, never change: after a wrong verifier the right one still works."""
        req, code = self.gallery.set_up_login()
        self.redeem({"code_verifier": pkce.make_verifier()}, req, code)
        _, _, body, _ = self.redeem({}, req, code)
        self.assertIn("access_token", body)

    def test_rule_stale_tab_on_the_error_page_of_a_normal_login(self):
        browser = ScriptedBrowser()
        start = browser.get(self.running.app_url + "/login")
        callback = browser.login_at_provider(start.location)
        self.assertEqual(browser.get(callback).status, 303)
        again = browser.get(callback)    # the tab reloaded: the used callback, replayed
        self.assertEqual(again.status, 400)
        self.assertIn('data-error="invalid_state"', again.text)
        self.assertIn('data-rule="state.stale_tab"', again.text)


class ClientSideRules(unittest.TestCase):
    """Rules decided from the request (and, against another provider, inferred)."""

    verifier = pkce.make_verifier()

    def test_rule_hex_digest(self):
        hexed = pkce.s256_digest(self.verifier).hex()
        sent = {"code_challenge": hexed, "code_verifier": self.verifier}
        self.assertEqual(forensics.diagnose(sent, {"error": "invalid_request"}).rule,
                         "pkce.hex_digest")
        inferred = forensics.diagnose({"code_challenge": hexed}, {"error": "invalid_request"})
        self.assertEqual((inferred.rule, inferred.certain), ("pkce.hex_digest", False))

    def test_rule_standard_base64_padding_or_plus_slash(self):
        for _ in range(8):   # padding always; + or / in most digests
            v = pkce.make_verifier()
            std = base64.b64encode(pkce.s256_digest(v)).decode()
            for challenge in (std, std.rstrip("=")):
                if pkce.is_well_formed_challenge(challenge):
                    continue   # no + or / in this one: base64url and base64 agree
                found = forensics.diagnose({"code_challenge": challenge, "code_verifier": v},
                                           {"error": "invalid_request"})
                self.assertEqual(found.rule, "pkce.standard_base64")

    def test_rule_missing_verifier(self):
        found = forensics.diagnose({"code": "c", "redirect_uri": CB}, {"error": "invalid_request"})
        self.assertEqual(found.rule, "pkce.missing")

    def test_rule_pkce_mismatch_inferred_without_truth(self):
        sent = {"code": "c", "code_verifier": self.verifier,
                "code_challenge": pkce.make_challenge(pkce.make_verifier())}
        found = forensics.diagnose(sent, {"error": "invalid_grant"}, None)
        self.assertEqual((found.rule, found.certain), ("pkce.mismatch", False))

    def redirect_rule(self, uri: str) -> str:
        sent = {"code": "c", "redirect_uri": uri, "registered_redirect_uri": CB}
        return forensics.diagnose(sent, {"error": "invalid_grant"}).rule

    def test_rule_redirect_uri_scheme(self):
        self.assertEqual(self.redirect_rule("https://localhost:8091/callback"),
                         "redirect_uri.scheme")

    def test_rule_redirect_uri_host_localhost_vs_127(self):
        self.assertEqual(self.redirect_rule("http://127.0.0.1:8091/callback"), "redirect_uri.host")

    def test_rule_redirect_uri_port(self):
        self.assertEqual(self.redirect_rule("http://localhost:8092/callback"), "redirect_uri.port")

    def test_rule_redirect_uri_trailing_slash(self):
        self.assertEqual(self.redirect_rule(CB + "/"), "redirect_uri.trailing_slash")

    def test_rule_redirect_uri_path(self):
        self.assertEqual(self.redirect_rule("http://localhost:8091/auth/callback"),
                         "redirect_uri.path")

    def test_rule_code_expired_inferred_from_the_clients_clock(self):
        found = forensics.diagnose({"code": "c", "code_age": 900}, {"error": "invalid_grant"})
        self.assertEqual((found.rule, found.certain), ("code.expired", False))

    def test_rule_state_expired(self):
        found = forensics.diagnose({"state": "s", "state_age": 700}, {"error": "invalid_state"})
        self.assertEqual(found.rule, "state.expired")

    def test_rule_state_other_browser(self):
        found = forensics.diagnose({"state": "s", "other_browser": True},
                                   {"error": "invalid_state"})
        self.assertEqual(found.rule, "state.other_browser")

    def test_rule_state_unknown_is_not_certain(self):
        found = forensics.diagnose({"state": "s"}, {"error": "invalid_state"})
        self.assertEqual((found.rule, found.certain), ("state.unknown", False))

    def test_rule_clock_iat_in_the_future(self):
        found = forensics.diagnose({"iat": 10_000, "now": 10_000 - 3600},
                                   {"error": "invalid_token"})
        self.assertEqual(found.rule, "clock.iat_future")
        self.assertIsNone(forensics.clock_rule({"iat": 100, "now": 90}, None))  # within leeway

    def test_unexplained_says_so(self):
        self.assertEqual(forensics.diagnose({}, {"error": "server_error"}).rule, "unexplained")

    def test_every_rule_has_words(self):
        for rule in ("pkce.mismatch", "code.redeemed", "state.stale_tab", "clock.iat_future"):
            self.assertIn(rule, forensics.RULES)


if __name__ == "__main__":
    unittest.main()
