"""The walkthrough page: this browser's own login, drawn step by step with its real values.

Checked against what the console narrated (the same challenge, the same kid), against
the embedded server's own records (its stored challenge and PKCE check), and for the
page's manners: only this browser's flow, escaped values, greyed-out future steps.
"""
from __future__ import annotations

import html
import re
import time
import unittest

import pkce
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.steps import STEP_COUNT, THE_TEN
from oauthdemo.teaching.walkthrough import LatestFlows

from .demo_fixtures import Clock, log_in, start_test_demo

CONSOLE_FLOW = re.compile(r"Step 2 of 10 · The PKCE secrets ─+ flow (\S+)\n"
                          r"(?:.*\n)*?.*code_verifier  = (\S+)"
                          r"(?:.*\n)*?.*code_challenge = (\S+)")


def element_text(page: str, ident: str) -> str:
    match = re.search(rf'id="{ident}">([^<]*)<', page)
    assert match, f"no element #{ident}"
    return html.unescape(match.group(1))


def reached(page: str) -> list:
    return [int(n) for n in re.findall(r'<li class="seq-row reached[^"]*"><a class="step-link" '
                                       r'id="arrow-(\d+)"', page)]


def console_flows(console_text: str) -> dict:
    """flow tag → (verifier, challenge), as narrated in Step 2."""
    return {m.group(1): (m.group(2), m.group(3)) for m in CONSOLE_FLOW.finditer(console_text)}


class WalkthroughPageTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.clock = Clock(float(int(time.time())))   # whole seconds, as the tokens' iat
        cls.running, cls.console = start_test_demo(clock=cls.clock)
        cls.url = cls.running.app_url + "/walkthrough"

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_before_login_every_step_is_grey(self):
        page = ScriptedBrowser().get(self.url)
        self.assertEqual(page.status, 200)
        self.assertEqual(reached(page.text), [])
        self.assertEqual(page.text.count('class="seq-row pending'), STEP_COUNT)
        self.assertIn("No login yet", page.text)
        self.assertNotIn('id="pkce-challenge"', page.text)
        self.assertIn("not reached yet", page.text)

    def test_challenge_shown_is_the_one_the_console_narrated(self):
        page = ScriptedBrowser()
        page = log_in(self.running, browser=page).get(self.url).text
        verifier, challenge = console_flows(self.console.getvalue())[element_text(page, "flow-tag")]
        self.assertEqual(element_text(page, "pkce-challenge"), challenge)
        self.assertEqual(element_text(page, "pkce-verifier"), verifier)
        digest = element_text(page, "pkce-digest").replace(" ", "")
        self.assertEqual(digest, pkce.s256_digest(verifier).hex())
        self.assertEqual(reached(page), list(range(1, 11)))

    def test_kid_is_the_embedded_servers_signing_key(self):
        page = log_in(self.running).get(self.url).text
        kid = self.running.auth.keys.current().kid
        self.assertEqual(element_text(page, "jwks-kid"), kid)
        self.assertIn(f"kid={kid}", self.console.getvalue())

    def test_server_pkce_check_comes_from_the_servers_log(self):
        page = log_in(self.running).get(self.url).text
        challenge = element_text(page, "pkce-challenge")
        entry = self.running.auth.inspect.pkce_record(challenge)
        step8 = page[page.index('id="step-8"'):page.index('id="step-9"')]
        self.assertIn(entry.recomputed, step8)
        self.assertIn(entry.verifier, step8)
        self.assertIn("hmac.compare_digest", step8)

    def test_human_times_in_the_id_token_claims(self):
        browser = log_in(self.running)
        self.clock.advance(60)
        page = browser.get(self.url).text
        self.assertIn("expires in 9 h 59 min", page)
        self.assertIn("issued 1 min before this page was drawn", page)

    def test_a_login_in_progress_lights_the_steps_reached(self):
        browser = ScriptedBrowser()
        start = browser.get(self.running.app_url + "/login")
        self.assertEqual(reached(browser.get(self.url).text), [1, 2, 3])
        login_page = browser.get(start.location)          # the server stores the challenge
        self.assertEqual(reached(browser.get(self.url).text), [1, 2, 3, 4])
        browser.submit(login_page, 0)                      # authenticated, consent pending
        page = browser.get(self.url).text
        self.assertEqual(reached(page), [1, 2, 3, 4, 5])
        self.assertIn("Continue it at the authorization server", page)

    def test_only_this_browsers_flow_is_shown(self):
        alice = log_in(self.running)
        mine = element_text(alice.get(self.url).text, "flow-tag")
        other = ScriptedBrowser().get(self.url).text
        self.assertNotIn(mine, other)
        self.assertEqual(reached(other), [])

    def test_values_are_escaped(self):
        browser = ScriptedBrowser()
        start = browser.get(self.running.app_url + "/login")
        callback = browser.login_at_provider(start.location)
        browser.get(callback + "&note=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        page = browser.get(self.url).text
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page)
        self.assertNotIn("<script>alert(1)", page)

    def test_after_logout_the_tokens_are_no_longer_revealed(self):
        browser = log_in(self.running)
        self.assertIn("Reveal the whole value", browser.get(self.url).text)
        browser.submit(browser.get(self.running.app_url + "/"))   # the profile's Log out form
        page = browser.get(self.url).text
        self.assertIn("No login yet in this browser", page)   # logout forgets the whole flow
        self.assertNotIn('<details class="reveal"><summary>Reveal the whole value</summary>'
                         '<code class="wrap">ey', page)

    def test_every_step_links_its_rfc_and_matches_a_console_step(self):
        page = log_in(self.running).get(self.url).text
        text = self.console.getvalue()
        for step in THE_TEN:
            section = page[page.index(f'id="step-{step.number}"'):]
            section = section[:section.index("</section>")]
            self.assertRegex(section, r'class="spec" href="https://(www\.rfc-editor\.org|openid\.net)/')
            heading = f"Step {step.number} of 10 · {step.title}"    # one vocabulary: page and console
            self.assertIn(html.escape(heading), section)
            if step.number < 10:
                self.assertIn(heading, text)

    def test_page_has_no_inline_script_or_style(self):
        page = log_in(self.running).get(self.url)
        self.assertIn("script-src 'self'", page.headers["Content-Security-Policy"])
        self.assertNotRegex(page.text, r"<script(?![^>]*src=)|\sstyle=|\son[a-z]+=")


class LatestFlowsTest(unittest.TestCase):
    """Anyone can open /login, so the map of latest flows is bounded and expires."""

    class Flow:
        def __init__(self, created):
            self.created = created

    def test_bounded(self):
        flows = LatestFlows(limit=3, clock=Clock(1000))
        for i in range(5):
            flows.remember(f"browser-{i}", self.Flow(1000))
        self.assertEqual(len(flows.table), 3)
        self.assertIsNone(flows.latest("browser-0"))
        self.assertIsNotNone(flows.latest("browser-4"))

    def test_expires(self):
        clock = Clock(1000)
        flows = LatestFlows(ttl=60, clock=clock)
        flows.remember("b", self.Flow(clock()))
        clock.advance(61)
        self.assertIsNone(flows.latest("b"))

    def test_no_cookie_no_flow(self):
        flows = LatestFlows()
        flows.remember("", self.Flow(0))
        self.assertIsNone(flows.latest(""))


if __name__ == "__main__":
    unittest.main()
