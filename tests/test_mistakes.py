"""Issue 12 item 5: the mistakes gallery. Each mistake runs live against the embedded server
(port 0, real endpoints, the app's real checks) and is explained by its forensic rule."""
from __future__ import annotations

import unittest

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.teaching.mistakes import MISTAKES

from .test_forensics import shared_demo


class MistakesGalleryTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console, _ = shared_demo()
        cls.gallery = cls.running.app.mistakes

    def run_mistake(self, key: str, error: str) -> dict:
        result = self.gallery.run(key, "test-browser")
        self.assertTrue(result["ran"], result)
        self.assertEqual(result["body"].get("error"), error)
        self.assertEqual(result["diagnosis"].rule, MISTAKES[key].rule)
        return result

    def test_mistake_hex_digest(self):
        self.run_mistake("hex", "invalid_request")

    def test_mistake_standard_base64(self):
        self.run_mistake("base64", "invalid_request")

    def test_mistake_challenge_as_verifier(self):
        self.run_mistake("challenge", "invalid_grant")

    def test_mistake_verifier_from_another_login(self):
        self.run_mistake("other", "invalid_grant")

    def test_mistake_redirect_uri_localhost_vs_127(self):
        self.run_mistake("host", "invalid_grant")

    def test_mistake_redirect_uri_trailing_slash(self):
        self.run_mistake("slash", "invalid_grant")

    def test_mistake_code_redeemed_twice(self):
        self.run_mistake("twice", "invalid_grant")

    def test_mistake_stale_tab(self):
        self.run_mistake("stale", "invalid_state")

    def test_mistake_clock_an_hour_behind(self):
        self.run_mistake("clock", "invalid_token")

    def test_one_click_on_the_page_runs_it_and_shows_the_explanation(self):
        browser = ScriptedBrowser()
        page = browser.get(self.running.app_url + "/mistakes")
        self.assertEqual(page.status, 200)
        self.assertIn('href="/mistakes" aria-current="page"', page.text)
        index = next(i for i, f in enumerate(page.forms()) if f["fields"].get("mistake") == "slash")
        done = browser.request(
            self.running.app_url + "/mistakes/run", data=page.forms()[index]["fields"],
            headers={"Origin": self.running.app_url})
        self.assertEqual(done.status, 303)
        shown = browser.get(self.running.app_url + "/mistakes").text
        self.assertIn('data-rule="redirect_uri.trailing_slash"', shown)
        self.assertIn('data-error="invalid_grant"', shown)

    def test_a_post_without_the_form_token_is_refused(self):
        answer = ScriptedBrowser().request(self.running.app_url + "/mistakes/run",
                                           data={"mistake": "hex"},
                                           headers={"Origin": self.running.app_url})
        self.assertEqual(answer.status, 403)

    def test_console_tells_it_as_your_app(self):
        mark = len(self.console.getvalue())   # the shared demo: only what this run told
        self.gallery.run("challenge", "console-browser")
        text = self.console.getvalue()[mark:]
        self.assertIn("your app │ forensics (pkce.challenge_as_verifier)", text)
        self.assertNotIn("attacker │ set-up", text)


if __name__ == "__main__":
    unittest.main()
