"""Issue 12 item 6: two logins started in two tabs of one browser both complete (state is
per login, not per browser); a stale tab's replayed callback is refused and explained."""
from __future__ import annotations

import unittest

from oauthdemo.client.useragent import ScriptedBrowser

from .test_forensics import shared_demo


class TwoTabs(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console, _ = shared_demo()
        cls.url = cls.running.app_url

    def start_tab(self, browser: ScriptedBrowser) -> str:
        """GET /login in a new tab: the authorize URL (the tab waits at the provider)."""
        start = browser.get(self.url + "/login")
        self.assertEqual(start.status, 302)
        return start.location

    def test_two_tabs_both_complete_in_either_order(self):
        browser = ScriptedBrowser()           # one cookie jar: one browser, two tabs
        tab_a, tab_b = self.start_tab(browser), self.start_tab(browser)
        callback_a = browser.login_at_provider(tab_a)
        callback_b = browser.login_at_provider(tab_b)
        # Tab B finishes first, then tab A, which started earlier: both logins complete.
        for callback in (callback_b, callback_a):
            done = browser.get(callback)
            self.assertEqual((done.status, done.location), (303, self.url + "/"))

    def test_stale_tab_is_refused_and_explained(self):
        browser = ScriptedBrowser()
        tab_a, tab_b = self.start_tab(browser), self.start_tab(browser)
        callback_a = browser.login_at_provider(tab_a)
        self.assertEqual(browser.get(callback_a).status, 303)
        self.assertEqual(browser.get(browser.login_at_provider(tab_b)).status, 303)
        stale = browser.get(callback_a)       # tab A reloaded after tab B's login: stale
        self.assertEqual(stale.status, 400)
        self.assertIn('data-error="invalid_state"', stale.text)
        self.assertIn('data-rule="state.stale_tab"', stale.text)
        self.assertIn("forensics (state.stale_tab)", self.console.getvalue())


if __name__ == "__main__":
    unittest.main()
