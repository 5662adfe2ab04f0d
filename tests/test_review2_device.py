"""Review 2's findings on /activate's guess limit (2, 3, 8), each a named test.

Real sockets and the real embedded server (test_device_grant's set-up: every browser there
is 127.0.0.1, as on the demo); the GuessLimit tests drive the class with its own clock and
addresses that are not loopback.
"""
from __future__ import annotations

import unittest

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.server.device import GuessLimit, TooManyCodes, is_loopback

from .demo_fixtures import Clock
from .test_device_grant import DeviceGrantCase

WRONG = "BCDF-BCDF"
ELSEWHERE = "203.0.113.9"      # RFC 5737 documentation address: not loopback


class TestReview2ActivateLimits(DeviceGrantCase):
    def test_review2_3_others_wrong_guesses_at_loopback_leave_a_typo_harmless(self):
        device = self.start()
        for _ in range(31):                            # /tmp/R2/device2.py: 31 scripts,
            self.assertEqual(self.enter_code(WRONG).status, 400)   # a fresh cookie each
        user = ScriptedBrowser()
        typo = device["user_code"][:-1] + ("B" if device["user_code"][-1] != "B" else "C")
        self.assertEqual(self.enter_code(typo, user).status, 400)
        right = self.enter_code(device["user_code"], user)
        self.assertEqual(right.status, 200)
        self.assertIn("user", right.forms()[0]["fields"])   # the login form

    def test_review2_2_the_shared_cap_says_it_applies_to_everyone(self):
        auth_device, device = self.running.auth.device, self.start()
        kept = auth_device.guesses
        auth_device.guesses = GuessLimit(self.clock, overall=3)   # 1,000 in the real one
        try:
            for _ in range(3):
                self.assertEqual(self.enter_code(WRONG).status, 400)
            page = self.enter_code(device["user_code"])   # a new browser, the right code
        finally:
            auth_device.guesses = kept
        self.assertEqual(page.status, 429)
        self.assertIn('data-error="too_many_codes"', page.text)
        self.assertIn('data-limit="everyone"', page.text)
        self.assertIn("applies to everyone on this server", page.text)
        self.assertGreater(int(page.headers["Retry-After"]), 0)

    def test_review2_2_a_browsers_own_limit_says_so(self):
        browser = ScriptedBrowser()
        for _ in range(5):
            self.enter_code(WRONG, browser)
        page = self.enter_code(WRONG, browser)
        self.assertEqual(page.status, 429)
        self.assertIn('data-limit="browser"', page.text)


class TestReview2GuessLimitUnits(unittest.TestCase):
    def test_review2_3_loopback_addresses_are_not_counted(self):
        for address in ("127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"):
            self.assertTrue(is_loopback(address), address)
        for address in (ELSEWHERE, "::ffff:203.0.113.9", "2001:db8::1", "not an address"):
            self.assertFalse(is_loopback(address), address)
        limit = GuessLimit(Clock(), per_address=3)
        for n in range(10):
            limit.reserve(f"other{n}", "127.0.0.1")
        for _ in range(5):                             # the user's own five, all of them
            limit.reserve("user", "127.0.0.1")
        with self.assertRaises(TooManyCodes):
            limit.reserve("user", "127.0.0.1")

    def test_review2_3_elsewhere_the_address_rule_waits_for_near_the_limit(self):
        limit = GuessLimit(Clock(), per_address=3)
        for n in range(3):
            limit.reserve(f"other{n}", ELSEWHERE)      # the address is past its count
        for _ in range(3):                             # a typo or two still pass: 3 < 5/2·2
            limit.reserve("user", ELSEWHERE)
        with self.assertRaises(TooManyCodes) as caught:   # 3 of 5 used: near the limit
            limit.reserve("user", ELSEWHERE)
        self.assertEqual(caught.exception.limit, "browser")
        limit.reserve("fresh", ELSEWHERE)              # a fresh browser is never refused by it

    def test_review2_8_retry_after_is_the_window_of_the_rule_that_refused(self):
        clock = Clock()
        limit = GuessLimit(clock, per_browser=2, per_address=3, window=60)
        limit.reserve("other", ELSEWHERE)              # the address's window: until 60
        clock.advance(30)
        limit.reserve("user", ELSEWHERE)               # the browser's window: until 90
        clock.advance(1)
        limit.reserve("user", ELSEWHERE)
        clock.advance(1)                               # now 32: the browser's own limit
        with self.assertRaises(TooManyCodes) as caught:
            limit.reserve("user", ELSEWHERE)
        self.assertEqual(caught.exception.retry_after, 90 - 32)   # not min(60, 90) - 32
        clock.advance(28)                              # the address's window is over ...
        with self.assertRaises(TooManyCodes):          # ... and the browser still waits
            limit.reserve("user", ELSEWHERE)


if __name__ == "__main__":
    unittest.main()
