"""Issue 12 item 2: GET /trace.har, this browser's latest login as HAR 1.2.

A real login at the real app and embedded server; the HAR is validated by an independent
validator (npm har-validator 5.1.5, tests/interop/validate_har.mjs): skipped locally without
Node, a failure under CI=true (interop_support.require_or_skip, as tests/test_interop.py).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse
from pathlib import Path

from oauthdemo.client.useragent import ScriptedBrowser

from . import interop_support
from .demo_fixtures import log_in, start_test_demo

VALIDATOR = interop_support.INTEROP_DIR / "validate_har.mjs"
HAR_VALIDATOR = interop_support.INTEROP_DIR / "node_modules" / "har-validator" / "package.json"


def entry_at(har: dict, path: str, method: str = "GET") -> dict:
    return next(e for e in har["log"]["entries"] if e["request"]["method"] == method
                and urllib.parse.urlsplit(e["request"]["url"]).path == path)


def form_of(entry: dict) -> dict:
    return dict(urllib.parse.parse_qsl(entry["request"]["postData"]["text"]))


class TraceHar(unittest.TestCase):
    """One login (plus Step 10), its HAR masked and revealed."""

    @classmethod
    def setUpClass(cls):
        cls.running, _ = start_test_demo()
        cls.browser = log_in(cls.running, "alice")
        cls.browser.get(cls.running.app_url + "/api/protected")
        cls.answer = cls.browser.get(cls.running.app_url + "/trace.har")
        cls.har = json.loads(cls.answer.body)
        cls.revealed = json.loads(cls.browser.get(cls.running.app_url + "/trace.har?reveal=1").body)
        browser_id = next(c.value for c in cls.browser.jar if c.name == "demo_browser")
        cls.verifier = cls.running.app.flows.latest(browser_id).verifier

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_a_download_of_json(self):
        self.assertEqual(self.answer.status, 200)
        self.assertEqual(self.answer.headers["Content-Type"], "application/json")
        self.assertRegex(self.answer.headers["Content-Disposition"],
                         r'^attachment; filename="oauth-login-[A-Za-z0-9_-]{6}\.har"$')
        self.assertEqual(self.answer.headers["Cache-Control"], "no-store")
        self.assertEqual(self.har["log"]["version"], "1.2")

    def test_includes_the_redirect_to_authorize(self):
        login = entry_at(self.har, "/login")
        self.assertEqual(login["response"]["status"], 302)
        self.assertEqual(urllib.parse.urlsplit(login["response"]["redirectURL"]).path,
                         "/authorize")
        self.assertIn("code_challenge", entry_at(self.har, "/authorize")["request"]["url"])

    def test_token_request_with_its_code_verifier_masked(self):
        token = entry_at(self.har, "/oauth/token", "POST")
        form = form_of(token)
        self.assertEqual(form["grant_type"], "authorization_code")
        self.assertIn("code_verifier", form)
        self.assertNotEqual(form["code_verifier"], self.verifier)
        self.assertNotIn(self.verifier, json.dumps(self.har))
        self.assertIn("masked", form["code_verifier"])
        self.assertIn("masked", json.loads(token["response"]["content"]["text"])["access_token"])

    def test_reveal_shows_values_but_never_a_client_secret(self):
        token = entry_at(self.revealed, "/oauth/token", "POST")
        self.assertEqual(form_of(token)["code_verifier"], self.verifier)
        secret = self.running.provider.introspection_client_secret
        self.assertTrue(secret)
        self.assertNotIn(secret, json.dumps(self.revealed))
        basic = entry_at(self.revealed, "/oauth/introspect", "POST")["request"]["headers"]
        self.assertIn("hidden", next(h["value"] for h in basic if h["name"] == "Authorization"))

    def test_finding15_refresh_token_and_cookies_never_in_the_revealed_har(self):
        app = self.running.app
        session = app.sessions.get(next(c.value for c in self.browser.jar
                                        if c.name == "demo_session"), app.clock())
        text = json.dumps(self.revealed)
        self.assertNotIn(session.tokens["refresh_token"], text)
        self.assertNotIn(session.sid, text)       # the HttpOnly session cookie
        self.assertNotIn(next(c.value for c in self.browser.jar if c.name == "demo_browser"),
                         text)

    def test_no_login_yet_is_a_clear_json_404(self):
        answer = ScriptedBrowser().get(self.running.app_url + "/trace.har?reveal=1")
        self.assertEqual(answer.status, 404)
        self.assertEqual(json.loads(answer.body)["error"], "not_found")

    def test_reveal_takes_only_0_or_1(self):
        answer = self.browser.get(self.running.app_url + "/trace.har?reveal=yes")
        self.assertEqual(answer.status, 400)
        self.assertEqual(json.loads(answer.body)["error"], "invalid_request")

    def test_another_browser_gets_only_its_own_login(self):
        other = log_in(self.running, "bob")
        theirs = json.loads(other.get(self.running.app_url + "/trace.har?reveal=1").body)
        self.assertNotIn(self.verifier, json.dumps(theirs))
        state = lambda har: dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(  # noqa: E731
            entry_at(har, "/login")["response"]["redirectURL"]).query))["state"]
        self.assertNotEqual(state(theirs), state(self.har))

    def test_har_validator_accepts_it(self):
        """An independent validator (npm har-validator) says this is HAR 1.2."""
        interop_support.require_or_skip(shutil.which("node") is not None
                                        and HAR_VALIDATOR.is_file(),
                                        "node or tests/interop/node_modules/har-validator "
                                        "is missing")
        with tempfile.TemporaryDirectory() as tmp:
            paths = [Path(tmp) / "masked.har", Path(tmp) / "revealed.har"]
            for path, har in zip(paths, (self.har, self.revealed)):
                path.write_text(json.dumps(har), encoding="utf-8")
            run = subprocess.run(["node", str(VALIDATOR), *map(str, paths)],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertEqual([json.loads(line) for line in run.stdout.splitlines()],
                         [{"valid": True}, {"valid": True}])

if __name__ == "__main__":
    unittest.main()
