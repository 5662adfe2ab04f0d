"""What a new user's trial found (issue 11, "Done when": someone who knows no OAuth can say,
from what the app shows, why each ID-token claim is checked).

One demo, one login (setUpClass); the console, the walkthrough's Step 9 and the profile are
read from it. The checks are named by data attributes (data-claim, data-why,
data-claim-checked, data-claim-present), and the words are the one table, CLAIM_WHY.
"""
from __future__ import annotations

import re
import unittest

from oauthdemo.client.oidc import CALLBACK_ISS_WHY, CLAIM_WHY, CLAIMS_CHECKED
from oauthdemo.core.claims import Expect, check_claims
from oauthdemo.core.errors import ClaimMismatch
from oauthdemo.teaching.narrator import note_tail

from .demo_fixtures import latest_session, log_in, start_test_demo

NOW = 1_800_000_000


def unwrapped(console: str) -> str:
    """The console's text with the Narrator's wrapping undone: one space between words."""
    return " ".join(line.split("│", 1)[-1].strip() for line in console.splitlines())


def step_panel(page: str, n: int) -> str:
    """The walkthrough's panel of step n: from its id to the next step's."""
    start = page.index(f'id="step-{n}"')
    end = page.find(f'id="step-{n + 1}"', start)
    return page[start:end if end > 0 else len(page)]


class TrialFindingsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.running, cls.stream = start_test_demo()
        cls.browser = log_in(cls.running)
        cls.profile = cls.browser.get(cls.running.app_url + "/").text
        cls.walk = cls.browser.get(cls.running.app_url + "/walkthrough").text
        cls.console = cls.stream.getvalue()

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_trial_step9_shows_the_checks_before_the_token_response(self):
        panel = step_panel(self.walk, 9)
        first_check = panel.index('data-claim="iss"')
        self.assertLess(first_check, panel.index("Token response"))
        self.assertLess(first_check, panel.index("Where the keys come from"))

    def test_trial_every_checked_claim_has_a_why_on_the_walkthrough(self):
        panel = step_panel(self.walk, 9)
        shown = re.findall(r'data-claim="(\w+)" data-why="(\w+)"', panel)
        self.assertEqual([name for name, _ in shown], list(CLAIMS_CHECKED))
        self.assertEqual({why for _, why in shown}, {"yes"})
        for name in ("iat", "sub", "azp"):
            self.assertIn(CLAIM_WHY[name].replace("'", "&#x27;"), panel)

    def test_trial_every_checked_claim_has_the_same_why_in_the_console(self):
        text = unwrapped(self.console)
        for name in CLAIMS_CHECKED:
            self.assertRegex(text, rf"✔ {name}\s+\S.* — " + re.escape(CLAIM_WHY[name]))
        self.assertIn("no azp: one audience, nothing to check", text)

    def test_trial_the_intro_lists_exactly_the_checks_under_it(self):
        intro = re.search(r"then ([a-z, ]+) and (\w+)\.", step_panel(self.walk, 9))
        listed = intro.group(1).split(", ") + [intro.group(2)]
        self.assertEqual(listed, list(CLAIMS_CHECKED))

    def test_trial_the_callback_says_why_iss_is_checked(self):
        self.assertIn(CALLBACK_ISS_WHY, unwrapped(self.console))
        self.assertIn(CALLBACK_ISS_WHY, step_panel(self.walk, 6).replace("&#x27;", "'"))

    def test_trial_profile_marks_checked_claims_apart_from_present_ones(self):
        checked = set(re.findall(r'data-claim-checked="(\w+)"', self.profile))
        present = set(re.findall(r'data-claim-present="(\w+)"', self.profile))
        self.assertTrue({"iss", "aud", "exp", "iat", "nonce", "sub"} <= checked)
        self.assertTrue({"name", "email", "auth_time"} <= present)
        self.assertFalse(checked & present)

    def test_trial_iat_age_is_relative_to_the_check(self):
        self.assertRegex(unwrapped(self.console), r"✔ iat\s+\d{4}-\d\d-\d\d [\d:]+ UTC, "
                                                  r"\d+ s before the check")

    def test_trial_console_says_sha_256_and_nests_no_parentheses(self):
        self.assertIn("SHA-256 → base64url", self.console)
        self.assertNotIn("SHA256", self.console)
        for nested in ("(Step 6))", "(Step 9))", "(never 'plain'))", "(Auth0))"):
            self.assertNotIn(nested, self.console)
        self.assertEqual(note_tail("the hash (SHA-256)"), "   — the hash (SHA-256)")
        self.assertEqual(note_tail("one use"), "   (one use)")

    def test_trial_attack_j_shows_the_apps_refusal_under_step_9_with_one_mark(self):
        before = len(self.stream.getvalue())
        self.running.app.lab.run("j", "trial-browser", latest_session(self.running).tokens)
        text = self.stream.getvalue()[before:]
        after_step9 = text[text.index("── Step 9 of 10"):]
        self.assertRegex(after_step9, r"your app │ ✘ refuses the ID token: nonce")
        self.assertRegex(after_step9, r"attacker │ ✘ refused: invalid_token")
        self.assertNotIn("✔", text)                          # "stopped" is said once, unmarked
        self.assertNotRegex(text, r"(?m)│\s+\(\d+\)\s*$")     # no reference item left alone

    def test_trial_api_page_dates_expires_at_and_says_which_checks_ran(self):
        page = self.browser.get(self.running.app_url + "/api/protected/view").text
        self.assertRegex(page, r'data-field="expires_at"><time datetime="\d{4}-\d\d-\d\dT')
        ran = re.search(r'data-field="validated_by" data-ran="([\w ]+)"', page).group(1)
        self.assertEqual(ran.split(), ["local_jwt", "authorization_server"])
        self.assertIn('<code class="keep-whole">google-oauth2|<wbr>', page)


class TrialSubjectRuleTest(unittest.TestCase):
    """OIDC Core §2: sub is a string of at most 255 ASCII characters; the app checks it."""

    def claims(self, sub) -> dict:
        return {"iss": "https://as", "aud": "app", "exp": NOW + 60, "iat": NOW, "sub": sub}

    def check(self, sub):
        check_claims(self.claims(sub), Expect(iss="https://as", aud="app", now=NOW,
                                              require=("iat", "sub")))

    def test_trial_sub_of_255_ascii_characters_passes(self):
        self.check("a" * 255)

    def test_trial_sub_over_255_characters_is_refused(self):
        with self.assertRaises(ClaimMismatch):
            self.check("a" * 256)

    def test_trial_sub_not_ascii_or_not_a_string_is_refused(self):
        for sub in ("usér", 12345, ""):
            with self.subTest(sub=sub), self.assertRaises(ClaimMismatch):
                self.check(sub)


if __name__ == "__main__":
    unittest.main()
