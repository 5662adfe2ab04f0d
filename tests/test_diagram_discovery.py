"""The walkthrough draws discovery and the JWKS fetch as arrows of their own (issue 11, item 4).

OpenID Connect Discovery §4 and RFC 7517: the app reads the provider's discovery document at
start-up ("Before the login") and fetches its public keys (the JWKS) when it first checks a
signature. Each is an arrow between the app and the authorization server, back channel,
a link to the URL really fetched, drawn where the fetch really happened: the JWKS inside
the Step 9 of the login that fetched it, before the login for one that found it cached.
"""
from __future__ import annotations

import re
import unittest

from oauthdemo.client.oidc import discovery_url
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import log_in, start_test_demo
from .test_browser_ui import NARROW, OneBrowser

ROW = re.compile(r'<li class="seq-(?:row|group)([^"]*)"[^>]*>(?:<a class="step-link[^"]*" '
                 r'id="arrow-(\w+)"( href="[^"]*")?)?')


def rows(page: str) -> list:
    """The diagram's rows in order: "group", or (arrow id, status, href)."""
    found = []
    for classes, arrow, href in ROW.findall(page):
        if not arrow:
            found.append("group")
            continue
        status = next(s for s in ("reached", "pending", "failed") if s in classes.split())
        found.append((arrow, status, href[7:-1] if href else ""))
    return found


def order(page: str) -> list:
    return [r if r == "group" else r[0] for r in rows(page)]


class DiagramFetchesTest(unittest.TestCase):
    """One demo; the tests run in order (no login yet, then a first and a second login)."""

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()
        cls.client = cls.running.app.client

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def walkthrough(self, browser: ScriptedBrowser) -> str:
        page = browser.get(self.running.app_url + "/walkthrough")
        self.assertEqual(page.status, 200)
        return page.text

    def test_1_before_any_login_discovery_happened_and_the_jwks_waits_in_step_9(self):
        page = self.walkthrough(ScriptedBrowser())
        found = {r[0]: r for r in rows(page) if r != "group"}
        self.assertEqual(found["discovery"],
                         ("discovery", "reached", discovery_url(self.client.provider.issuer)))
        self.assertEqual(found["jwks"], ("jwks", "pending", self.client.metadata["jwks_uri"]))
        sequence = order(page)
        self.assertEqual(sequence[:2], ["group", "discovery"])          # "Before the login"
        self.assertEqual(sequence.index("jwks"), sequence.index("9") + 1)
        self.assertIn("Before the login", page)

    def test_2_the_jwks_fetch_is_drawn_where_it_really_happened(self):
        first = ScriptedBrowser()
        log_in(self.running, browser=first)       # this login's Step 9 fetches the keys
        sequence = order(self.walkthrough(first))
        self.assertEqual(sequence.index("jwks"), sequence.index("9") + 1)
        self.assertIn(("jwks", "reached", self.client.metadata["jwks_uri"]),
                      rows(self.walkthrough(first)))
        self.assertIn("fetched during this login", self.walkthrough(first))
        second = ScriptedBrowser()
        log_in(self.running, browser=second)      # the keys were cached: fetched before it
        page = self.walkthrough(second)
        self.assertEqual(order(page)[:3], ["group", "discovery", "jwks"])
        self.assertIn("fetched before this login", page)

    def test_3_fetch_arrows_are_links_on_the_back_channel_not_step_arrows(self):
        page = self.walkthrough(ScriptedBrowser())
        for key in ("discovery", "jwks"):
            row = re.search(rf'<li class="seq-row fetch[^>]*data-fetch="{key}">(.*?)</li>', page)
            self.assertIsNotNone(row, key)
            self.assertNotIn("data-step", row.group(1))      # a link to its URL, no panel
            # app → authorization server, and back: lanes 2 and 3 only, no browser
            self.assertEqual(re.findall(r'class="seg ([^"]+)"', row.group(1)),
                             ["x2 w1 ltr", "x2 w1 rtl"])
        self.assertEqual(len(re.findall(r'class="seq-row (?:reached|pending)', page)), 10)


# The contrast of an element's border against the first opaque background behind it (WCAG 2.x
# relative luminance); Chromium may compute colours as rgb() or color(srgb …).
CONTRAST = """sel => {
  const parse = c => {
    let m = /rgba?\\(([^)]+)\\)/.exec(c), scale = 255;
    if (!m) { m = /color\\(srgb ([^)]+)\\)/.exec(c); scale = 1; }
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0] / scale, p[1] / scale, p[2] / scale, p.length > 3 ? p[3] : 1];
  };
  const lum = c => c.slice(0, 3).map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4))
                     .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const el = document.querySelector(sel);
  const fg = parse(getComputedStyle(el).borderTopColor);
  let node = el.parentElement, bg = null;
  while (node && !bg) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c && c[3] > 0.99) bg = c;
    node = node.parentElement;
  }
  bg = bg || [1, 1, 1, 1];
  const a = lum(fg), b = lum(bg);
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


class FetchArrowsInABrowserTest(OneBrowser, unittest.TestCase):
    """Chromium at 360 px, light and dark, before any login: discovery happened, the JWKS
    fetch has not (a dashed, not-reached arrow)."""

    @classmethod
    def set_up_pages(cls):
        pass

    def test_fetch_arrows_are_keyboard_reachable_and_at_least_3_to_1(self):
        for scheme in ("light", "dark"):
            context = self.browser.new_context(viewport=NARROW, color_scheme=scheme)
            self.addCleanup(context.close)
            page = context.new_page()
            page.goto(self.running.app_url + "/walkthrough")
            reached = []
            for _ in range(40):
                page.keyboard.press("Tab")
                reached.append(page.evaluate("document.activeElement.id"))
                if reached[-1] == "arrow-jwks":
                    break
            self.assertIn("arrow-discovery", reached, scheme)
            self.assertEqual(reached[-1], "arrow-jwks", scheme)
            for arrow in ("#arrow-discovery", "#arrow-jwks"):
                ratio = page.evaluate(CONTRAST, arrow + " .seg")
                self.assertGreaterEqual(ratio, 3.0, f"{arrow} in {scheme}: {ratio:.2f}:1")


if __name__ == "__main__":
    unittest.main()
