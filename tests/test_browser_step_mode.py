"""The step-through lab in a real browser (issue 12, item 3): Playwright driving Debian's
Chromium clicks through a whole login that pauses at every hop, breaks the verifier at the
token request, reads the server's invalid_grant and the forensic line, restores the
verifier and finishes. No console error, script error or CSP violation on any page.
Skips without playwright or /usr/bin/chromium locally; under CI=true a missing one fails.
"""
from __future__ import annotations

import re
import unittest

from . import test_browser_ui as ui   # the module, so that its test classes do not run here
from .test_browser_ui import CSP_LISTENER, NARROW, SCREENSHOTS, TIMEOUT_MS, WIDE, OneBrowser


class BrowserStepModeTest(OneBrowser, unittest.TestCase):
    """A fresh browser (not logged in): the home page offers the step-through."""

    watch = ui.BrowserUITest.__dict__["watch"]   # the same watcher: console and script errors

    @classmethod
    def set_up_pages(cls):
        cls.problems, cls.context = [], cls.browser.new_context(viewport=WIDE)
        cls.context.set_default_timeout(TIMEOUT_MS)
        cls.context.expose_function("reportCspViolation",
                                    lambda text: cls.problems.append("CSP: " + text))
        cls.context.add_init_script(CSP_LISTENER)
        cls.page = cls.watch(cls.context.new_page())

    def assert_pause(self, pause: str):
        self.assertEqual(self.page.locator("section.step-pause").get_attribute("data-pause"),
                         pause)

    def send(self):
        self.page.get_by_role("button", name="Send this request").click()

    def test_step_through_a_whole_login_break_the_verifier_restore_and_finish(self):
        page, app = self.page, self.running.app_url
        page.goto(app + "/")
        page.get_by_role("link", name="Step through it yourself").click()
        self.assert_pause("authorize")                        # pause 1: before the redirect
        self.assertIn("code_challenge", page.locator("pre[data-request]").text_content())
        self.send()
        page.get_by_role("button", name=re.compile("Continue with Google")).click()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(app + "/step")
        self.assert_pause("token")                            # pause 2: before Step 7
        page.locator("tr:has(#f-code_verifier) summary").click()
        page.locator("#f-code_verifier").fill("A" * 43)       # not this login's verifier
        self.send()
        answer = page.locator("#answer")
        self.assertEqual(answer.get_attribute("data-error"), "invalid_grant")
        self.assertEqual(page.locator(".forensic").get_attribute("data-forensic"),
                         "pkce.mismatch")
        self.assertIn("SHA-256", page.locator(".forensic").text_content())
        page.set_viewport_size(NARROW)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "step-refused-360.png"), full_page=True)
        page.set_viewport_size(WIDE)
        page.get_by_role("link", name="Restore the original values").click()
        self.send()
        self.assert_pause("api")                              # pause 3: before Step 10
        self.assertEqual(page.locator("#answer").get_attribute("data-status"), "200")
        self.send()
        self.assert_pause("done")
        self.assertEqual(page.locator("#answer").get_attribute("data-status"), "200")
        self.assertEqual(self.problems, [], "console errors or CSP violations on the pages")


if __name__ == "__main__":
    unittest.main()
