"""Pushed Authorization Requests (RFC 9126), end to end against the real embedded server.

The server: /oauth/par (§2), the request_uri answer (§2.2), /authorize with client_id and
request_uri (§4: single use, short-lived, bound to the client; other URL parameters are
ignored), require_pushed_authorization_requests (§5 the server, §6 a client). The client:
it pushes when the provider requires it or when asked (``use_par``), and the browser's URL
then carries only client_id and request_uri.
"""
from __future__ import annotations

import json
import unittest
import urllib.parse
import urllib.request

import pkce
from oauthdemo import cli, settings
from oauthdemo.client.transport import basic_authorization
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.server.par import REQUEST_URI_PREFIX, REQUEST_URI_TTL

from .demo_fixtures import Clock, demo_settings, log_in, query_of, start_test_demo
from .support import error_code
from .test_cli_login import LoginCase


def post_form(url: str, data: dict, headers: dict | None = None) -> tuple:
    """(status, JSON body) of a back-channel POST."""
    req = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode(),
                                 headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


class ParServer(unittest.TestCase):
    """One demo, PAR offered but not required; the clock is the test's."""

    @classmethod
    def setUpClass(cls):
        cls.clock = Clock()
        cls.running, cls.console = start_test_demo(clock=cls.clock)
        cls.auth = cls.running.auth
        cls.par_url = cls.auth.url("/oauth/par")

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def request_params(self, **overrides) -> dict:
        _, challenge = pkce.make_pair()
        params = {"response_type": "code", "client_id": self.auth.web_client_id,
                  "redirect_uri": self.running.app_url + "/callback", "scope": "openid",
                  "code_challenge": challenge, "code_challenge_method": "S256",
                  "state": "s" * 22, "nonce": "n" * 22}
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def push(self, **overrides) -> tuple:
        return post_form(self.par_url, self.request_params(**overrides))

    def authorize(self, query: dict):
        return ScriptedBrowser().get(self.auth.url("/authorize?")
                                     + urllib.parse.urlencode(query))

    def test_rfc9126_discovery_names_the_endpoint(self):
        meta = self.auth.metadata()
        self.assertEqual(meta["pushed_authorization_request_endpoint"], self.par_url)
        self.assertIs(meta["require_pushed_authorization_requests"], False)

    def test_rfc9126_push_answers_201_with_a_request_uri(self):
        status, body = self.push()
        self.assertEqual(status, 201)
        self.assertTrue(body["request_uri"].startswith(REQUEST_URI_PREFIX))
        self.assertEqual(body["expires_in"], REQUEST_URI_TTL)

    def test_rfc9126_push_must_not_carry_request_uri(self):
        status, body = self.push(request_uri=REQUEST_URI_PREFIX + "x")
        self.assertEqual((status, body["error"]), (400, "invalid_request"))

    def test_rfc9126_push_is_checked_as_authorize_would(self):
        for bad in ({"code_challenge": None}, {"code_challenge_method": "plain"},
                    {"redirect_uri": "https://evil.example/callback"}):
            with self.subTest(bad=bad):
                status, body = self.push(**bad)
                self.assertEqual((status, body["error"]), (400, "invalid_request"))
        status, body = self.push(scope="admin")
        self.assertEqual((status, body["error"]), (400, "invalid_scope"))

    def test_rfc9126_confidential_client_authenticates(self):
        backend = self.auth.clients[self.auth.backend_client_id]
        loopback = "http://127.0.0.1:5000/callback"
        status, body = self.push(client_id=backend.client_id, redirect_uri=loopback)
        self.assertEqual((status, body["error"]), (401, "invalid_client"))
        params = self.request_params(client_id=backend.client_id, redirect_uri=loopback)
        status, body = post_form(self.par_url, params, {
            "Authorization": basic_authorization(backend.client_id, backend.secret)})
        self.assertEqual(status, 201)

    def test_rfc9126_request_uri_is_single_use(self):
        _, body = self.push()
        query = {"client_id": self.auth.web_client_id, "request_uri": body["request_uri"]}
        self.assertEqual(self.authorize(query).status, 200)
        again = self.authorize(query)
        self.assertEqual(error_code(again), "invalid_request_uri")

    def test_rfc9126_request_uri_is_bound_to_the_client(self):
        _, body = self.push()
        answer = self.authorize({"client_id": self.auth.native_client_id,
                                 "request_uri": body["request_uri"]})
        self.assertEqual(error_code(answer), "invalid_request_uri")
        answer = self.authorize({"client_id": self.auth.web_client_id,   # not used up by that
                                 "request_uri": body["request_uri"]})
        self.assertEqual(answer.status, 200)

    def test_rfc9126_request_uri_expires(self):
        _, body = self.push()
        self.clock.advance(REQUEST_URI_TTL + 1)
        answer = self.authorize({"client_id": self.auth.web_client_id,
                                 "request_uri": body["request_uri"]})
        self.assertEqual(error_code(answer), "invalid_request_uri")

    def test_rfc9126_url_parameters_cannot_change_a_pushed_request(self):
        """§4: the pushed request is the request; a tampered URL parameter is ignored."""
        pushed = self.request_params()
        _, body = post_form(self.par_url, pushed)
        _, tampered = pkce.make_pair()
        page = self.authorize({"client_id": self.auth.web_client_id,
                               "request_uri": body["request_uri"],
                               "code_challenge": tampered, "scope": "openid offline_access",
                               "redirect_uri": "https://evil.example/callback"})
        self.assertEqual(page.status, 200)
        self.assertIn(pushed["code_challenge"], page.text)
        self.assertNotIn(tampered, page.text)
        self.assertNotIn("evil.example", page.text)

    def test_rfc9126_attack_lab_tampered_url_cannot_change_a_pushed_request(self):
        result = self.running.app.lab.run("l", "victim")
        self.assertTrue(result["ran"] and result["rejected"], result["stopped_by"])
        self.assertEqual(result["response"]["body"]["code sent to"],
                         self.running.app_url + "/callback")
        self.assertIn("refused: tampered parameters ignored", self.console.getvalue())

    def test_rfc9126_required_for_one_client(self):
        """§6: a client registered with require_pushed_authorization_requests."""
        cli = self.auth.native_client_id
        self.auth.clients.require_par(cli)
        try:
            answer = self.authorize(self.request_params(
                client_id=cli, redirect_uri="http://127.0.0.1:5000/callback"))
        finally:
            self.auth.clients.require_par(cli, required=False)
        self.assertEqual(answer.status, 303)
        self.assertEqual(query_of(answer.location)["error"], "invalid_request")


class ParRequired(unittest.TestCase):
    """The server requires PAR (EMBEDDED_REQUIRE_PAR): the web app pushes on its own."""

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo(demo_settings(embedded_require_par=True))
        cls.auth = cls.running.auth

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_rfc9126_discovery_says_required(self):
        self.assertIs(self.auth.metadata()["require_pushed_authorization_requests"], True)

    def test_rfc9126_unpushed_request_is_refused(self):
        start = ScriptedBrowser().get(self.running.app_url + "/login")
        url = urllib.parse.urlsplit(start.location)
        self.assertEqual(set(query_of(start.location)), {"client_id", "request_uri"})
        _, challenge = pkce.make_pair()
        unpushed = {"response_type": "code", "client_id": self.auth.web_client_id,
                    "redirect_uri": self.running.app_url + "/callback", "scope": "openid",
                    "code_challenge": challenge, "code_challenge_method": "S256"}
        answer = ScriptedBrowser().get(f"{url.scheme}://{url.netloc}{url.path}?"
                                       + urllib.parse.urlencode(unpushed))
        self.assertEqual(query_of(answer.location)["error"], "invalid_request")

    def test_rfc9126_web_login_pushes_and_the_url_carries_only_two_parameters(self):
        seen = []

        def at_provider(browser, authorize_url, user):
            seen.append(authorize_url)
            return ScriptedBrowser.login_at_provider(browser, authorize_url, user)

        browser = ScriptedBrowser()
        browser.login(self.running.app_url, "alice", at_provider=at_provider)
        self.assertEqual(set(query_of(seen[0])), {"client_id", "request_uri"})
        self.assertIn("POST " + self.auth.url("/oauth/par"), self.console.getvalue())
        page = browser.get(self.running.app_url + "/walkthrough").text   # Step 3, pushed
        self.assertIn("POST " + self.auth.url("/oauth/par"), page)
        self.assertIn(query_of(seen[0])["request_uri"], page)


class ParOnRequest(unittest.TestCase):
    """The client pushes when asked (OIDC_USE_PAR / --par), though the server does not
    require it."""

    @classmethod
    def setUpClass(cls):
        provider = settings.Provider("embedded", client_id=settings.WEB_CLIENT_ID, use_par=True)
        cls.running, _ = start_test_demo(demo_settings(provider=provider, use_par=True))

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_rfc9126_client_pushes_on_request(self):
        start = ScriptedBrowser().get(self.running.app_url + "/login")
        self.assertEqual(set(query_of(start.location)), {"client_id", "request_uri"})
        log_in(self.running)

    def test_use_par_setting_from_the_environment(self):
        cfg = settings.build(None, {"OIDC_USE_PAR": "true", "EMBEDDED_REQUIRE_PAR": "1"})
        self.assertTrue(cfg.provider.use_par)
        self.assertTrue(cfg.embedded_require_par)


class CliLoginWithPar(LoginCase):
    """The CLI pushes too (--par), through the same client code path."""

    def test_rfc9126_cli_login_pushes_on_request(self):
        run = self.login("--par")
        self.assertEqual(set(query_of(run.authorize_url())), {"client_id", "request_uri"})
        self.assertEqual(self.play_browser(run).status, 200)
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        self.assertIn("Logged in as Alice Example", run.output)


if __name__ == "__main__":
    unittest.main()
