"""A second cold review's findings 4, 6 and 9, each a named test.

4: a JSON body with a lone surrogate ("\\ud800") is a 400 invalid_request, not a 500 when a
   handler later encodes it (the token endpoint, the app's /auth/exchange and /auth/par).
6: a callback from the wrong browser does not use up the owner's pending login.
9: configured embedded client secrets must be RFC 3986 unreserved characters.
"""
from __future__ import annotations

import http.client
import json
import tempfile
import unittest
import urllib.parse

from oauthdemo import cli, settings
from oauthdemo.client.pending import AuthRequest, PendingLogins
from oauthdemo.core.errors import ConfigError, InvalidState
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.server import clients
from tests.demo_fixtures import Clock, start_test_demo
from tests.support import error_code

LONE_SURROGATE = "\ud800"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def post_json(base: str, path: str, body: dict) -> tuple:
    """POST ``body`` as JSON (json.dumps writes the lone surrogate as the escape \\ud800)."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(body).encode("ascii"),
                     headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        return answer.status, answer.read(), answer.getheader("Content-Type", "")
    finally:
        conn.close()


class DemoFindingsTest(unittest.TestCase):
    """Findings 4 and 6, against one running demo."""

    @classmethod
    def setUpClass(cls):
        cls.running, _console = start_test_demo()
        cls.addClassCleanup(cls.running.stop)


    def assert_invalid_request(self, base: str, path: str, body: dict):
        status, answer, ctype = post_json(base, path, body)
        self.assertEqual(status, 400, answer[:300])
        self.assertEqual(error_code(answer, ctype), "invalid_request")

    def test_review2_4_token_endpoint_refuses_a_lone_surrogate(self):
        issuer = self.running.auth.issuer.rstrip("/")
        app = self.running.app_url
        for grant in ({"grant_type": "authorization_code", "code": LONE_SURROGATE,
                       "code_verifier": "a" * 43, "redirect_uri": app + "/callback"},
                      {"grant_type": "refresh_token", "refresh_token": LONE_SURROGATE},
                      {"grant_type": "client_credentials", "client_id": "demo-service",
                       "client_secret": LONE_SURROGATE}):
            with self.subTest(grant=grant["grant_type"]):
                body = {"client_id": settings.WEB_CLIENT_ID, **grant}
                self.assert_invalid_request(issuer, "/oauth/token", body)

    def test_review2_4_app_exchange_refuses_a_lone_surrogate(self):
        for name in ("code", "code_verifier", "redirect_uri", "state"):
            body = {"code": "abc", "code_verifier": "a" * 43, "state": "s" * 22,
                    "redirect_uri": "http://127.0.0.1:5000/callback", "nonce": "n" * 22}
            body[name] = LONE_SURROGATE
            with self.subTest(member=name):
                self.assert_invalid_request(self.running.app_url, "/auth/exchange", body)

    def test_review2_4_app_par_refuses_a_lone_surrogate(self):
        for name in ("redirect_uri", "code_challenge", "state"):
            body = {"redirect_uri": "http://127.0.0.1:5000/callback", "state": "s" * 22,
                    "code_challenge": CHALLENGE, "nonce": "n" * 22}
            body[name] = LONE_SURROGATE
            with self.subTest(member=name):
                self.assert_invalid_request(self.running.app_url, "/auth/par", body)

    def test_review2_4_a_surrogate_in_a_key_is_refused_too(self):
        body = {LONE_SURROGATE: "x", "grant_type": "refresh_token", "refresh_token": "x"}
        self.assert_invalid_request(self.running.auth.issuer.rstrip("/"), "/oauth/token", body)

    def test_review2_6_a_wrong_browser_callback_leaves_the_owners_login(self):
        owner, other = ScriptedBrowser(), ScriptedBrowser()
        start = owner.get(self.running.app_url + "/login")
        self.assertEqual(start.status, 302, start.text[:300])
        callback = owner.login_at_provider(start.location)
        refused = other.get(callback)            # someone who saw the callback URL
        self.assertEqual(refused.status, 400, refused.text[:300])
        self.assertEqual(error_code(refused), "invalid_state")
        done = owner.get(callback)               # the owner's login still finishes
        self.assertEqual(done.status, 303, done.text[:300])
        self.assertEqual(done.location, self.running.app_url + "/")

    def test_review2_6_pending_take_checks_the_browser_before_using_up_the_state(self):
        clock = Clock()
        logins = PendingLogins(clock=clock)
        logins.add(AuthRequest("st" * 11, "n" * 22, "v" * 43, CHALLENGE, "http://x/cb",
                               "http://as", "openid", clock(), browser="owner"))
        with self.assertRaises(InvalidState):
            logins.take("st" * 11, "someone-else")
        logins.discard("st" * 11, "someone-else")    # an error callback from elsewhere
        self.assertEqual(logins.take("st" * 11, "owner").browser, "owner")
        with self.assertRaises(InvalidState):        # and then it is used up
            logins.take("st" * 11, "owner")


class ClientSecretSettingTest(unittest.TestCase):
    def build(self, environ: dict) -> settings.Settings:
        with tempfile.NamedTemporaryFile(suffix=".env") as empty:   # no developer .env
            flags = cli.build_login_parser().parse_args(["--env-file", empty.name])
            return settings.build(flags, environ)

    def test_review2_9_configured_secrets_must_be_unreserved_characters(self):
        for env in ("EMBEDDED_SERVICE_CLIENT_SECRET", "EMBEDDED_BACKEND_CLIENT_SECRET"):
            for bad in ("a+b", "50%off", "user:pass", "has space", "é"):
                with self.subTest(env=env, value=bad):
                    with self.assertRaises(ConfigError) as caught:
                        self.build({env: bad})
                    self.assertIn(env, str(caught.exception))
                    self.assertNotIn(bad, str(caught.exception))   # a secret: never echoed
            self.build({env: "Good-secret_1.2~x"})     # unreserved: accepted

    def test_review2_9_accepted_secrets_are_kept(self):
        cfg = self.build({"EMBEDDED_SERVICE_CLIENT_SECRET": "svc-Secret_1.2~x",
                          "EMBEDDED_BACKEND_CLIENT_SECRET": "backend.secret-2"})
        self.assertEqual(cfg.embedded.service_secret, "svc-Secret_1.2~x")
        self.assertEqual(cfg.embedded.backend_secret, "backend.secret-2")

    def test_review2_9_generated_secrets_pass_the_same_rule(self):
        self.assertEqual(self.build({}).embedded_service_secret, "")   # unset: generated
        for _ in range(20):
            self.assertTrue(settings.CLIENT_SECRET.fullmatch(clients.new_secret()))


if __name__ == "__main__":
    unittest.main()
