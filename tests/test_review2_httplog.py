"""Review 2's findings on the HTTP log (5: logins under PAR; 7: retention), each named.

End to end (finding 5) against the real app and embedded server requiring PAR (RFC 9126),
one browser with two tabs (/tmp/R2/par2tabs.py); the retention rules fed events made by
the real HttpExchange constructor, with an injected clock.
"""
from __future__ import annotations

import json
import unittest
import urllib.parse

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.events import HttpExchange
from oauthdemo.teaching import httplog
from oauthdemo.teaching.httplog import HttpLog

from .demo_fixtures import demo_settings, start_test_demo
from .test_http_log import BROWSER, OTHER, path_of, start_login


def request_uri(location: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["request_uri"][0]


class TestReview2HttpLogUnderPar(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.running, _ = start_test_demo(demo_settings(embedded_require_par=True))
        app, cls.log = cls.running.app_url, cls.running.app.http_log
        browser = ScriptedBrowser()
        cls.tab1 = browser.get(app + "/login").location
        cls.tab2 = browser.get(app + "/login").location
        browser.get(cls.tab2)                          # tab 2 reaches the server first
        callback = ScriptedBrowser.login_at_provider(browser, cls.tab1, "alice")
        cls.state = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)["state"][0]
        cls.answer = browser.get(callback)
        cls.har = browser.get(app + "/trace.har")

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_review2_5_the_callback_joins_the_pushed_login_it_belongs_to(self):
        self.assertEqual(self.answer.status, 303)
        first = self.log.logins[request_uri(self.tab1)]
        paths = [(e.actor == self.log.app_actor, path_of(e)) for e in first.entries]
        self.assertIn((True, "/callback"), paths)
        self.assertIn((False, "/oauth/token"), paths)  # the back channel, told by the app
        self.assertIn((False, "/authorize"), paths)    # its server hops, owned
        second = self.log.logins[request_uri(self.tab2)]
        self.assertNotIn("/callback", [path_of(e) for e in second.entries])

    def test_review2_5_held_hops_are_not_dropped_when_no_owner_matches(self):
        held = self.log.held.get(request_uri(self.tab2), [])
        self.assertEqual([path_of(entries[0]) for _, entries in held], ["/authorize"])

    def test_review2_5_the_flow_tag_is_the_states(self):
        self.assertEqual(self.log.logins[request_uri(self.tab1)].state, self.state)
        comment = json.loads(self.har.text)["log"]["comment"]
        self.assertNotIn("urn:ie", comment)
        self.assertNotIn("urnie", self.har.headers["Content-Disposition"])
        tag = self.log.logins[request_uri(self.tab2)].state[:6]
        self.assertIn(f"flow {tag}", comment)          # the HAR is tab 2's: the latest


def fresh_log(now: list) -> HttpLog:
    return HttpLog(app_actor="app", browser_cookie="demo_browser",
                   server_actor="as", server_cookie="as_browser", clock=lambda: now[0])


def logout(log, browser: str):
    log(HttpExchange("app", "front", "POST", "http://app/logout",
                     (("Cookie", f"demo_browser={browser}"),), b"", 303, (), b"", 0, 2.0,
                     0.001, 1))


class TestReview2Retention(unittest.TestCase):
    def test_review2_7_logout_drops_every_login_of_the_browser(self):
        log = fresh_log([10.0])
        start_login(log, "S1", BROWSER)
        start_login(log, "S2", BROWSER)
        start_login(log, "S3", OTHER)
        logout(log, BROWSER)
        self.assertEqual(list(log.logins), ["S3"])     # S1 too, not only the latest
        self.assertIsNone(log.latest_for(BROWSER))

    def test_review2_7_logins_past_log_ttl_are_pruned_on_every_write(self):
        now = [10.0]
        log = fresh_log(now)
        start_login(log, "S1", BROWSER, started=1.0)
        now[0] = 1.0 + httplog.LOG_TTL + 1
        start_login(log, "S2", OTHER, started=now[0])  # any write, by anyone
        self.assertEqual(list(log.logins), ["S2"])


if __name__ == "__main__":
    unittest.main()
