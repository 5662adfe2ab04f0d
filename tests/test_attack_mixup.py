"""The attack lab's last two items of issue 11: attack (n), a mix-up at the callback
(RFC 9207 §2.4), and attack (d)'s console showing the app's own refusal under its Step 6.

Attack (n): the lab runs its own real login at the embedded server up to the callback,
changes only iss, and delivers it from the browser the state was issued to; the app's one
callback check (``OIDCClient.check_callback``) refuses it with its RFC 9207 error, the state
used up. The same callback with the real iss passes, so only iss refused it. A provider
that does not send iss (RFC 9207 §3 metadata false): the attack says it cannot run.
"""
from __future__ import annotations

import io
import unittest
from unittest import mock

from oauthdemo.client.oidc import CALLBACK_ISS_WHY
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.errors import ProviderBadResponse
from oauthdemo.core.events import AttackStarted, Checked, Recorder, StepStarted
from oauthdemo.core.steps import Step
from oauthdemo.teaching import attacks, labpage, mixup_attack
from oauthdemo.teaching.narrator import Narrator

from .demo_fixtures import start_test_demo
from .test_attacks import lab_token, press, result_region

MIXUP_ERROR = "invalid_issuer"     # what the app's callback check answers (core.errors)


class MixupAttackTest(unittest.TestCase):
    """Attack (n) and attack (d)'s console, against one embedded demo."""

    @classmethod
    def setUpClass(cls):
        cls.running, _ = start_test_demo()
        cls.lab = cls.running.app.lab
        cls.recorder = cls.running.app.events.subscribe(Recorder())
        cls.stream = io.StringIO()
        cls.running.app.events.subscribe(Narrator(stream=cls.stream, colour=False))

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def pending_count(self) -> int:
        return len(self.running.app.pending.table)

    def run_attack(self, letter: str, browser: str) -> tuple:
        """(result, the console's text for this run, the events it emitted)."""
        before, first = len(self.stream.getvalue()), len(self.recorder.events)
        result = self.lab.run(letter, browser)
        return result, self.stream.getvalue()[before:], self.recorder.events[first:]

    def test_rfc9207_2_4_a_callback_from_another_issuer_is_refused(self):
        pending = self.pending_count()
        result, _, events = self.run_attack("n", "victim-mixup")
        self.assertTrue(result["ran"] and result["rejected"], result)
        self.assertEqual(result["error"], MIXUP_ERROR)
        self.assertEqual(result["response"]["status"], 400)
        self.assertEqual(result["response"]["raised"], "IssuerMismatch")
        self.assertIn(f"iss={mixup_attack.OTHER_ISSUER}", result["sent"])
        self.assertEqual(result["rule_label"], "RFC 9207 §2.4")
        # The state was valid and bound: the app's state check passed, then iss refused it.
        checks = [(e.ok, e.what) for e in events if isinstance(e, Checked)
                  and e.actor == "your app"]
        self.assertTrue(checks[0][0] and "issued to this browser" in checks[0][1], checks)
        self.assertEqual(checks[-1][0], False)
        self.assertEqual(self.pending_count(), pending)       # the lab's login is used up

    def test_rfc9207_2_4_only_iss_refused_it_the_genuine_callback_passes(self):
        params, real, browser = mixup_attack.forged_callback(self.lab, attacks.VICTIM_USER)
        params["iss"] = real     # the same callback, iss as the server sent it
        app = attacks.checker(self.lab, "n")
        self.assertIsNone(mixup_attack.deliver(app, self.lab, params, browser))

    def test_rfc9207_the_attack_cannot_run_without_iss_in_callbacks(self):
        pending = self.pending_count()
        with mock.patch.dict(self.lab.client.metadata, {mixup_attack.ISS_SUPPORTED: False}):
            result = self.lab.run("n", "victim-no-iss")
        self.assertFalse(result["ran"])
        self.assertIn(mixup_attack.ISS_SUPPORTED, result["stopped_by"])
        self.assertEqual(self.pending_count(), pending)

    def test_a_lab_login_that_fails_leaves_no_state_pending(self):
        pending = self.pending_count()
        with self.assertRaises(ProviderBadResponse):
            self.lab.scripted_login("no-such-user", "lab-fails", pending=True)
        self.assertEqual(self.pending_count(), pending)

    def test_mixup_header_carries_the_attack_tag_and_the_console_says_why(self):
        _, text, events = self.run_attack("n", "victim-mixup-tag")
        steps = [e for e in events if isinstance(e, StepStarted)]
        self.assertEqual([(s.step, s.flow) for s in steps], [(Step.CALLBACK, "attack n")])
        self.assertTrue(any(isinstance(e, AttackStarted) and e.letter == "n" for e in events))
        after_step6 = text[text.index("── Step 6 of 10"):]
        self.assertRegex(after_step6, r"(?s)your app │ ✘ refuses the callback: .*attacker\.example")
        self.assertRegex(after_step6, rf"attacker │ ✘ refused: {MIXUP_ERROR}")
        flat = " ".join(line.split("│", 1)[-1].strip() for line in text.splitlines())
        self.assertIn(CALLBACK_ISS_WHY[1:], flat)

    def test_issue11_attack_d_shows_the_apps_refusal_under_its_step_6(self):
        _, text, _ = self.run_attack("d", "victim-csrf")
        after_step6 = text[text.index("── Step 6 of 10"):]
        self.assertRegex(after_step6, r"(?s)^[^\n]*attack d\n\s+your app │ ✘ refuses state "
                                      r"\S+…: This state was issued to a different browser")
        self.assertLess(after_step6.index("your app │ ✘"),
                        after_step6.index("attacker │ ✘ refused: invalid_state"))

    def test_mixup_card_shows_request_answer_rule_and_why(self):
        browser = ScriptedBrowser()
        token = lab_token(self.running, browser)
        self.assertEqual(press(self.running, browser, "n", token).status, 303)
        page = browser.get(self.running.app_url + "/attacks").text
        card = result_region(page, "n")
        self.assertIn("What the attacker sent", card)
        self.assertIn(f"<code>{MIXUP_ERROR}</code>", card)
        self.assertIn("iss check (Step 6)", card)
        self.assertIn("rfc9207#section-2.4", card)
        self.assertIn("Why the app checks iss in the callback", card)
        self.assertIn(CALLBACK_ISS_WHY.split("(")[0][1:], card)
        self.assertIn(f"Run all {labpage.count_words()[1]} attacks", page)
        self.assertEqual(labpage.count_words()[1], "fourteen")


if __name__ == "__main__":
    unittest.main()
