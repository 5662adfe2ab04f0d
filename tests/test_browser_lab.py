"""Issue 12 in a real browser: the mistakes gallery and the HAR download, by clicking.

Playwright driving Debian's Chromium at 360 px (a phone): one click on a mistake posts
the page and lands on its card, which shows the server's answer and the forensic rule
(``data-rule``); the walkthrough's "Download as HAR" button saves this browser's latest
login as HAR 1.2 with the token request's code_verifier masked. No console error, script
error or CSP violation on the way. Skips without playwright or /usr/bin/chromium locally;
under CI=true a missing one fails.
"""
from __future__ import annotations

import json
import unittest
import urllib.parse
from pathlib import Path

from . import test_browser_ui as ui   # the module, so that its test classes do not run here
from .test_browser_a11y import log_in
from .test_browser_ui import CSP_LISTENER, NARROW, TIMEOUT_MS, OneBrowser


class BrowserLabTest(OneBrowser, unittest.TestCase):
    """One phone-sized browser for the class, logged in once (the HAR needs a login)."""

    watch = ui.BrowserUITest.__dict__["watch"]   # the same watcher: console and script errors

    @classmethod
    def set_up_pages(cls):
        cls.problems = []
        cls.context = cls.browser.new_context(viewport=NARROW, accept_downloads=True)
        cls.context.set_default_timeout(TIMEOUT_MS)
        cls.context.expose_function("reportCspViolation",
                                    lambda text: cls.problems.append("CSP: " + text))
        cls.context.add_init_script(CSP_LISTENER)
        cls.page = cls.watch(cls.context.new_page())
        log_in(cls.page, cls.running.app_url)

    def test_issue12_one_click_on_a_mistake_shows_its_result_card(self):
        page = self.page
        page.goto(self.running.app_url + "/mistakes")
        page.locator("form[data-mistake=slash] button").click()
        page.wait_for_url("**/mistakes#mistake-slash")
        card = page.locator("#mistake-slash")
        self.assertEqual(card.locator(".forensic").get_attribute("data-rule"),
                         "redirect_uri.trailing_slash")
        self.assertEqual(card.locator("[data-error]").first.get_attribute("data-error"),
                         "invalid_grant")
        self.assertEqual(page.locator("#mistake-hex [data-rule]").count(), 0)   # only that one
        # The UI review's finding 10: focus lands on the result, as in the attack lab.
        page.locator("#mistake-result-slash:focus").wait_for()
        self.assertEqual(self.problems, [], "console errors or CSP violations")

    def test_ui_review_step_pause_at_360px_fields_preview_edits_and_restore(self):
        """Findings 1, 5, 9, 10 at the first pause, in a fresh context (this class's login
        stays the latest for the HAR test): room below the baseline, a preview that does not
        scroll sideways, an edit marked "(edited)", and Restore landing on the form."""
        context = self.browser.new_context(viewport=NARROW)
        self.addCleanup(context.close)
        page = self.watch(context.new_page())
        page.goto(self.running.app_url + "/login?mode=step")
        field = page.locator("#f-state")
        style = field.evaluate("e => [parseFloat(getComputedStyle(e).lineHeight), "
                               "parseFloat(getComputedStyle(e).fontSize)]")
        self.assertGreaterEqual(style[0], 1.4 * style[1])                       # finding 1
        self.assertTrue(page.locator("pre[data-request]").evaluate(
            "e => e.scrollWidth <= e.clientWidth + 1"))                         # finding 5
        field.fill("edited-by-the-learner")
        self.assertTrue(page.locator("#e-state").is_visible())                  # finding 9
        self.assertIsNotNone(page.locator('pre[data-request] [data-param="state"]')
                             .get_attribute("data-edited"))
        field.fill(field.evaluate("e => e.defaultValue"))
        self.assertFalse(page.locator("#e-state").is_visible())
        page.get_by_role("link", name="Restore the original values").click()
        page.wait_for_url("**/step?original=1#step-form")
        page.locator("#step-form:focus").wait_for()                             # finding 10
        self.assertEqual(self.problems, [], "console errors or CSP violations")

    def test_issue12_download_the_har_from_the_walkthrough_at_360px(self):
        page = self.page
        page.goto(self.running.app_url + "/walkthrough")
        with page.expect_download() as info:
            page.get_by_role("link", name="Download as HAR", exact=True).click()
        download = info.value
        self.assertTrue(download.suggested_filename.endswith(".har"), download.suggested_filename)
        har = json.loads(Path(download.path()).read_text(encoding="utf-8"))
        self.assertEqual(har["log"]["version"], "1.2")
        token = next(e for e in har["log"]["entries"]
                     if e["request"]["url"].endswith("/oauth/token"))
        sent = urllib.parse.parse_qs(token["request"]["postData"]["text"])
        self.assertIn("code_verifier", sent)
        verifier = self.running.app.flows.latest(self.browser_id()).verifier
        self.assertNotIn(verifier, json.dumps(har))               # masked by default
        self.assertEqual(self.problems, [], "console errors or CSP violations")

    def browser_id(self) -> str:
        return next(c["value"] for c in self.context.cookies() if c["name"] == "demo_browser")


if __name__ == "__main__":
    unittest.main()
