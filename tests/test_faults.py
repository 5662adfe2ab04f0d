"""When the provider fails: its token endpoint down, slow, answering HTML, 500 or cut-off
JSON; its JWKS down or rotated mid-run. Each failure is a clear 502 page (the callback) or
JSON error (the API), nothing waits past the client's timeout, and the next login works.

The provider is the fake from ``fake_provider`` (real discovery, real keys, an /authorize
that sends the browser straight back), taught here to fail on demand.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
import unittest
from http.server import ThreadingHTTPServer

from oauthdemo.server import authserver
from oauthdemo.web import httpkit
from oauthdemo import settings
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.client.jwks import JWKS_REFETCH_INTERVAL
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import Clock, demo_settings, start_test_demo
from .fake_provider import CLIENT_ID, FakeProvider
from .support import shared_rsa_key

CLIENT_TIMEOUT = 0.5    # seconds: the app's timeout for every call to the provider, in these tests
SLACK = 2.5             # seconds of scheduling slack a slow CI machine may add on top of it
HOLD = 30               # seconds a "slow" provider would stay silent (released at cleanup)
HTML_ANSWER = b"<html><script>alert('maintenance')</script>Back soon</html>"
CUT_OFF_JSON = b'{"access_token": "abc", "token_ty'
TRACEBACK_MARKERS = ("Traceback", 'File "')


class FaultyProvider(FakeProvider):
    """The fake provider, plus the ways a real one fails. ``faults[path] = name``."""

    def __init__(self):
        self.faults: dict = {}
        self.release = threading.Event()   # lets a "slow" answer go, so no thread lingers
        super().__init__()

    def go_down(self):
        self.stop()

    def come_back(self):
        """Listen again on the same port: the issuer (and discovery) must not change."""
        port = self.server.server_address[1]
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self.handler_class())
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def handler_class(self):
        provider, honest = self, super().handler_class()

        class FaultyHandler(honest):
            def fault(self) -> bool:
                name = provider.faults.get(self.path.split("?")[0])
                if name is None:
                    return False
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                getattr(self, "fail_" + name)()
                return True

            def do_GET(self):
                if not self.fault():
                    super().do_GET()

            def do_POST(self):
                if not self.fault():
                    super().do_POST()

            def fail_hang_up(self):
                self.close_connection = True      # closes the socket without a word

            def fail_slow(self):
                provider.release.wait(HOLD)
                self.close_connection = True

            def fail_html(self):
                self.send_raw(200, "text/html", HTML_ANSWER)

            def fail_500(self):
                body = {"error": "server_error", "error_description": "The database is on fire."}
                self.send_raw(500, "application/json", json.dumps(body).encode())

            def fail_garbled_status(self):
                self.wfile.write(b"HTTP/1.1 two-hundred OK\r\n\r\n")
                self.close_connection = True

            def fail_token_type_not_a_string(self):
                body = {"access_token": "x", "token_type": 7, "id_token": "y"}
                self.send_raw(200, "application/json", json.dumps(body).encode())

            def fail_truncated_json(self):
                self.send_raw(200, "application/json", CUT_OFF_JSON)

            def fail_cut_off(self):
                """Promises 4 KiB, sends a few bytes, hangs up."""
                self.send_raw(200, "application/json", CUT_OFF_JSON, length=4096)
                self.close_connection = True

            def send_raw(self, status, ctype, body, length=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(length or len(body)))
                self.end_headers()
                self.wfile.write(body)

        return FaultyHandler


class FaultCase(unittest.TestCase):
    """A fresh app (fresh JWKS cache) per test, in front of one faulty provider."""

    @classmethod
    def setUpClass(cls):
        cls.provider = FaultyProvider()
        cls.provider.second_key()     # made now: generating it inside a request would time out

    @classmethod
    def tearDownClass(cls):
        cls.provider.release.set()
        cls.provider.stop()

    def setUp(self):
        self.provider.faults.clear()
        self.provider.mode = "good"
        self.provider.published = [self.provider.key]
        self.clock = Clock()
        cfg = demo_settings(provider=settings.Provider("oidc", self.provider.issuer, CLIENT_ID))
        self.running, self.console = start_test_demo(cfg, clock=self.clock)
        self.addCleanup(self.running.stop)
        self.running.client.transport.timeout = CLIENT_TIMEOUT   # every call the client makes

    def callback_url(self, browser: ScriptedBrowser) -> str:
        start = browser.get(self.running.app_url + "/login")
        self.assertEqual(start.status, 302)
        return browser.get(start.location).location    # the fake sends the browser straight back

    def callback_with_fault(self, path: str, fault: str):
        """A login whose callback meets ``fault`` at ``path``. Returns (response, seconds)."""
        browser = ScriptedBrowser()
        callback = self.callback_url(browser)
        self.provider.faults[path] = fault
        self.provider.release.clear()
        started = time.monotonic()
        resp = browser.get(callback)
        elapsed = time.monotonic() - started
        self.provider.faults.clear()
        self.provider.release.set()
        return resp, elapsed

    def assert_fails_cleanly(self, path: str, fault: str, error: str) -> tuple:
        """A login meets ``fault`` at ``path``: a clear 502 page, then the next login works."""
        resp, elapsed = self.callback_with_fault(path, fault)
        self.assert_clear_page(resp, 502, error)
        self.assert_next_login_works()
        return resp, elapsed

    def assert_clear_page(self, resp, status: int, error: str):
        self.assertEqual(resp.status, status, resp.text[:400])
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("text/html"))
        self.assertIn(error, resp.text)
        for marker in TRACEBACK_MARKERS:
            self.assertNotIn(marker, resp.text)
        self.assertEqual(len(self.running.app.sessions), 0)   # no half-made session

    def assert_next_login_works(self):
        browser = ScriptedBrowser()
        done = browser.get(self.callback_url(browser))
        self.assertEqual(done.status, 303, done.text[:400])
        api = browser.get(self.running.app_url + "/api/protected")
        self.assertEqual((api.status, json.loads(api.text)["user"]["sub"]), (200, "fake-user"))


class TestTokenEndpointFaults(FaultCase):
    def test_token_endpoint_down(self):
        browser = ScriptedBrowser()
        callback = self.callback_url(browser)
        self.provider.go_down()
        try:
            resp = browser.get(callback)
        finally:
            self.provider.come_back()
        self.assert_clear_page(resp, 502, "temporarily_unavailable")
        self.assert_next_login_works()

    def test_token_endpoint_hangs_up_without_answering(self):
        self.assert_fails_cleanly("/token", "hang_up", "temporarily_unavailable")

    def test_token_endpoint_slower_than_the_timeout(self):
        resp, elapsed = self.assert_fails_cleanly("/token", "slow", "temporarily_unavailable")
        self.assertIn(f"within {CLIENT_TIMEOUT:g} s", resp.text)
        self.assertLess(elapsed, CLIENT_TIMEOUT + SLACK)    # and far below HOLD

    def test_token_endpoint_answers_html(self):
        resp, _ = self.assert_fails_cleanly("/token", "html", "server_error")
        self.assertIn("not JSON", resp.text)
        self.assertNotIn("<script>alert", resp.text)      # the provider's HTML is shown escaped

    def test_token_endpoint_answers_500(self):
        resp, _ = self.assert_fails_cleanly("/token", "500", "server_error")
        self.assertIn("The database is on fire.", resp.text)

    def test_token_endpoint_answers_a_garbled_status_line(self):
        self.assert_fails_cleanly("/token", "garbled_status", "server_error")

    def test_token_endpoint_answers_a_non_string_token_type(self):
        self.assert_fails_cleanly("/token", "token_type_not_a_string", "server_error")

    def test_token_endpoint_answers_truncated_json(self):
        self.assert_fails_cleanly("/token", "truncated_json", "server_error")

    def test_token_endpoint_cuts_the_answer_off(self):
        self.assert_fails_cleanly("/token", "cut_off", "server_error")


class TestKeyFaults(FaultCase):
    def test_jwks_down_at_verify_time(self):
        self.assert_fails_cleanly("/jwks", "hang_up", "temporarily_unavailable")

    def test_jwks_slow_at_verify_time(self):
        _, elapsed = self.assert_fails_cleanly("/jwks", "slow", "temporarily_unavailable")
        self.assertLess(elapsed, CLIENT_TIMEOUT + SLACK)

    def test_jwks_rotated_mid_run_one_refetch(self):
        self.assert_next_login_works()                   # signed with the first key
        fetches = self.provider.jwks_fetches
        self.provider.mode = "rotated"                   # new kid, published beside the old
        self.clock.advance(JWKS_REFETCH_INTERVAL + 1)
        self.assert_next_login_works()
        self.assertEqual(self.provider.jwks_fetches, fetches + 1)
        self.assert_next_login_works()                   # the new kid is now known
        self.assertEqual(self.provider.jwks_fetches, fetches + 1)

    def test_jwks_down_when_the_new_kid_needs_it(self):
        self.assert_next_login_works()
        self.provider.mode = "rotated"
        self.clock.advance(JWKS_REFETCH_INTERVAL + 1)
        resp, _ = self.callback_with_fault("/jwks", "hang_up")
        self.assertEqual(resp.status, 502, resp.text[:400])
        self.assertIn("temporarily_unavailable", resp.text)
        self.clock.advance(JWKS_REFETCH_INTERVAL + 1)
        self.assert_next_login_works()


class TestProtectedApiFaults(FaultCase):
    def test_userinfo_down_is_a_json_502_not_a_bad_token(self):
        """The provider being down says nothing about the token: no 401, which would
        tell the caller to throw its token away and log in again."""
        browser = ScriptedBrowser()
        self.assertEqual(browser.get(self.callback_url(browser)).status, 303)
        self.provider.faults["/userinfo"] = "hang_up"
        api = browser.get(self.running.app_url + "/api/protected")
        self.provider.faults.clear()
        self.assertEqual(api.status, 502, api.text[:300])
        self.assertEqual(api.headers.get("Content-Type"), "application/json")
        self.assertEqual(json.loads(api.text)["error"], "temporarily_unavailable")
        self.assertEqual(browser.get(self.running.app_url + "/api/protected").status, 200)


class TestStartingUp(unittest.TestCase):
    def test_a_request_before_the_state_exists_waits_for_it(self):
        """A port is bound before the state behind it exists (the app's URL is part of that
        state). A browser connecting in that instant must get the page, not a 500."""
        server, _ = httpkit.start_server(authserver.AuthServerHandler, "127.0.0.1", 0, None)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        answer = {}

        def fetch():
            conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
            conn.request("GET", "/.well-known/openid-configuration")
            answer["status"] = conn.getresponse().status
            conn.close()

        threads = threading.active_count()
        client = threading.Thread(target=fetch)
        client.start()
        for _ in range(200):   # until the server has a thread for the connection
            if threading.active_count() >= threads + 2:
                break
            time.sleep(0.01)
        auth = authserver.AuthorizationServer(SigningKeyStore(key=shared_rsa_key()))
        auth.set_issuer(httpkit.server_url(server))
        server.app = auth
        client.join(10)
        self.assertEqual(answer.get("status"), 200)


if __name__ == "__main__":
    unittest.main()
