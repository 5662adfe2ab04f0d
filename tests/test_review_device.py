"""The review's findings on the device grant's server side (2, 4, 7, 8, 11), each a named test.

Real sockets and the real embedded server (one per class, test_device_grant's set-up and
helpers), a scripted browser at /activate; the clock is injected. The GuessLimit tests
drive the class itself, with its own clock.
"""
from __future__ import annotations

import threading
import unittest
from dataclasses import replace

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.errors import InvalidGrant, InvalidRequest, TableFull
from oauthdemo.core.events import EventBus
from oauthdemo.server.authorize import AuthorizeEndpoint, check_consent
from oauthdemo.server.device import DeviceGrant, GuessLimit, TooManyCodes
from oauthdemo.server.store import Grant, GrantStore, Limits

from .demo_fixtures import Clock
from .test_device_grant import DeviceGrantCase

WRONG = "BCDF-BCDF"


class TestFinding2ConsentNeedsALogin(DeviceGrantCase):
    def test_finding2_device_consent_without_login_is_refused(self):
        device, browser = self.start(), ScriptedBrowser()
        login = self.enter_code(device["user_code"], browser)
        fields = login.forms()[0]["fields"]            # the login form: txn + form token
        skipped = browser.request(self.base + "/activate/consent", data={
            "txn": fields["txn"], "form_token": fields["form_token"], "decision": "allow"})
        self.assertEqual(skipped.status, 400)
        self.assertIn('data-error="invalid_request"', skipped.text)
        status, body = self.poll(device)               # not approved, and not burned
        self.assertEqual((status, body["error"]), (400, "authorization_pending"))

    def test_finding2_the_code_flow_and_the_device_share_one_rule(self):
        txn = self.device_txn()
        with self.assertRaises(InvalidRequest):        # not logged in
            self.running.auth.device.decide(txn, True)
        with self.assertRaises(InvalidRequest):        # the same rule finish applies
            check_consent(txn, device=True)

    def test_finding2_no_tokens_for_a_grant_without_a_user(self):
        grant = Grant("g-none", "demo-cli", None, "openid", None, None, None,
                      expires=int(self.clock()) + 60)
        with self.assertRaises(InvalidGrant):
            self.running.auth.tokens.issue(grant, include_refresh=False)

    def device_txn(self):
        device = self.start()
        login = self.enter_code(device["user_code"])
        txn_id = login.forms()[0]["fields"]["txn"]
        return self.running.auth.store.transaction(txn_id)


class TestFinding4GuessLimit(DeviceGrantCase):
    def test_finding4_others_wrong_guesses_do_not_refuse_a_right_code(self):
        device = self.start()
        for _ in range(7):                             # 35 wrong codes, all from 127.0.0.1
            browser = ScriptedBrowser()                # (past 30, one wrong guess a browser)
            for _ in range(5):
                self.assertIn(self.enter_code(WRONG, browser).status, (400, 429))
        right = self.enter_code(device["user_code"])   # a fresh browser, the same address
        self.assertEqual(right.status, 200)
        self.assertIn("user", right.forms()[0]["fields"])

    def test_finding4_the_page_says_429_in_words_not_slow_down(self):
        browser = ScriptedBrowser()
        for _ in range(5):
            self.enter_code(WRONG, browser)
        page = self.enter_code(WRONG, browser)
        self.assertEqual(page.status, 429)
        self.assertIn('data-error="too_many_codes"', page.text)
        self.assertNotIn("slow_down", page.text)
        self.assertGreater(int(page.headers["Retry-After"]), 0)

    def test_finding4_the_global_cap_slides(self):
        clock = Clock()
        limit = GuessLimit(clock, overall=3, window=60)
        for n in range(3):
            limit.reserve(f"b{n}", f"a{n}")
            clock.advance(10)                          # guesses at 0, 10, 20; now 30
        with self.assertRaises(TooManyCodes) as caught:
            limit.reserve("fresh", "elsewhere")
        self.assertEqual(caught.exception.retry_after, 30)   # until the oldest leaves
        clock.advance(31)
        limit.reserve("fresh", "elsewhere")            # one slot free, not a whole new window

    def test_finding4_a_right_code_gives_its_reservation_back(self):
        clock = Clock()
        limit = GuessLimit(clock, per_browser=1, overall=1)
        limit.release("b", "a", limit.reserve("b", "a"))
        limit.reserve("b", "a")                        # neither cap counted the right code

    def test_finding4_check_and_reserve_is_atomic(self):
        limit, passed = GuessLimit(Clock(), overall=10), []

        def guess(n):
            try:
                passed.append(limit.reserve(f"b{n}", f"a{n}"))
            except TooManyCodes:
                pass
        threads = [threading.Thread(target=guess, args=(n,)) for n in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(len(passed), 10)


class TestFinding7DeviceTransactions(DeviceGrantCase):
    def test_finding7_a_full_table_leaves_no_code_flow_lookalike(self):
        auth, clock = self.running.auth, Clock()
        store = GrantStore(clock, Limits(transactions=1))
        device = DeviceGrant(auth.clients, store, auth.tokens, auth.site, audience=auth.audience,
                             clock=clock, events=EventBus())
        code = device.start({"client_id": "demo-cli", "scope": "openid"}, None)["user_code"]
        record = device.find_user_code(code, "b", "a")
        first = device.login_request(record, "b")
        with self.assertRaises(TableFull):
            device.login_request(record, "b")
        self.assertEqual(store.transaction(first.txn_id).user_code, record.user_code)
        endpoint = AuthorizeEndpoint(auth.clients, store, auth.site, audience=auth.audience,
                                     clock=clock)
        with self.assertRaises(InvalidRequest):        # the code flow never finishes it
            endpoint.finish(replace(first, user="alice", auth_time=clock()), True)

    def test_finding7_the_code_flow_consent_refuses_a_device_login(self):
        device, browser = self.start(), ScriptedBrowser()
        login = self.enter_code(device["user_code"], browser)
        index = next(i for i, f in enumerate(login.forms()) if f["fields"].get("user") == "alice")
        moved = browser.submit(login, index)
        self.assertIn("/activate/consent?", moved.location)
        fields = login.forms()[index]["fields"]
        answer = browser.request(self.base + "/authorize/consent", data={
            "txn": fields["txn"], "form_token": fields["form_token"], "decision": "allow"})
        self.assertEqual(answer.status, 400)
        self.assertIsNone(answer.location)


class TestFinding8DeviceEndpointErrors(DeviceGrantCase):
    def test_finding8_unknown_audience_is_invalid_target(self):
        status, body = self.post("/oauth/device/code", {"client_id": "demo-cli",
                                                        "scope": "openid",
                                                        "audience": "https://no.example/"})
        self.assertEqual((status, body["error"]), (400, "invalid_target"))   # RFC 8707 §2

    def test_finding8_user_code_collision_is_drawn_again_then_503(self):
        device = self.running.auth.device
        codes, drawn = iter(["BCDFGHJK", "BCDFGHJK", "BCDFGHJL"]), device.new_user_code
        device.new_user_code = lambda: next(codes)
        try:
            self.assertEqual(self.start()["user_code"], "BCDF-GHJK")
            self.assertEqual(self.start()["user_code"], "BCDF-GHJL")   # drawn again
            device.new_user_code = lambda: "BCDFGHJK"
            status, body = self.post("/oauth/device/code", {"client_id": "demo-cli",
                                                            "scope": "openid"})
            self.assertEqual((status, body["error"]), (503, "temporarily_unavailable"))
        finally:
            device.new_user_code = drawn


class TestFinding11ActivateCsrf(DeviceGrantCase):
    def test_finding11_activate_without_form_token_is_refused(self):
        browser = ScriptedBrowser()
        browser.get(self.base + "/activate")           # has the cookie, not the token
        refused = browser.request(self.base + "/activate", data={"user_code": WRONG})
        self.assertEqual(refused.status, 403)
        self.assertIn('data-error="invalid_request"', refused.text)

    def test_finding11_another_browsers_form_token_is_refused(self):
        token = ScriptedBrowser().get(self.base + "/activate").forms()[0]["fields"]["form_token"]
        browser = ScriptedBrowser()
        browser.get(self.base + "/activate")
        refused = browser.request(self.base + "/activate",
                                  data={"user_code": WRONG, "form_token": token})
        self.assertEqual(refused.status, 403)

    def test_finding11_cross_origin_post_is_refused(self):
        browser = ScriptedBrowser()
        page = browser.get(self.base + "/activate")
        data = dict(page.forms()[0]["fields"], user_code=WRONG)
        refused = browser.request(self.base + "/activate", data=data,
                                  headers={"Origin": "http://localhost:1"})
        self.assertEqual(refused.status, 403)
        self.assertEqual(browser.submit(page, extra={"user_code": WRONG}).status, 400)


if __name__ == "__main__":
    unittest.main()
