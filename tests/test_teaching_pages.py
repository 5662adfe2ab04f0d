"""The teaching pages draw failed logins too, and speak the console's vocabulary.

A refused login is drawn at the step where it failed, with its RFC error code in
``data-error`` (RFC 6749 §4.1.2.1 access_denied at Step 6; the app's invalid_state at
Step 6, RFC 6749 §10.12; RFC 7636 §4.6 invalid_grant at the server's PKCE check, Step 8;
an ID token that fails OpenID Connect Core §3.1.3.7 at Step 9). The home page lists the
ten steps of ``core.steps``; the attack lab shows the request before the response and no
names from the code.
"""
from __future__ import annotations

import html
import re
import time
import types
import unittest

from oauthdemo.client.oidc import CLAIM_WHY
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.errors import InvalidState
from oauthdemo.core.steps import THE_TEN
from oauthdemo.teaching import attacks, diagram, labpage
from oauthdemo.teaching.walkthrough import FlowView

from .demo_fixtures import log_in, query_of, start_test_demo
from .support import error_code

ARROW = re.compile(r'<li class="seq-row (\w+)[^"]*"([^>]*)><a class="step-link" id="arrow-(\d+)"')
PANEL = re.compile(r'<section class="step-detail [^"]*" id="step-(\d+)"([^>]*)>')


def arrows(page: str) -> dict:
    """step number → (status, data-error or None), as the diagram draws them."""
    found = {}
    for status, attrs, n in ARROW.findall(page):
        error = re.search(r'data-error="([^"]*)"', attrs)
        found[int(n)] = (status, html.unescape(error.group(1)) if error else None)
    return found


def panel_errors(page: str) -> dict:
    """step number → data-error, for each step panel that carries one."""
    found = {}
    for n, attrs in PANEL.findall(page):
        error = re.search(r'data-error="([^"]*)"', attrs)
        if error:
            found[int(n)] = html.unescape(error.group(1))
    return found


class FailedLoginsTest(unittest.TestCase):
    """Real refusals through the app's /callback, then the walkthrough page."""

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()
        cls.app_url = cls.running.app_url

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def walkthrough(self, browser: ScriptedBrowser) -> str:
        page = browser.get(self.app_url + "/walkthrough")
        self.assertEqual(page.status, 200)
        return page.text

    def assert_failed_at(self, page: str, step: int, error: str):
        drawn = arrows(page)
        self.assertEqual(drawn[step], ("failed", error))
        self.assertEqual([n for n, (status, _) in drawn.items() if status == "failed"], [step])
        self.assertEqual(panel_errors(page), {step: error})
        self.assertTrue(all(drawn[n][0] == "pending" for n in range(step + 1, 11)))

    def test_deny_is_drawn_at_step_6_as_access_denied(self):
        browser = ScriptedBrowser()
        start = browser.get(self.app_url + "/login")
        refused = browser.get(browser.login_at_provider(start.location, allow=False))
        self.assertEqual((refused.status, error_code(refused)), (400, "access_denied"))
        self.assertIn('href="/walkthrough#step-6"', refused.text)
        page = self.walkthrough(browser)
        self.assert_failed_at(page, 6, "access_denied")
        for text in (refused.text, page):
            self.assertNotRegex(text, r"\$[A-Za-z_{]")    # no placeholder left unfilled
        drawn = arrows(page)
        self.assertEqual([n for n in range(1, 6) if drawn[n][0] == "reached"], [1, 2, 3, 4, 5])

    def test_unknown_state_is_drawn_at_step_6_as_invalid_state(self):
        browser = ScriptedBrowser()
        browser.get(self.app_url + "/login")
        forged = browser.get(self.app_url + "/callback?code=stolen&state=not-one-of-ours")
        self.assertEqual((forged.status, error_code(forged)), (400, "invalid_state"))
        self.assertIn('href="/walkthrough#step-6"', forged.text)
        page = self.walkthrough(browser)
        self.assert_failed_at(page, 6, "invalid_state")
        self.assertIn('href="/attacks#attack-d"', page)
        # A stranger's callback proves nothing about this login's Steps 4 and 5.
        self.assertEqual(arrows(page)[4][0], "pending")

    def test_pkce_failure_is_drawn_at_step_8_as_invalid_grant(self):
        browser = ScriptedBrowser()
        start = browser.get(self.app_url + "/login")
        callback = browser.login_at_provider(start.location)
        pending = self.running.app.pending.peek(query_of(callback)["state"])
        pending.verifier = "x" * 43     # the verifier no longer hashes to the challenge
        refused = browser.get(callback)
        self.assertEqual(error_code(refused), "invalid_grant")
        self.assertIn('href="/walkthrough#step-8"', refused.text)
        page = self.walkthrough(browser)
        self.assert_failed_at(page, 8, "invalid_grant")
        self.assertEqual([n for n, (s, _) in arrows(page).items() if s == "reached"],
                         list(range(1, 8)))

    def test_a_replayed_callback_does_not_undo_a_finished_login(self):
        browser = ScriptedBrowser()
        start = browser.get(self.app_url + "/login")
        callback = browser.login_at_provider(start.location)
        self.assertEqual(browser.get(callback).status, 303)
        self.assertEqual(error_code(browser.get(callback)), "invalid_state")
        page = self.walkthrough(browser)
        self.assertEqual(panel_errors(page), {})
        self.assertEqual(sorted(n for n, (s, _) in arrows(page).items() if s == "reached"),
                         list(range(1, 11)))

    def test_step_9_links_the_discovery_document_and_the_jwks(self):
        page = self.walkthrough(log_in(self.running))
        issuer = self.running.app.client.provider.issuer.rstrip("/")
        jwks = self.running.app.client.metadata["jwks_uri"]
        step9 = page[page.index('id="step-9"'):page.index('id="step-10"')]
        self.assertIn(f'href="{html.escape(issuer)}/.well-known/openid-configuration"', step9)
        self.assertIn(f'href="{html.escape(jwks)}"', step9)

    def test_step_9_says_why_each_claim_is_checked_as_the_console_does(self):
        """A new user's trial: the reasons were only in the console, which scrolls away."""
        page = html.unescape(self.walkthrough(log_in(self.running)))
        step9 = page[page.index('id="step-9"'):page.index('id="step-10"')]
        for name, why in CLAIM_WHY.items():
            with self.subTest(claim=name):
                self.assertIn(why, step9)

    def test_the_legend_draws_happened_in_a_sender_colour(self):
        page = self.walkthrough(ScriptedBrowser())
        legend = re.search(r'<span class="legend-item reached ([^"]*)"', page)
        self.assertTrue(legend and legend.group(1).startswith("from-"), legend)

    def test_home_page_lists_the_ten_steps(self):
        page = ScriptedBrowser().get(self.app_url + "/").text
        listed = re.search(r'<ol class="compact step-list">(.*?)</ol>', page, re.S).group(1)
        items = [html.unescape(re.sub(r"<[^>]+>", "", li)).strip()
                 for li in re.findall(r"<li>(.*?)</li>", listed)]
        self.assertEqual(items, [f"{s.label} {s.title}" for s in THE_TEN])

    def test_lab_on_the_embedded_server_offers_no_intercepting_login(self):
        page = ScriptedBrowser().get(self.app_url + "/attacks").text
        self.assertNotIn("/login?intercept=", page)


class RenderedFailuresTest(unittest.TestCase):
    """The drawing functions, given a trace: an ID token refused at Step 9."""

    def view(self, trace: dict) -> FlowView:
        return FlowView(trace, "s" * 43, None, time.time(), None,
                        {"issuer": "https://as.example", "jwks_uri": "https://as.example/jwks"})

    def test_an_id_token_that_fails_validation_is_drawn_at_step_9(self):
        trace = {"authorize_params": {"state": "s" * 43}, "verifier": "v" * 43,
                 "challenge": "c" * 43, "digest_hex": "00" * 32,
                 "callback": {"code": "abc", "state": "s" * 43},
                 "token_request": {"grant_type": "authorization_code"},
                 "token_response": {"access_token": "a.b.c", "token_type": "Bearer"},
                 "failure": {"step": 9, "error": "invalid_token", "own": True,
                             "description": "The signature does not verify."}}
        page = diagram.diagram(self.view(trace), "embedded") + diagram.step_panels(
            self.view(trace), THE_TEN[8])
        self.assertEqual(arrows(page)[9], ("failed", "invalid_token"))
        self.assertEqual(panel_errors(page), {9: "invalid_token"})
        self.assertIn('href="/attacks#attack-g"', page)


class AttackCardTest(unittest.TestCase):

    def test_an_external_provider_still_offers_the_intercepting_login(self):
        lab = types.SimpleNamespace(embedded=False, codes_waiting=lambda browser: 0)
        source = labpage.code_source(lab, "browser")
        self.assertIn("/login?intercept=" + attacks.INTERCEPT_FLAG, source)
        self.assertNotRegex(source, r"\$[A-Za-z_{]")

    def test_request_comes_before_the_response_and_no_code_names(self):
        spec = attacks.ATTACKS["d"]
        result = attacks.outcome(spec, "tried", ["GET /callback?…", "state=forged"],
                                 attacks.raised("OIDCClient.complete (the app's /callback)",
                                                InvalidState("Unknown state.")))
        card = labpage.attack_card(spec, result, "token")
        self.assertLess(card.index("What the attacker sent"), card.index("What came back"))
        self.assertLess(card.index("state=forged"), card.index('class="wrap response"'))
        self.assertNotIn("raised ", card)
        self.assertNotIn("InvalidState", card)
        self.assertNotIn("OIDCClient", card)
        self.assertIn("invalid_state", card)


if __name__ == "__main__":
    unittest.main()
