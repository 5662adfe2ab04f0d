"""The teaching pages in a real browser: Playwright driving Debian's Chromium.

Clicks through a login at the embedded server, checks that the walkthrough shows the
challenge the console narrated, runs every attack card, walks the diagram with the
keyboard, and saves screenshots at 1280 px and 360 px wide into artifacts/screenshots/
(git-ignored). Every page must load without a console error, a script error or a CSP
violation. Needs ``playwright`` (pip) and ``/usr/bin/chromium`` (apt); never
``playwright install``. Skips without them locally; under CI=true a missing one fails.
"""
from __future__ import annotations

import os
import re
import unittest
from pathlib import Path

from oauthdemo.teaching import attacks

from .demo_fixtures import start_test_demo
from .interop_support import require_or_skip
from .test_walkthrough import console_flows

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:   # the test-only dependency is absent: the tests skip (or fail in CI)
    expect = sync_playwright = None

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
WIDE, NARROW = {"width": 1280, "height": 900}, {"width": 360, "height": 780}
TIMEOUT_MS = 15000
EXPECTED_ERRORS = {"a": "invalid_request", "b": "invalid_grant", "c": "invalid_grant",
                   "d": "invalid_state", "e": "invalid_grant", "f": "invalid_request",
                   "g": "invalid_token", "h": "invalid_token", "i": "invalid_token",
                   "j": "invalid_token", "k": "invalid_token",
                   "l": "tampered parameters ignored", "m": "access_denied",
                   "n": "invalid_issuer"}
# CSP violations are DOM events, not console messages: report each one to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.reportCspViolation(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                            " in " + e.sourceFile + ":" + e.lineNumber);
});
"""


class OneBrowser:
    """A mixin for a test class: the demo and one Chromium for the whole class. The class's
    ``set_up_pages`` opens what its tests share; any failure there closes everything."""

    @classmethod
    def setUpClass(cls):
        require_or_skip(sync_playwright is not None, "playwright is not installed")
        require_or_skip(os.path.exists(CHROMIUM), f"{CHROMIUM} is not installed")
        cls.running, cls.console = start_test_demo()
        cls.playwright = sync_playwright().start()
        try:
            cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                         args=CHROMIUM_ARGS)
            cls.set_up_pages()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for closing in ("browser", "playwright"):
            thing = getattr(cls, closing, None)
            if thing is not None:
                thing.close() if closing == "browser" else thing.stop()
        cls.running.stop()


class BrowserUITest(OneBrowser, unittest.TestCase):
    """One browser, one logged-in user, the pages checked one behaviour per test."""

    @classmethod
    def set_up_pages(cls):
        cls.problems = []
        cls.context = cls.browser.new_context(viewport=WIDE)
        cls.context.set_default_timeout(TIMEOUT_MS)
        cls.context.expose_function("reportCspViolation",
                                    lambda text: cls.problems.append("CSP: " + text))
        cls.context.add_init_script(CSP_LISTENER)
        cls.page = cls.watch(cls.context.new_page())
        cls.log_in_by_clicking()

    @classmethod
    def watch(cls, page):
        page.on("console", lambda msg: msg.type in ("error", "warning") and
                cls.problems.append(f"console {msg.type}: {msg.text}"))
        page.on("pageerror", lambda err: cls.problems.append(f"script error: {err}"))
        return page

    @classmethod
    def log_in_by_clicking(cls):
        page = cls.page
        page.goto(cls.running.app_url + "/")
        page.get_by_role("link", name="Start OAuth Login (PKCE)").click()
        page.get_by_role("button", name=re.compile("Continue with Google")).click()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(cls.running.app_url + "/")
        assert "Welcome, Alice Example" in page.content()

    def setUp(self):
        self.problems.clear()

    def tearDown(self):
        self.assertEqual(self.problems, [], "console errors or CSP violations on the page")

    # -- the walkthrough -------------------------------------------------------------------
    def open_walkthrough(self, page=None):
        page = page or self.page
        page.goto(self.running.app_url + "/walkthrough")
        return page

    def test_walkthrough_shows_the_challenge_the_console_logged(self):
        page = self.open_walkthrough()
        flow = page.locator("#flow-tag").text_content()
        verifier, challenge = console_flows(self.console.getvalue())[flow]
        self.assertEqual(page.locator("#pkce-challenge").text_content(), challenge)
        self.assertTrue(page.locator("#pkce-challenge").is_visible())   # Step 2 opens first
        self.assertEqual(page.locator("#pkce-verifier").text_content(), verifier)
        self.assertEqual(page.locator(".seq-row.reached:not(.fetch):not([data-device-step])").count(), 10)

    def test_log_out_by_clicking_in_a_second_browser(self):
        """A real browser's form POST (Origin: null under no-referrer) must log out, and land
        back home after the provider's logout page; the first browser stays logged in."""
        context = self.browser.new_context(viewport=WIDE)
        self.addCleanup(context.close)
        page = self.watch(context.new_page())
        page.goto(self.running.app_url + "/")
        page.get_by_role("link", name="Start OAuth Login (PKCE)").click()
        page.get_by_role("button", name=re.compile("Continue with GitHub")).click()
        page.get_by_role("button", name="Allow").click()
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(self.running.app_url + "/")
        self.assertIn("Start OAuth Login (PKCE)", page.content())
        self.page.goto(self.running.app_url + "/")
        self.assertIn("Welcome, Alice Example", self.page.content())

    def test_keyboard_walks_the_diagram_in_order(self):
        page = self.open_walkthrough()
        for _ in range(20):                       # from the top of the page to arrow 1
            page.keyboard.press("Tab")
            if self.focused_id(page) == "arrow-1":
                break
        # Every arrow in the page's order, the fetches (discovery, JWKS) among them (item 4)
        arrows = page.locator(".seq .step-link").evaluate_all("els => els.map(e => e.id)")
        self.assertIn("arrow-discovery", arrows)
        self.assertIn("arrow-jwks", arrows)
        at = arrows.index("arrow-1")
        self.assertEqual(self.focused_id(page), "arrow-1")
        for arrow in arrows[at + 1:]:
            page.keyboard.press("Tab")
            self.assertEqual(self.focused_id(page), arrow)
        for _ in range(len(arrows) - 1 - arrows.index("arrow-8")):
            page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")              # arrow 8: the server's PKCE check
        self.assert_only_open(page, 8)
        self.assertEqual(page.locator("#arrow-8").get_attribute("aria-expanded"), "true")
        self.assertEqual(self.focused_id(page), "arrow-8")   # focus stays in the diagram
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Space")              # arrow 7, opened with Space like a button
        self.assert_only_open(page, 7)
        self.assertIn("THE SECRET", page.locator("#step-7").text_content())

    def test_keyboard_only_at_phone_width_moves_focus_to_the_details_and_back(self):
        """At 360 px the details are far below the diagram: Enter on an arrow moves focus to
        them, visibly, and their "Back to the diagram" link returns it to the arrow."""
        page = self.page
        page.set_viewport_size(NARROW)
        self.addCleanup(page.set_viewport_size, WIDE)
        self.open_walkthrough()
        self.tab_to(page, "arrow-5")
        page.keyboard.press("Enter")
        self.assert_only_open(page, 5)
        self.assertEqual(self.focused_id(page), "step-5")
        self.assert_focus_visible_and_in_view(page)
        page.keyboard.press("Tab")                # the panel's first stop: the way back
        self.assertEqual(page.evaluate("document.activeElement.className"), "back-to-diagram")
        page.keyboard.press("Enter")
        self.assertEqual(self.focused_id(page), "arrow-5")
        self.assert_focus_visible_and_in_view(page)
        page.keyboard.press("Tab")
        page.keyboard.press("Space")              # arrow 6, with Space like a button
        self.assertEqual(self.focused_id(page), "step-6")

    def tab_to(self, page, ident: str):
        for _ in range(30):
            page.keyboard.press("Tab")
            if self.focused_id(page) == ident:
                return
        self.fail(f"Tab never reached #{ident}")

    def assert_focus_visible_and_in_view(self, page):
        shown = page.evaluate("""() => {
          const el = document.activeElement, box = el.getBoundingClientRect();
          return [el.matches(":focus-visible"), getComputedStyle(el).outlineStyle,
                  box.bottom > 0 && box.top < innerHeight];
        }""")
        self.assertEqual(shown[0], True, "the focused element does not match :focus-visible")
        self.assertNotEqual(shown[1], "none", "the focused element has no outline")
        self.assertTrue(shown[2], "the focused element is off screen")

    def test_pager_moves_between_steps(self):
        page = self.open_walkthrough()
        page.locator("#step-2 .step-nav", has_text="Step 3").click()
        self.assert_only_open(page, 3)
        self.assertTrue(page.url.endswith("#step-3"))
        self.assertEqual(self.focused_id(page), "step-3")
        self.assert_focus_visible_and_in_view(page)   # a mouse click, but script moved focus

    # -- copy buttons ------------------------------------------------------------------------------
    def test_copy_buttons_copy_and_say_copied(self):
        self.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                       origin=self.running.app_url)
        self.addCleanup(self.context.clear_permissions)
        page = self.open_walkthrough()
        page.locator("#pkce-verifier + .copy-button").click()
        verifier = page.locator("#pkce-verifier").text_content()
        self.assertEqual(page.evaluate("navigator.clipboard.readText()"), verifier)
        expect(page.locator("#copy-status[role=status]")).to_have_text("Copied")
        page.locator("#arrow-3").click()          # the authorize URL, copied as one URL
        page.locator("#step-3 pre.url + .copy-button").click()
        url = page.evaluate("navigator.clipboard.readText()")
        self.assertRegex(url, r"^http://(127\.0\.0\.1|localhost):\d+/authorize\?response_type=code&\S+$")
        self.assertIn("code_challenge=" + page.locator("#pkce-challenge").text_content(), url)

    def test_every_token_url_and_the_curl_command_has_a_copy_button(self):
        page = self.open_walkthrough()
        for target in ("#pkce-verifier", "#pkce-challenge", "#step-3 pre.url",
                       "#step-9 details.reveal"):
            self.assertEqual(page.locator(target + " + button.copy-button").count(),
                             page.locator(target).count(), target)
        box = page.locator("#step-9 details.reveal > code").first   # a revealed token scrolls
        self.assertEqual(box.get_attribute("tabindex"), "0")
        self.assertRegex(box.get_attribute("aria-label"), r"_token \(Step 9\), the whole value")
        page.goto(self.running.app_url + "/")
        page.get_by_text("Show the access token and a curl command").click()
        curl = page.locator("details > pre + button.copy-button")
        self.assertEqual(curl.get_attribute("aria-label"), "Copy the curl command")

    def test_a_revealed_token_is_a_small_scrolling_box_at_phone_width(self):
        page = self.page
        page.set_viewport_size(NARROW)
        self.addCleanup(page.set_viewport_size, WIDE)
        page.goto(self.running.app_url + "/walkthrough#step-9")
        page.locator("#step-9 details.reveal summary").first.click()
        box = page.locator("#step-9 details.reveal > code").first
        height, scrolls = box.evaluate("b => [b.getBoundingClientRect().height, "
                                       "b.scrollHeight > b.clientHeight]")
        self.assertLess(height, 200)
        self.assertTrue(scrolls)

    def test_walkthrough_before_login_is_grey(self):
        context = self.browser.new_context(viewport=NARROW)
        try:
            page = self.watch(context.new_page())
            self.open_walkthrough(page)
            self.assertEqual(page.locator(".seq-row.pending:not(.fetch)").count(), 10)
            self.assertIn("No login yet", page.locator("h1").text_content())
            page.locator("#arrow-5").click()
            self.assertIn("Not reached yet", page.locator("#step-5").text_content())
        finally:
            context.close()

    # -- the attack lab ------------------------------------------------------------------------
    def test_every_attack_card_shows_its_rejection(self):
        self.assertEqual(set(EXPECTED_ERRORS), set(attacks.ATTACKS))
        page = self.page
        page.goto(self.running.app_url + "/attacks")
        for letter, error in EXPECTED_ERRORS.items():
            page.get_by_role("button", name=f"Run attack ({letter})").click()
            verdict = page.locator(f"#result-{letter} .verdict.rejected")
            verdict.wait_for()
            self.assertIn(error, verdict.text_content(), letter)
        self.assertIn("revoked", page.locator("#result-c").text_content())
        n = len(EXPECTED_ERRORS)
        self.assertIn(f"{n} of {n} run · {n} stopped", page.locator("#scoreboard").text_content())
        self.assertEqual(page.locator(".verdict.accepted").count(), 0)

    def test_the_csp_listener_reports_violations(self):
        """The tearDown check is only worth something if a violation would be seen."""
        page = self.open_walkthrough()
        page.evaluate("document.body.setAttribute('style', 'color: red')")
        page.wait_for_function("document.body.getAttribute('style') !== null")
        page.evaluate("() => new Promise(r => setTimeout(r, 100))")
        self.assertTrue(any(p.startswith("CSP: style-src") for p in self.problems), self.problems)
        self.problems.clear()

    # -- screenshots --------------------------------------------------------------------------
    def test_screenshots_wide_and_narrow(self):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page = self.page
        page.goto(self.running.app_url + "/attacks")
        page.get_by_role("button", name=re.compile(r"^Run all \w+ attacks$")).click()
        page.locator("#result-h .verdict.rejected").wait_for()
        for size, label in ((WIDE, "1280"), (NARROW, "360")):
            page.set_viewport_size(size)
            for name, path in (("walkthrough", "/walkthrough"), ("attack-lab", "/attacks")):
                page.goto(self.running.app_url + path)
                self.assertLessEqual(page.evaluate("document.documentElement.scrollWidth"),
                                     size["width"], f"{name} scrolls sideways at {label} px")
                target = SCREENSHOTS / f"{name}-{label}.png"
                page.screenshot(path=str(target), full_page=True)
                self.assertGreater(target.stat().st_size, 10000)
        page.set_viewport_size(WIDE)

    # -- helpers --------------------------------------------------------------------------------
    @staticmethod
    def focused_id(page) -> str:
        return page.evaluate("document.activeElement && document.activeElement.id")

    def assert_only_open(self, page, step: int):
        visible = [n for n in range(1, 11) if page.locator(f"#step-{n}").is_visible()]
        self.assertEqual(visible, [step])


if __name__ == "__main__":
    unittest.main()
