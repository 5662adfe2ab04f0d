"""Issue 11, the pages (items 8, 12 and parts of 13): each behaviour as one named test.

The native apps' "close this window" page keeps its stylesheet after the login moved on;
one navigation on every app page; logging out ends on a page that says so; the
authorization server's forms are post/redirect/get; Step 10's answer has a page for a
browser while the API stays JSON; the consent page names the app by its display name;
the server's home links its endpoints; the not-reached arrows and long values are
readable. Asserted by ids, data attributes, status codes and content types, not prose.
"""
from __future__ import annotations

import json
import re
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import complete_oauth_demo
from oauthdemo.client.pending import AuthRequest, PendingLogins
from oauthdemo.core.errors import InvalidRequest
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.native.loopback import LoopbackServer, wait_for_callback

from .demo_fixtures import log_in, start_test_demo
from .support import error_code

CSS = Path(__file__).resolve().parent.parent / "templates" / "static" / "app.css"
NAV = re.compile(r'<nav [^>]*id="app-nav"[^>]*>.*?</nav>', re.S)


def setUpModule():
    global RUNNING
    RUNNING, _ = start_test_demo()


def tearDownModule():
    RUNNING.stop()


def fetch(url: str, headers: dict | None = None) -> tuple:
    """(status, content type, body) of one plain GET."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers["Content-Type"], err.read().decode("utf-8")


def nav_of(page: str) -> str:
    """The page's one app navigation, without the marker of the page it is on."""
    found = NAV.findall(page)
    assert len(found) == 1, f"{len(found)} app navigations"
    return found[0].replace(' aria-current="page"', "")


class LoopbackPageTest(unittest.TestCase):
    """Item 8: the page a browser gets from the CLI's one-shot server is styled."""

    def pending_login(self) -> tuple:
        pending, state = PendingLogins(), "s" * 43
        pending.add(AuthRequest(state=state, nonce="n", verifier="v", challenge="c",
                                redirect_uri="http://127.0.0.1:1/callback", issuer="i",
                                scope="openid", created=time.time()))
        return pending, state

    def test_loopback_done_page_stylesheet_is_served_after_the_login_moves_on(self):
        pending, state = self.pending_login()
        with LoopbackServer(0, pending, "CLI") as loop:
            base = f"http://127.0.0.1:{loop.port}"
            status, _, page = fetch(f"{base}/callback?state={state}&code=c",
                                    {"Accept": "text/html,application/xhtml+xml"})
            self.assertEqual(status, 200)
            self.assertIsNotNone(wait_for_callback(loop.catcher, 2, None))
        # The command has its code and carries on; the browser only now asks for the CSS.
        links = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page)
        self.assertEqual(links, ["/static/app.css"])
        status, ctype, css = fetch(base + links[0])
        self.assertEqual((status, ctype.split(";")[0]), (200, "text/css"))
        self.assertIn(".skip", css)                  # the rule that hides "Skip to content"
        self.assertEqual(fetch(base + "/static/app.js")[0], 200)

    def test_loopback_server_closes_at_once_without_a_browser_page(self):
        pending, state = self.pending_login()
        with LoopbackServer(0, pending, "CLI") as loop:
            base = f"http://127.0.0.1:{loop.port}"
            fetch(f"{base}/callback?state={state}&code=c")   # curl, a test: no page to style
        with self.assertRaises(OSError):
            fetch(base + "/static/app.css")


class NavigationTest(unittest.TestCase):
    """Item 12: one navigation, logout that says so, post/redirect/get, Step 10's page."""

    def page(self, browser: ScriptedBrowser, path: str) -> str:
        return browser.get(RUNNING.app_url + path).text

    def test_every_app_page_has_the_same_nav(self):
        guest, user = ScriptedBrowser(), log_in(RUNNING)
        pages = {"home": self.page(guest, "/"), "profile": self.page(user, "/"),
                 "walkthrough": self.page(user, "/walkthrough"),
                 "attacks": self.page(user, "/attacks"),
                 "not found": self.page(guest, "/no-such-page"),
                 "refused login": self.page(guest, "/callback?state=forged&code=x"),
                 "api page": self.page(user, "/api/protected/view"),
                 "log out": self.page(user, "/logout")}
        navs = {name: nav_of(page) for name, page in pages.items()}
        self.assertEqual(len(set(navs.values())), 1, navs)
        self.assertIn('href="/logout"', navs["home"])
        self.assertIn('aria-current="page"', NAV.search(pages["attacks"]).group(0))

    def test_error_pages_differ_for_a_404_a_forged_callback_and_a_generic_error(self):
        """Item 9: a 404, a refused callback and other errors each say what happened: their
        titles differ, and each carries its RFC code in data-error."""
        guest = ScriptedBrowser()
        pages = {"not_found": self.page(guest, "/no-such-page"),
                 "invalid_state": self.page(guest, "/callback?state=forged&code=x")}
        titles = {code: re.search(r"<title>(.*?)</title>", page, re.S).group(1)
                  for code, page in pages.items()}
        for code, page in pages.items():
            self.assertIn(f'data-error="{code}"', page)
        generic = complete_oauth_demo.app_error_page(
            InvalidRequest("x")).body.decode()
        titles["generic"] = re.search(r"<title>(.*?)</title>", generic, re.S).group(1)
        self.assertEqual(len(set(titles.values())), 3, titles)

    def test_logout_ends_on_the_apps_logged_out_page(self):
        browser = log_in(RUNNING)
        form_page = browser.get(RUNNING.app_url + "/logout")     # the navigation's Log out
        out = browser.submit(form_page)
        self.assertEqual(out.status, 303)
        self.assertIn("/v2/logout", out.location)                # the provider's logout first …
        final = browser.follow(out.location)                     # … which comes back to the app
        self.assertEqual(final.url, RUNNING.app_url + "/")
        self.assertRegex(final.text, r'id="logged-out"[^>]*data-session="ended"')
        self.assertNotIn('id="logged-out"', self.page(browser, "/"))   # said once

    def test_login_and_consent_posts_answer_303(self):
        browser = ScriptedBrowser()
        start = browser.get(RUNNING.app_url + "/login")
        login_page = browser.get(start.location)
        logged_in = browser.submit(login_page, 0)
        self.assertEqual(logged_in.status, 303)                  # not a page: Back cannot resend
        consent_url = urllib.parse.urljoin(login_page.url, logged_in.location)
        self.assertEqual(ScriptedBrowser().get(consent_url).status, 403)   # another browser
        consent = browser.get(consent_url)
        self.assertEqual(consent.status, 200)
        done = browser.submit(consent, 0, button=("decision", "allow"))
        self.assertEqual(done.status, 303)
        back = browser.get(consent_url)                          # Back after logging in
        self.assertEqual((back.status, error_code(back)), (400, "invalid_request"))

    def test_api_view_is_html_and_the_api_stays_json(self):
        browser = log_in(RUNNING)
        view = browser.get(RUNNING.app_url + "/api/protected/view")
        self.assertEqual(view.status, 200)
        self.assertTrue(view.headers["Content-Type"].startswith("text/html"))
        self.assertIn('data-api="answer"', view.text)
        self.assertIn("alice@example.com", view.text)
        api = browser.get(RUNNING.app_url + "/api/protected",
                          headers={"Accept": "text/html"})
        self.assertTrue(api.headers["Content-Type"].startswith("application/json"))
        self.assertEqual(json.loads(api.text)["user"]["email"], "alice@example.com")
        guest = ScriptedBrowser().get(RUNNING.app_url + "/api/protected/view")
        self.assertEqual((guest.status, error_code(guest)), (401, "invalid_token"))
        self.assertTrue(guest.headers["Content-Type"].startswith("text/html"))

    def test_api_view_escapes_every_field(self):
        evil = "<script>alert(1)</script>"
        page = complete_oauth_demo.api_view({"message": evil, "user": {"name": evil}})
        body = page.body.decode("utf-8")
        self.assertNotIn(evil, body)
        self.assertIn("&lt;script&gt;", body)
        self.assertIn("user.name", body)


class AuthServerPagesTest(unittest.TestCase):
    """Item 13: the consent page's name for the app; the server's home page."""

    def test_consent_page_shows_the_display_name(self):
        browser = ScriptedBrowser()
        login_page = browser.get(browser.get(RUNNING.app_url + "/login").location)
        logged_in = browser.submit(login_page, 0)
        consent = browser.get(urllib.parse.urljoin(login_page.url, logged_in.location))
        for page in (login_page, consent):
            name = re.search(r'<span class="client">([^<]*)</span>', page.text).group(1)
            self.assertEqual(name, "OAuth PKCE Demo")
            self.assertIn('class="as-narrow"', page.text)

    def test_home_links_its_endpoints_and_the_discovery_document(self):
        issuer = RUNNING.auth.issuer.rstrip("/")
        page = ScriptedBrowser().get(issuer + "/").text
        links = set(re.findall(r'<a href="([^"]+)">', page))
        self.assertIn(issuer + "/.well-known/openid-configuration", links)
        self.assertIn(issuer + "/.well-known/jwks.json", links)
        self.assertNotIn(issuer + "/oauth/token", links)   # POST only: shown, not linked


class StyleTest(unittest.TestCase):
    """Item 13: not-reached arrows at 3:1 (WCAG 1.4.11); values wrap at sensible points."""

    def colours(self, block: str) -> dict:
        return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", block))

    def test_pending_arrows_reach_3_to_1_against_the_page_and_the_card(self):
        css = CSS.read_text(encoding="utf-8")
        dark_at = css.index("prefers-color-scheme: dark")
        schemes = {"light": self.colours(css[:css.index("}")]),
                   "dark": self.colours(css[dark_at:css.index("}", dark_at)])}
        schemes["light"]["pending"] = re.search(
            r"^:root \{ --pending: (#[0-9a-f]{6})", css, re.M).group(1)
        schemes["dark"]["pending"] = re.search(
            r"dark\) \{ :root \{ --pending: (#[0-9a-f]{6})", css).group(1)
        for name, scheme in schemes.items():
            for surface in ("bg", "card"):
                with self.subTest(scheme=name, surface=surface):
                    self.assertGreaterEqual(contrast(scheme["pending"], scheme[surface]), 3.0)

    def test_values_do_not_break_mid_word_everywhere(self):
        self.assertNotIn("break-all", CSS.read_text(encoding="utf-8"))


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


if __name__ == "__main__":
    unittest.main()
