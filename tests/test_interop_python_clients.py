"""Widely used Python OAuth clients log in at our embedded authorization server.

* google-auth-oauthlib's ``InstalledAppFlow.run_local_server``, the common installed-app
  helper, as ``demo-cli``: it always listens at ``http://127.0.0.1:PORT/`` (path ``/``,
  issue 14 finding 3) and sends PKCE S256. It runs in a thread with
  ``open_browser=False``; a ScriptedBrowser follows the URL it prints.
* requests-oauthlib's ``OAuth2Session`` with ``pkce="S256"``, as the walkthrough app.

Both are test-only (tests/requirements.txt; .ci/run installs them in .ci/venv): run with
``.ci/venv/bin/python -m unittest``. Without them these tests skip; with CI=true they fail
(interop_support.require_or_skip).
"""
from __future__ import annotations

import contextlib
import io
import os
import queue
import threading
import unittest
from unittest import mock

from oauthdemo.client.useragent import ScriptedBrowser

from . import interop_support
from .demo_fixtures import start_test_demo
from .test_interop import have

FLOW_TIMEOUT = 20   # seconds: a hung flow fails the test instead of hanging CI
# oauthlib refuses http:// endpoints and a changed scope unless told: ours are loopback.
OAUTHLIB_ENV = {"OAUTHLIB_INSECURE_TRANSPORT": "1", "OAUTHLIB_RELAX_TOKEN_SCOPE": "1"}


class PrintedURL:
    """The prompt run_local_server prints: it keeps the URL for the scripted user."""

    def __init__(self):
        self.urls: queue.Queue = queue.Queue()

    def format(self, url: str) -> str:
        self.urls.put(url)
        return f"Please visit this URL: {url}"


class TestPythonClientsAgainstEmbeddedServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()
        cls.meta = cls.running.client.metadata

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def setUp(self):
        patcher = mock.patch.dict(os.environ, OAUTHLIB_ENV)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_google_auth_oauthlib_installed_app_flow_as_demo_cli(self):
        interop_support.require_or_skip(have("google_auth_oauthlib"),
                                        "google-auth-oauthlib is not installed")
        from google_auth_oauthlib.flow import InstalledAppFlow
        flow = InstalledAppFlow.from_client_config({"installed": {
            "client_id": "demo-cli", "client_secret": "",
            "auth_uri": self.meta["authorization_endpoint"],
            "token_uri": self.meta["token_endpoint"]}}, scopes=["openid", "profile", "email"])
        flow.oauth2session.trust_env = False
        prompt, result = PrintedURL(), {}
        runner = threading.Thread(target=self.run_flow, args=(flow, prompt, result), daemon=True)
        runner.start()
        url = prompt.urls.get(timeout=FLOW_TIMEOUT)
        self.assertRegex(url, r"redirect_uri=http%3A%2F%2F127\.0\.0\.1%3A\d+%2F&")
        self.assertIn("code_challenge_method=S256", url)
        callback = ScriptedBrowser().login_at_provider(url, user="bob")
        self.assertEqual(ScriptedBrowser().get(callback).status, 200)   # its own page
        runner.join(FLOW_TIMEOUT)
        self.assertNotIn("error", result)
        credentials = result["credentials"]
        self.assertTrue(credentials.token and credentials.id_token)
        info = flow.authorized_session().get(self.meta["userinfo_endpoint"]).json()
        self.assertEqual(info["email"], "bob@example.org")

    @staticmethod
    def run_flow(flow, prompt: PrintedURL, result: dict):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result["credentials"] = flow.run_local_server(
                    host="127.0.0.1", port=0, open_browser=False,
                    authorization_prompt_message=prompt, timeout_seconds=FLOW_TIMEOUT)
        except Exception as err:   # reported by the test, not lost in the thread
            result["error"] = repr(err)

    def test_requests_oauthlib_session_with_pkce(self):
        interop_support.require_or_skip(have("requests_oauthlib"),
                                        "requests-oauthlib is not installed")
        from requests_oauthlib import OAuth2Session
        session = OAuth2Session("demo-web-app", redirect_uri=self.running.app_url + "/callback",
                                scope=["openid", "profile", "email"], pkce="S256")
        session.trust_env = False
        url, _ = session.authorization_url(self.meta["authorization_endpoint"], nonce="n-roa")
        self.assertIn("code_challenge_method=S256", url)
        callback = ScriptedBrowser().login_at_provider(url, user="carol")
        token = session.fetch_token(self.meta["token_endpoint"], authorization_response=callback,
                                    include_client_id=True)
        self.assertEqual(token["token_type"], "Bearer")
        self.assertIn("id_token", token)
        info = session.get(self.meta["userinfo_endpoint"]).json()
        self.assertEqual(info["email"], "carol@example.net")


if __name__ == "__main__":
    unittest.main()
