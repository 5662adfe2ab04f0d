"""The mobile app's thin client against the demo's backend, end to end: no secret in the
app, PKCE made by the app, the code redeemed by the backend, the session token used."""
from __future__ import annotations

import socket
import sqlite3
import unittest
import urllib.parse

from oauthdemo import cli
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import demo_settings, start_test_demo
from .test_cli_login import CommandRun, IsolatedCommandCase, query_of


class MobileCase(IsolatedCommandCase):
    def setUp(self):
        super().setUp()
        self.db_path = self.tmp / "backend.sqlite3"
        cfg = demo_settings(backend_db=str(self.db_path))
        self.running, self.console = start_test_demo(cfg)
        self.addCleanup(self.running.stop)
        self.auth = self.running.auth

    def mobile(self, *flags, backend: str | None = None) -> CommandRun:
        argv = ["--no-browser", "--timeout", "20", "--backend", backend or self.running.app_url,
                "--env-file", self.env_file, *flags]
        return CommandRun(cli.mobile_main, argv)

    def session_count(self) -> int:
        db = sqlite3.connect(self.db_path)
        try:
            return db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        finally:
            db.close()


class TestMobileApp(MobileCase):
    def test_mobile_login_through_the_backend_end_to_end(self):
        run = self.mobile()
        url = run.authorize_url()
        params = query_of(url)
        self.assertEqual(params["client_id"], "demo-backend")     # the backend's registration
        self.assertEqual(params["code_challenge_method"], "S256")
        self.assertIn("offline_access", params["scope"])          # from GET /auth/config
        redirect = urllib.parse.urlsplit(params["redirect_uri"])
        self.assertEqual((redirect.hostname, redirect.path), ("127.0.0.1", "/callback"))
        self.assertNotIn("client_secret", url)
        page = ScriptedBrowser().get(ScriptedBrowser().login_at_provider(url, user="carol"))
        self.assertIn("You can close this window", page.text)
        self.assertIn("mobile app received the authorization code", page.text)
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        out = run.output
        self.assertIn(f"POST {self.running.app_url}/auth/exchange", out)
        self.assertIn("session_token = eyJ", out)                # abbreviated, not whole
        self.assertIn("chars)", out)
        self.assertIn("Hello Carol Password: the backend accepted your session token", out)
        self.assertIn("Logged in through the backend as Carol Password", out)
        for actor in ("mobile app │", "backend │"):
            self.assertIn(actor, out)
        secret = self.auth.clients["demo-backend"].secret
        self.assertNotIn(secret, out)                              # the app never sees it
        self.assertNotIn(secret, self.console.getvalue())          # nor is it ever printed
        self.assertIn("backend │", self.console.getvalue())        # the backend's own side
        self.assertEqual(self.session_count(), 1)

    def test_user_pressing_deny_stores_nothing(self):
        run = self.mobile()
        ScriptedBrowser().get(ScriptedBrowser().login_at_provider(run.authorize_url(),
                                                                   allow=False))
        self.assertEqual(run.finish(), cli.EXIT_FAILED)
        self.assertIn("access_denied", run.output)
        self.assertEqual(self.session_count(), 0)

    def test_timeout(self):
        run = self.mobile("--timeout", "0.3")
        self.assertEqual(run.finish(), cli.EXIT_TIMEOUT)
        self.assertIn("No login arrived", run.output)

    def test_a_backend_that_is_not_running_is_a_clear_message(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        run = self.mobile(backend=f"http://127.0.0.1:{port}")
        self.assertEqual(run.finish(), cli.EXIT_FAILED)
        self.assertIn("Could not reach", run.output)
        self.assertIn("python3 complete_oauth_demo.py", run.output)
        self.assertNotIn("Traceback", run.output)


if __name__ == "__main__":
    unittest.main()
