"""The step-through lab (issue 12, item 3): GET /login?mode=step pauses at every hop the app
controls, and what the learner sends goes to the same strict server for real.

Real sockets, the real embedded server, a scripted browser; one demo for the class, its
clock injected (the expired-code test moves it instead of sleeping).
"""
from __future__ import annotations

import re
import unittest

from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import Clock, query_of, start_test_demo

ATTRS = re.compile(r'data-(pause|status|error|forensic|retry|expired)="([^"]*)"')


def attrs(page) -> dict:
    """The page's data attributes (the first of each name): what the tests assert on."""
    found = {}
    for name, value in ATTRS.findall(page.text):
        found.setdefault(name, value)
    return found


class StepModeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.clock = Clock()
        cls.running, cls.console = start_test_demo(clock=cls.clock)
        cls.url = cls.running.app_url

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    # -- helpers: the learner's clicks --------------------------------------------------------
    def pause(self, browser: ScriptedBrowser, expected: str):
        page = browser.get(self.url + "/step")
        self.assertEqual(page.status, 200)
        self.assertEqual(attrs(page).get("pause"), expected, page.text[:400])
        return page

    def send(self, browser: ScriptedBrowser, page, **edits):
        return browser.submit(page, extra={f"p_{k}": v for k, v in edits.items()})

    def to_token_pause(self, browser: ScriptedBrowser):
        """Pause 1 sent as built, the user logs in, the callback arrives: pause 2's page."""
        start = browser.get(self.url + "/login?mode=step")
        self.assertEqual((start.status, start.location), (303, self.url + "/step"))
        sent = self.send(browser, self.pause(browser, "authorize"))
        self.assertEqual(sent.status, 303)
        callback = browser.login_at_provider(sent.location, "alice")
        arrived = browser.get(callback)
        self.assertEqual((arrived.status, arrived.location), (303, self.url + "/step"))
        return self.pause(browser, "token")

    # -- the tests -------------------------------------------------------------------------------
    def test_step_login_pauses_three_times_then_the_api_answers(self):
        browser = ScriptedBrowser()
        token_page = self.to_token_pause(browser)
        self.assertIn("code_verifier", token_page.forms()[0]["fields"].keys().__str__())
        self.send(browser, token_page)
        api_page = self.pause(browser, "api")
        self.assertEqual(attrs(api_page)["status"], "200")     # the token request's answer
        self.send(browser, api_page)
        done = self.pause(browser, "done")
        self.assertEqual((attrs(done)["status"], attrs(done)["error"]), ("200", ""))
        self.assertEqual(browser.get(self.url + "/").status, 200)   # the session is real

    def test_edited_verifier_is_invalid_grant_with_forensics_then_restore_finishes(self):
        browser = ScriptedBrowser()
        page = self.to_token_pause(browser)
        self.send(browser, page, code_verifier="A" * 43)
        refused = self.pause(browser, "token")
        self.assertEqual(attrs(refused)["error"], "invalid_grant")
        self.assertEqual(attrs(refused)["forensic"], "pkce.mismatch")
        self.assertIn("retry", attrs(refused))
        restored = browser.get(self.url + "/step?original=1")
        self.send(browser, restored)             # the code was not used up by the refusal
        self.assertEqual(attrs(self.pause(browser, "api"))["status"], "200")

    def test_rfc6749_4_1_2_an_expired_code_says_start_again(self):
        browser = ScriptedBrowser()
        page = self.to_token_pause(browser)
        self.clock.advance(601)                  # past the code's 10 minutes
        self.send(browser, page)
        refused = self.pause(browser, "token")
        self.assertEqual(attrs(refused)["error"], "invalid_grant")
        self.assertEqual(attrs(refused).get("expired"), "code")
        self.assertEqual(refused.forms(), [])    # no resend: only a new login helps

    def test_edited_bearer_token_is_invalid_token_then_restore_works(self):
        browser = ScriptedBrowser()
        self.send(browser, self.to_token_pause(browser))
        self.send(browser, self.pause(browser, "api"), bearer="not-a-token")
        refused = self.pause(browser, "api")
        self.assertEqual((attrs(refused)["status"], attrs(refused)["error"]),
                         ("401", "invalid_token"))
        self.send(browser, browser.get(self.url + "/step?original=1"))
        self.assertEqual(attrs(self.pause(browser, "done"))["status"], "200")

    def test_edited_authorization_parameter_reaches_the_strict_server(self):
        browser = ScriptedBrowser()
        browser.get(self.url + "/login?mode=step")
        sent = self.send(browser, self.pause(browser, "authorize"), code_challenge_method="plain")
        self.assertEqual(query_of(sent.location)["code_challenge_method"], "plain")
        answer = browser.get(sent.location)
        back = query_of(answer.location or "")   # the server refuses: an error, never a code
        self.assertNotIn("code", back)
        self.assertEqual(back.get("error"), "invalid_request")

    def test_rfc6749_10_12_the_paused_callback_still_checks_the_browser(self):
        browser, stranger = ScriptedBrowser(), ScriptedBrowser()
        browser.get(self.url + "/login?mode=step")
        sent = self.send(browser, self.pause(browser, "authorize"))
        callback = browser.login_at_provider(sent.location, "alice")
        refused = stranger.get(callback)          # another browser brings the callback
        self.assertEqual(attrs(refused).get("error"), "invalid_state")

    def test_a_send_without_its_form_token_is_refused(self):
        browser = ScriptedBrowser()
        browser.get(self.url + "/login?mode=step")
        page = self.pause(browser, "authorize")
        forged = browser.submit(page, extra={"form_token": "0" * 64})
        self.assertEqual(forged.status, 403)
        self.assertEqual(attrs(forged).get("error"), "invalid_request")

    def test_a_send_for_a_pause_that_is_over_is_refused(self):
        browser = ScriptedBrowser()
        page = self.to_token_pause(browser)
        stale = browser.submit(page, extra={"pause": "authorize"})
        self.assertEqual(stale.status, 409)

    def test_step_page_without_a_login_offers_to_start(self):
        page = ScriptedBrowser().get(self.url + "/step")
        self.assertEqual(page.status, 200)
        self.assertIn('href="/login?mode=step"', page.text)

    def test_home_page_has_the_step_through_button(self):
        self.assertIn('href="/login?mode=step"', ScriptedBrowser().get(self.url + "/").text)

    def test_a_normal_login_does_not_pause(self):
        start = ScriptedBrowser().get(self.url + "/login")
        self.assertEqual(start.status, 302)
        self.assertIn("/authorize?", start.location)

    def test_console_narrates_the_pauses_and_never_the_verifier_edit_value(self):
        browser = ScriptedBrowser()
        page = self.to_token_pause(browser)
        self.send(browser, page, code_verifier="B" * 43)
        console = self.console.getvalue()
        self.assertIn("step-through: pauses before Step 7", console)
        self.assertIn("edited: code_verifier", console)
        self.assertIn("forensics (pkce.mismatch): ", console)   # forensics.narrate's one form

    def test_no_secret_in_any_url(self):
        browser = ScriptedBrowser()
        page = self.to_token_pause(browser)
        sent = self.send(browser, page)
        verifier = page.forms()[0]["fields"]["p_code_verifier"]
        self.assertNotIn(verifier, sent.location)
        self.assertNotIn("token", sent.location)

    def test_rfc6749_4_1_2_a_double_click_never_redeems_the_code_twice(self):
        browser = ScriptedBrowser()
        page = self.to_token_pause(browser)
        cookie = next(c.value for c in browser.jar if c.name == "demo_browser")
        login = self.running.app.steps.current(cookie)
        with login.sending:                        # the first click's request is on its way
            second = self.send(browser, page)
        self.assertEqual(second.status, 409)
        self.send(browser, page)                   # the code was never sent twice: it works
        self.assertEqual(attrs(self.pause(browser, "api"))["status"], "200")
