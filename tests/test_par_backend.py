"""PAR (RFC 9126) for the mobile app + backend design, against the real embedded server
with EMBEDDED_REQUIRE_PAR on: the public app cannot push (its client_id is the backend's,
a confidential client), so the backend pushes for it through POST /auth/par, and the
browser's URL carries only client_id and request_uri (§4)."""
from __future__ import annotations

import html
import re
import tempfile
import unittest
from pathlib import Path

import pkce
from oauthdemo import cli
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import demo_settings, log_in, start_test_demo
from .test_backend import call
from .test_cli_login import CommandRun, IsolatedCommandCase, query_of

STEP_3_ROW = re.compile(r'<li class="seq-row (?P<classes>[^"]*)"[^>]*><a class="step-link" '
                        r'id="arrow-3".*?<code class="wire">(?P<wire>[^<]*)</code>.*?</li>')


class BackendParCase(IsolatedCommandCase):
    """One demo whose embedded server accepts only pushed requests."""

    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory()
        cfg = demo_settings(backend_db=str(Path(cls.tmpdir.name) / "backend.sqlite3"),
                            embedded_require_par=True)
        cls.running, cls.console = start_test_demo(cfg)
        cls.auth = cls.running.auth
        cls.url = cls.running.app_url

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()
        cls.tmpdir.cleanup()

    def push(self, **overrides) -> tuple:
        _, challenge = pkce.make_pair()
        fields = {"state": "s" * 43, "nonce": "n" * 43, "code_challenge": challenge,
                  "redirect_uri": "http://127.0.0.1:53682/callback", **overrides}
        return call(self.url + "/auth/par", {k: v for k, v in fields.items() if v is not None})


class TestParThroughTheBackend(BackendParCase):
    """The mobile app's login, the backend's /auth/par, and the web app's walkthrough."""

    def test_rfc9126_config_tells_the_app_to_push_through_the_backend(self):
        status, config = call(self.url + "/auth/config")
        self.assertEqual(status, 200)
        self.assertIs(config["par"], True)

    def test_rfc9126_mobile_login_end_to_end_the_backend_pushes(self):
        argv = ["--no-browser", "--timeout", "20", "--backend", self.url,
                "--env-file", self.env_file]
        run = CommandRun(cli.mobile_main, argv)
        url = run.authorize_url()
        params = query_of(url)
        self.assertEqual(set(params), {"client_id", "request_uri"}, url)   # §4: nothing else
        self.assertEqual(params["client_id"], "demo-backend")
        self.assertTrue(params["request_uri"].startswith("urn:ietf:params:oauth:request_uri:"))
        page = ScriptedBrowser().get(ScriptedBrowser().login_at_provider(url, user="carol"))
        self.assertIn("mobile app received the authorization code", page.text)
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        self.assertIn(f"POST {self.url}/auth/par", run.output)
        self.assertIn("Logged in through the backend as Carol Password", run.output)
        console = self.console.getvalue()
        self.assertIn(f"POST {self.auth.url('/oauth/par')}", console)   # the backend pushed
        secret = self.auth.clients["demo-backend"].secret
        self.assertNotIn(secret, run.output)
        self.assertNotIn(secret, console)

    def test_rfc9126_pushed_request_is_the_backends_own(self):
        """The app sends four values; the backend's scope, client_id and S256 are its own."""
        status, body = self.push(scope="admin", code_challenge_method="plain",
                                 client_id="demo-web")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["client_id"], "demo-backend")
        self.assertTrue(body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:"))

    def test_backend_par_refuses_a_redirect_that_is_not_loopback(self):
        status, body = self.push(redirect_uri="https://attacker.example/callback")
        self.assertEqual((status, body["error"]), (400, "invalid_request"))

    def test_backend_par_refuses_missing_fields(self):
        status, body = self.push(code_challenge=None)
        self.assertEqual((status, body["error"]), (400, "invalid_request"))
        self.assertIn("code_challenge", body["error_description"])

    def test_backend_par_answers_the_providers_refusal_as_json(self):
        status, body = self.push(code_challenge="short")   # RFC 7636 §4.2: 43–128 chars
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"], "invalid_request")

    def test_rfc9126_step_3_arrow_is_a_back_channel_post_then_the_short_redirect(self):
        browser = log_in(self.running)
        page = browser.get(self.url + "/walkthrough").text
        row = STEP_3_ROW.search(page)
        self.assertIsNotNone(row, page)
        self.assertIn("reached", row.group("classes").split())
        wire = html.unescape(row.group("wire"))
        self.assertIn("POST /oauth/par → 201 request_uri", wire)
        self.assertIn("GET /authorize?client_id=…&request_uri=…", wire)
        self.assertNotIn("code_challenge", wire)       # the browser's URL carries two params
        # the push and its answer (app ⇄ server), then the browser's redirect: four segments
        self.assertIn('<span class="lanes n4"', row.group(0))
        self.assertEqual(row.group(0).count('class="seg '), 4)


if __name__ == "__main__":
    unittest.main()
