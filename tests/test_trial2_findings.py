"""What a second new-user trial found (issue 11, "Done when": someone who knows no OAuth can
say, from what the app shows, why each ID-token claim is checked).

One demo, one login (setUpClass); the console, the walkthrough, the profile, the HTTP log
and a few attack-lab runs are read from it. Checks are named by data attributes and by the
one table of words (client.oidc CLAIM_WHY), not by prose copied into the test.
"""
from __future__ import annotations

import re
import unittest
import urllib.parse

from complete_oauth_demo import APP, BROWSER_COOKIE
from oauthdemo.client.oidc import CALLBACK_ISS_WHY, CLAIM_WHY, CLAIMS_CHECKED, OTHER_BROWSER
from oauthdemo.core.steps import Step
from oauthdemo.teaching import device_attack
from oauthdemo.teaching.httplogpage import grouped
from oauthdemo.teaching.labpage import verdict_html

from .demo_fixtures import latest_session, log_in, start_test_demo
from .test_trial_findings import step_panel, unwrapped


class Trial2FindingsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.running, cls.stream = start_test_demo()
        cls.addClassCleanup(cls.running.stop)
        cls.browser = log_in(cls.running)
        cls.profile, cls.walk = (cls.browser.get(cls.running.app_url + path).text
                                 for path in ("/", "/walkthrough"))

    def attack(self, letter: str) -> tuple:
        """(result, what the console said while it ran)."""
        before = len(self.stream.getvalue())
        result = self.running.app.lab.run(letter, "trial2-browser",
                                          latest_session(self.running).tokens)
        return result, self.stream.getvalue()[before:]

    # A: each why names the harm, in the one table both the console and the pages use.
    def test_trial2_whys_name_the_harm(self):
        harms = {"iss": "tenant", "azp": "pass its token on", "iat": "replayed",
                 "sub": "re-assigned", "nonce": "TLS proxy"}
        for claim, harm in harms.items():
            self.assertIn(harm, CLAIM_WHY[claim], claim)
        self.assertNotIn("forged token", CLAIM_WHY["iat"].split(";")[0])   # iat stops no forgery
        self.assertIn("token endpoint", CALLBACK_ISS_WHY)                  # RFC 9207's harm
        panel = step_panel(self.walk, 9).replace("&#x27;", "'")
        for claim in CLAIMS_CHECKED:
            self.assertIn(CLAIM_WHY[claim], panel)

    # B: the profile lists Step 9's checks, all of them, in Step 9's order.
    def test_trial2_profile_lists_every_step9_check(self):
        checked = re.findall(r'data-claim-checked="(\w+)"', self.profile)
        self.assertEqual(checked, ["signature", *CLAIMS_CHECKED])

    def test_trial2_step9_checks_are_labelled_as_the_apps(self):
        self.assertIn('<ul class="checks" data-checked-by="app">', step_panel(self.walk, 9))

    # C: the token's kid names a key of the provider's own JWKS; it picks nothing itself.
    def test_trial2_kid_and_algorithm_are_said_right(self):
        self.assertNotIn("never picks the key", self.walk)
        self.assertIn("own published JWKS", step_panel(self.walk, 9))

    # D: three device logins, three codes, said so; the verdict names its condition.
    def test_trial2_attack_m_has_three_codes_and_a_conditional_verdict(self):
        result, console = self.attack("m")
        self.assertTrue(result["rejected"])
        self.assertIn('data-condition="yes"', verdict_html(result))
        codes = set(re.findall(r"\b[A-Z]{4}-[A-Z]{4}\b", result["sent"][0]))
        self.assertEqual(len(codes), 3)
        self.assertEqual(result["condition"], device_attack.CONDITION)
        for code in codes:
            self.assertIn(code, unwrapped(console))

    # E: attack (d) has one reason, on the console's header and in the error.
    def test_trial2_attack_d_gives_one_reason(self):
        result, console = self.attack("d")
        header = next(line for line in console.splitlines() if "── Step 6 of 10" in line)
        self.assertIn(OTHER_BROWSER, header)
        self.assertIn(OTHER_BROWSER.split("issued ")[1], result["stopped_by"] +
                      str(result["response"]))

    # F: a set-up's consent is in its summary line; attack (i) shows its real redirect.
    def test_trial2_setup_consent_is_not_told_before_the_setup(self):
        _, console = self.attack("a")
        self.assertIn("set-up: logs in as", console)
        self.assertNotIn("pressed Allow", console)

    def test_trial2_attack_i_shows_the_real_redirect_and_why_it_revokes(self):
        _, console = self.attack("i")
        text = unwrapped(console)
        self.assertRegex(text, r"intercepts the redirect to http://127\.0\.0\.1:\d+/callback")
        self.assertLess(text.index("the lab revokes"), text.index("revocation request"))

    # G: the landing page after the login is filed under Step 9, not Step 7.
    def test_trial2_http_log_files_the_landing_page_under_step_9(self):
        cookie = next(c.value for c in self.browser.jar if c.name == BROWSER_COOKIE)
        login = self.running.app.http_log.latest(cookie)
        landing = [step for step, hops in grouped(login, APP) for e in hops
                   if e.actor == APP and urllib.parse.urlsplit(e.url).path == "/"]
        self.assertEqual(landing[:1], [Step.ID_TOKEN])


if __name__ == "__main__":
    unittest.main()
