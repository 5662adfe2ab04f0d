"""Issue 12 item 1: the HTTP log of a login, both channels (teaching.httplog).

End to end against the real app and embedded server (two browsers, one demo): every hop of
a browser's latest login in time order, tied to that login only; secrets masked with a
per-value reveal on /walkthrough, client secrets never. Then the subscriber's bounds and
its correlation rules, fed events made by the real HttpExchange constructor.
"""
from __future__ import annotations

import html
import re
import threading
import unittest
import urllib.parse

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.events import HTTP_BODY_KEPT, HttpExchange, kept_body
from oauthdemo.teaching import httplog
from oauthdemo.teaching.httplog import HttpLog, Masker

from .demo_fixtures import log_in, start_test_demo

REVEAL = re.compile(r'<details class="reveal"><summary>Reveal</summary><code class="wrap">'
                    r'([^<]*)</code></details>')


def cookie(browser: ScriptedBrowser, name: str) -> str:
    return next(c.value for c in browser.jar if c.name == name)


def path_of(e) -> str:
    return urllib.parse.urlsplit(e.url).path


class HttpLogOfALogin(unittest.TestCase):
    """Two browsers log in at one demo; each sees only its own hops."""

    @classmethod
    def setUpClass(cls):
        cls.running, _ = start_test_demo()
        cls.app = cls.running.app
        cls.alice = log_in(cls.running, "alice")
        cls.alice.get(cls.running.app_url + "/api/protected")      # Step 10: introspection
        cls.bob = log_in(cls.running, "bob")
        cls.alice_log = cls.app.http_log.latest_for(cookie(cls.alice, "demo_browser"))
        cls.bob_log = cls.app.http_log.latest_for(cookie(cls.bob, "demo_browser"))
        cls.page = cls.alice.get(cls.running.app_url + "/walkthrough").text
        cls.section = cls.page[cls.page.index('id="http-log"'):]

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_every_hop_of_both_channels_in_time_order(self):
        hops = [(e.channel, e.method, path_of(e)) for e in self.alice_log.entries]
        self.assertEqual(hops[:8], [
            ("front", "GET", "/login"), ("front", "GET", "/authorize"),
            ("front", "POST", "/authorize/login"), ("front", "GET", "/authorize/consent"),
            ("front", "POST", "/authorize/consent"), ("front", "GET", "/callback"),
            ("back", "POST", "/oauth/token"), ("back", "GET", "/.well-known/jwks.json")])
        self.assertIn(("back", "POST", "/oauth/introspect"), hops)
        started = [e.started for e in self.alice_log.entries]
        self.assertEqual(started, sorted(started))
        token = self.alice_log.entries[6]
        self.assertEqual(token.status, 200)
        self.assertIn(b"code_verifier=", token.request_body)
        self.assertIn(b'"access_token"', token.response_body)

    def test_never_another_browsers_hops(self):
        alice_state, bob_state = self.alice_log.state, self.bob_log.state
        self.assertNotEqual(alice_state, bob_state)
        for log, other in ((self.alice_log, bob_state), (self.bob_log, alice_state)):
            for e in log.entries:
                self.assertNotIn(other, e.url)
                self.assertNotIn(other, dict(e.response_headers).get("Location", ""))
        bob_cookie = cookie(self.bob, "demo_browser")
        for e in self.alice_log.entries:
            self.assertNotIn(bob_cookie, str(e.request_headers))

    def test_a_browser_without_a_login_has_no_log(self):
        self.assertIsNone(self.app.http_log.latest_for(""))
        self.assertIsNone(self.app.http_log.latest_for("x" * 32))

    def test_walkthrough_shows_each_step_and_the_full_log(self):
        for n in (1, 3, 5, 6, 7, 9, 10):   # the browser's GET /authorize is Step 3 (the UI review)
            self.assertIn(f'id="http-step-{n}"', self.page)
        self.assertIn('data-channel="back"', self.page)
        self.assertIn('href="/trace.har"', self.page)

    def panel(self, n: int) -> str:
        """Step n's panel on /walkthrough (up to the next panel, or the HTTP log)."""
        start = self.page.index(f'id="step-{n}"')
        end = self.page.index(f'id="step-{n + 1}"' if n < 10 else 'id="http-log"', start)
        return self.page[start:end]

    def test_issue12_each_step_panel_links_to_its_own_hops(self):
        # Step 4 is the server handling Step 3's GET /authorize; Step 8's check is inside the
        # token request's answer.
        for n, hops in ((1, 1), (3, 3), (4, 3), (5, 5), (6, 6), (7, 7), (8, 7), (9, 9), (10, 10)):
            with self.subTest(step=n):
                self.assertIn(f'href="#http-step-{hops}"', self.panel(n))
        self.assertNotIn('href="#http-step-', self.panel(2))   # made in the app: no HTTP
        ids = re.findall(r'id="(http-step-[^"]+)"', self.page)
        self.assertEqual(len(ids), len(set(ids)))                # each link has one target

    def test_secrets_masked_with_a_per_value_reveal(self):
        """The log masks the verifier wherever it shows a hop; each secret has its own Reveal.
        (Step 2's panel shows the verifier on purpose: that is what the page teaches.)"""
        verifier = self.app.flows.latest(cookie(self.alice, "demo_browser")).verifier
        self.assertNotIn(verifier, REVEAL.sub("", self.section))
        self.assertIn(verifier, [html.unescape(v) for v in REVEAL.findall(self.section)])
        self.assertIn('data-secret="code_verifier"', self.section)
        self.assertIn('data-secret="Authorization: Basic"', self.section)

    def test_client_secret_never_revealed(self):
        secret = self.running.provider.introspection_client_secret
        self.assertTrue(secret)
        self.assertNotIn(secret, self.page)
        self.assertIn('data-never-revealed="true"', self.page)
        for e in self.alice_log.entries:
            self.assertNotIn(secret, str(e.request_headers) + e.request_body.decode())

    def test_finding15_refresh_token_and_session_cookie_never_on_the_page(self):
        session = self.app.sessions.get(cookie(self.alice, "demo_session"), self.app.clock())
        self.assertNotIn(session.tokens["refresh_token"], self.page)
        self.assertNotIn(session.tokens["refresh_token"][-20:], self.page)
        self.assertNotIn(session.sid, self.page)
        self.assertIn('data-secret="refresh_token" data-never-revealed="true"', self.section)

    def test_html_pages_are_not_kept(self):
        pages = [e for e in self.alice_log.entries if path_of(e) == "/authorize"]
        self.assertEqual(pages[0].response_body, b"")
        self.assertGreater(pages[0].response_size, 0)

    def test_logout_forgets_the_log(self):
        carol = log_in(self.running, "carol")
        browser = cookie(carol, "demo_browser")
        self.assertIsNotNone(self.app.http_log.latest_for(browser))
        done = carol.submit(carol.get(self.running.app_url + "/logout"))   # POST /logout
        self.assertEqual(done.status, 303)
        self.assertIsNone(self.app.http_log.latest_for(browser))


def exchange(actor, url, *, channel="front", status=200, headers=(), answer=(), body=b"",
             started=1.0, thread=1):
    return HttpExchange(actor, channel, "GET", url, tuple(headers), body, status,
                        tuple(answer), b"", 0, started, 0.001, thread)


BROWSER, OTHER = "b" * 32, "o" * 32
AUTHORIZE = "http://as/authorize?client_id=c&code_challenge=x&state="


def fresh_log() -> HttpLog:
    return HttpLog(app_actor="app", browser_cookie="demo_browser",
                   server_actor="as", server_cookie="as_browser", clock=lambda: 10.0)


def start_login(log, state="S1", browser=BROWSER, started=1.0):
    log(exchange("app", "http://app/login", status=302, started=started,
                 headers=[("Cookie", f"demo_browser={browser}")],
                 answer=[("Location", AUTHORIZE + state)]))


class CorrelationRules(unittest.TestCase):

    def test_client_secret_masked_when_the_event_is_made(self):
        e = HttpExchange("the client", "back", "POST", "http://as/oauth/token",
                         (("Authorization", "Basic c2VjcmV0OnM="),),
                         b"grant_type=x&client_secret=hunter2", 200, (), b"", 0, 0.0, 0.0)
        self.assertNotIn("c2VjcmV0OnM=", str(e.request_headers))
        self.assertNotIn(b"hunter2", e.request_body)
        json_body = HttpExchange("c", "back", "POST", "u", (), b'{"client_secret": "hunter2"}',
                                 200, (), b"", 0, 0.0, 0.0)
        self.assertNotIn(b"hunter2", json_body.request_body)

    def test_values_made_printable_when_the_event_is_made(self):
        e = HttpExchange("app\x1b[31m", "front", "GET", "http://app/\u202e", (("X-A", "b\x07"),),
                         b"", 200, (("Location", "/\r\nSet-Cookie: x"),), b"", 0, 0.0, 0.0)
        text = e.actor + e.url + str(e.request_headers) + str(e.response_headers)
        self.assertNotRegex(text, "[\x00-\x1f\x7f\u202e]")

    def test_bringing_a_state_to_the_server_owns_nothing_there(self):
        # Review finding 1: anyone may bring a login's state (tests/test_review_httplog.py).
        log = fresh_log()
        start_login(log)
        log(exchange("as", AUTHORIZE + "S1", headers=[("Cookie", "as_browser=mine")]))
        log(exchange("as", AUTHORIZE + "S1", headers=[("Cookie", "as_browser=attacker")]))
        self.assertEqual(len(log.latest_for(BROWSER).entries), 1)

    def test_callback_with_another_browsers_state_is_not_theirs(self):
        log = fresh_log()
        start_login(log, "S1", BROWSER)
        log(exchange("app", "http://app/callback?state=S1&code=c",
                     headers=[("Cookie", f"demo_browser={OTHER}")]))
        self.assertEqual(len(log.latest_for(BROWSER).entries), 1)
        self.assertIsNone(log.latest_for(OTHER))

    def test_back_channel_joins_the_request_whose_thread_made_it(self):
        log = fresh_log()
        start_login(log)
        log(exchange("c", "http://as/old", channel="back", started=0.5, thread=7))   # before
        log(exchange("c", "http://as/oauth/token", channel="back", started=2.1, thread=7))
        log(exchange("app", "http://app/callback?state=S1", started=2.0, thread=7,
                     headers=[("Cookie", f"demo_browser={BROWSER}")]))
        paths = [path_of(e) for e in log.latest_for(BROWSER).entries]
        self.assertEqual(paths, ["/login", "/callback", "/oauth/token"])

    def test_bounded_logins_entries_and_waiting_calls(self):
        log = fresh_log()
        for n in range(httplog.LOGINS_MAX + 5):
            start_login(log, f"S{n}", f"{n:032d}")
        self.assertEqual(len(log.logins), httplog.LOGINS_MAX)
        self.assertIsNone(log.latest_for(f"{0:032d}"))
        last = f"{httplog.LOGINS_MAX + 4:032d}"
        for _ in range(httplog.ENTRIES_MAX + 3):
            log(exchange("app", "http://app/", headers=[("Cookie", f"demo_browser={last}")]))
        kept = log.latest_for(last)
        self.assertEqual((len(kept.entries), kept.omitted), (httplog.ENTRIES_MAX, 4))
        for thread in range(httplog.THREADS_MAX + 4):
            for _ in range(httplog.WAITING_PER_THREAD + 2):
                log(exchange("c", "http://as/x", channel="back", thread=thread))
        self.assertEqual(len(log.waiting), httplog.THREADS_MAX)
        self.assertTrue(all(len(c) <= httplog.WAITING_PER_THREAD for c in log.waiting.values()))

    def test_bodies_kept_only_up_to_the_bound(self):
        self.assertEqual(len(kept_body(b"x" * (HTTP_BODY_KEPT * 3), "application/json")),
                         HTTP_BODY_KEPT)
        self.assertEqual(kept_body(b"<html>token</html>", "text/html; charset=utf-8"), b"")

    def test_masker_masks_codes_tokens_cookies_and_authorization(self):
        m = Masker()
        url = m.url("http://app/callback?code=SECRETCODE&state=s")
        self.assertNotIn("SECRETCODE", url)
        self.assertIn("state=s", url)
        self.assertNotIn("tok", m.header("Authorization", "Bearer tok"))
        self.assertNotIn("sid", m.header("Cookie", "demo_session=sid"))
        self.assertNotIn("sid", m.header("Set-Cookie", "demo_session=sid; Path=/"))
        self.assertNotIn("AT", m.body(b'{"access_token": "AT"}', "application/json"))
        self.assertEqual({s.name for s in m.found},
                         {"code", "Authorization: Bearer", "cookie demo_session", "access_token"})

    def test_subscriber_ignores_other_events_and_threads_safely(self):
        log = fresh_log()
        log(object())
        workers = [threading.Thread(target=start_login, args=(log, f"T{n}", f"{n:032d}"))
                   for n in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self.assertEqual(len(log.logins), 8)


if __name__ == "__main__":
    unittest.main()
