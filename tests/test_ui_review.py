"""A UI review of the new pages (step-through, mistakes, HTTP log, device login): its
findings, each a named test on data attributes and the one tables of words.

One demo for the class (real sockets, the real embedded server, a scripted browser; the
clock injected); one step-through login walked to its end in setUpClass.
"""
from __future__ import annotations

import dataclasses
import io
import re
import unittest
import urllib.parse

from complete_oauth_demo import APP, BROWSER_COOKIE
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.native import device_login
from oauthdemo.native.loopback import Countdown
from oauthdemo.server.device_pages import DONE_NEXT
from oauthdemo.teaching import httplogpage
from oauthdemo.teaching.mistakes import result_html

from .demo_fixtures import Clock, log_in, start_test_demo

PAUSE = re.compile(r'data-pause="([^"]*)"')


class UIReviewTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.clock = Clock()
        cls.running, cls.console = start_test_demo(clock=cls.clock)
        cls.addClassCleanup(cls.running.stop)
        cls.url = cls.running.app_url
        cls.browser = log_in(cls.running)
        cls.profile = cls.browser.get(cls.url + "/").text
        cls.walk = cls.browser.get(cls.url + "/walkthrough").text
        cls.stepper = ScriptedBrowser()
        cls.pages = cls.step_through(cls.stepper)

    @classmethod
    def step_through(cls, browser: ScriptedBrowser) -> dict:
        """A step-through login sent as built at every pause: {pause: its page's HTML}."""
        pages = {}
        browser.get(cls.url + "/login?mode=step")
        page = browser.get(cls.url + "/step")
        pages["authorize"] = page.text
        callback = browser.login_at_provider(browser.submit(page).location, "alice")
        browser.get(callback)
        for pause in ("token", "api"):
            page = browser.get(cls.url + "/step")
            pages[pause] = page.text
            browser.submit(page)
        pages["done"] = browser.get(cls.url + "/step").text
        return pages

    # 1. Room below the baseline: a base64url "_" is not cut off at 1x.
    def test_finding1_step_inputs_have_room_below_the_baseline(self):
        css = self.browser.get(self.url + "/static/app.css").text
        rules = re.findall(r"\.step-input \{([^}]*)\}", css)
        line_height = [float(m) for r in rules for m in re.findall(r"line-height: ([\d.]+)", r)]
        self.assertTrue(line_height and line_height[-1] >= 1.4, rules)

    # 2. Finished: no empty "request about to be sent" card; the API call is offered.
    def test_finding2_done_page_has_no_empty_request_card_and_links_the_api(self):
        done = self.pages["done"]
        self.assertEqual(PAUSE.findall(done)[:1], ["done"])
        self.assertNotIn("step-request", done)
        self.assertNotIn("data-request", done)
        self.assertRegex(done, r'data-done="api"><a [^>]*href="/api/protected/view"')
        for pause in ("authorize", "token", "api"):     # the pauses keep their card
            self.assertIn(f'data-request="{pause}"', self.pages[pause])

    # 3. Logged in, the step-through is one click away from the profile.
    def test_finding3_profile_offers_the_step_through(self):
        self.assertRegex(self.profile, r'href="/login\?mode=step" data-start="step"')
        nav = re.search(r'<nav class="topnav".*?</nav>', self.profile).group(0)
        self.assertIn(nav.replace(' aria-current="page"', ""),
                      self.pages["authorize"])             # the navs still match
        start = ScriptedBrowser()
        log_in(self.running, browser=start)
        self.assertEqual(start.get(self.url + "/login?mode=step").location, self.url + "/step")

    # 4. The countdown says whose deadline it counts: --timeout, or the code's expires_in.
    def test_finding4_device_countdown_names_timeout_and_expires_in(self):
        grant = device_login.DeviceAuthorization("d", "BCDF-GHJK", "u", "", 600, 5)
        class Terminal(io.StringIO):
            def isatty(self):
                return True
        for timeout, expected in ((120, "(of --timeout 120 s; code lives 600 s)"),
                                  (900, "(of the code's 600 s; --timeout 900 s)")):
            term = Terminal()
            words = device_login.deadline_words(device_login.DeviceOptions(timeout=timeout), grant)
            Countdown(term, "waiting for your approval", words).show(118)
            self.assertIn("1:58 left " + expected, term.getvalue())
            self.assertLessEqual(len(term.getvalue().strip("\r").split("\033")[0]), 80)

    # 5. One block per parameter, a hanging indent: a long value breaks inside itself.
    def test_finding5_request_previews_are_one_block_per_parameter(self):
        preview = re.search(r'<pre [^>]*data-request="authorize">(.*?)</pre>',
                            self.pages["authorize"], re.S).group(1)
        names = re.findall(r'<span class="req-param" data-param="([^"]+)">', preview)
        self.assertIn("code_challenge", names)
        self.assertEqual(len(names), len(set(names)))
        self.assertNotRegex(preview, r"\n  ")                 # no leading spaces to drop
        step3 = self.walk[self.walk.index('id="step-3"'):self.walk.index('id="step-4"')]
        self.assertIn('class="wrap request url"', step3)
        self.assertGreaterEqual(step3.count('class="req-param"'), 6)

    # 6. /activate's code field: styled, monospace (CSS), autofocus, no autocomplete.
    def test_finding6_activate_code_field_is_styled_and_focused(self):
        page = ScriptedBrowser().get(self.running.auth.issuer.rstrip("/") + "/activate").text
        field = re.search(r'<input id="user_code"[^>]*>', page).group(0)
        for attribute in ('class="device-code"', 'autocomplete="off"', "autofocus"):
            self.assertIn(attribute, field)
        css = self.browser.get(self.url + "/static/app.css").text
        rule = re.search(r"input\.device-code \{([^}]*)\}", css).group(1)
        self.assertIn("text-transform: uppercase", rule)

    # 7. A refusal by redirect (303) has no body: the error is said to be in its query.
    def test_finding7_a_303_refusal_says_the_error_is_in_the_redirect_query(self):
        gallery = self.running.app.mistakes
        redirected = str(result_html(gallery.run("hex", "ui-review-browser")))
        self.assertIn('data-status="303" data-answer-in="query"', redirected)
        posted = str(result_html(gallery.run("slash", "ui-review-browser")))
        self.assertRegex(posted, r'data-status="4\d\d" data-answer-in="body"')

    # 8. The browser's GET /authorize is filed under Step 3 (as drawn); page assets fold.
    def test_finding8_authorize_hop_is_step3_and_page_assets_fold(self):
        cookie = next(c.value for c in self.browser.jar if c.name == BROWSER_COOKIE)
        login = self.running.app.http_log.latest(cookie)
        steps = {urllib.parse.urlsplit(e.url).path: step.number
                 for step, hops in httplogpage.grouped(login, APP) for e in hops}
        self.assertEqual(steps["/authorize"], 3)
        section = self.walk[self.walk.index('id="http-step-3"'):]
        self.assertIn('data-hop-note="/authorize"', section[:section.index('class="http-step"')])
        authorize = next(e for e in login.entries if e.url.split("?")[0].endswith("/authorize"))
        origin = authorize.url.split("/authorize")[0]
        assets = [dataclasses.replace(authorize, method="GET", url=f"{origin}/static/{name}")
                  for name in ("app.css", "app.js")]
        at = login.entries.index(authorize) + 1
        padded = dataclasses.replace(login, entries=login.entries[:at] + assets
                                     + login.entries[at:])
        html = str(httplogpage.http_log_section(padded, APP))
        self.assertEqual(html.count('data-assets="2"'), 1)
        self.assertEqual(html.count("/static/app.css"), 1)   # inside the folded line only

    # 9. An edited field can be marked "(edited)", beside it and on the preview's line.
    def test_finding9_fields_and_preview_lines_can_be_marked_edited(self):
        page = self.pages["token"]
        for name in ("code", "code_verifier", "redirect_uri"):
            self.assertRegex(page, rf'id="e-{name}" data-edited-mark="{name}" hidden')
            self.assertIn(f'data-param="{name}"', page)

    # 10. Restoring lands on the form; a mistake's result card is where focus arrives.
    def test_finding10_restore_and_mistake_results_are_arrival_targets(self):
        page = self.pages["token"]
        self.assertIn('href="/step?original=1#step-form"', page)
        self.assertRegex(page, r'<form [^>]*id="step-form" tabindex="-1" data-arrive')
        mistakes = self.browser.get(self.url + "/mistakes").text
        self.assertRegex(mistakes, r'id="mistake-result-slash" tabindex="-1" data-arrive')

    # 11. Small words: the device done page, the profile's durations.
    def test_finding11_device_done_page_says_what_happens_next(self):
        base = self.running.auth.issuer.rstrip("/")
        for decision, result in (("allow", "approved"), ("deny", "denied")):
            page = ScriptedBrowser().get(f"{base}/activate/done?decision={decision}").text
            self.assertIn(f'data-result="{result}"', page)
            self.assertIn(DONE_NEXT[result].split(":")[0], page)
            self.assertNotIn('href="/walkthrough', page)

    def test_finding11_profile_durations_do_not_wrap_inside(self):
        self.assertNotRegex(self.profile, r"\d (s|min|h|d) (ago|after|before)")
        self.assertRegex(self.profile, "\\d\u00a0(s|min|h|d)\\b")


if __name__ == "__main__":
    unittest.main()
