"""The cold security review's findings 5, 6, 9 and 10: the device client's poll interval
(RFC 8628 §3.5), the logout hint's token type (RFC 8725 §3.11), the body of a bare Bearer
challenge (RFC 6750 §3.1), and one client authentication method per request (RFC 6749
§2.3, at PAR and at the token endpoint)."""
from __future__ import annotations

import json
import unittest
import urllib.parse
from types import SimpleNamespace

from oauthdemo.client.transport import basic_authorization
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core import jose
from oauthdemo.core.claims import check_type
from oauthdemo.core.errors import ClaimMismatch, InvalidRequest, LoginTimedOut
from oauthdemo.core.events import EventBus
from oauthdemo.native import device_login
from oauthdemo.server.logout import ID_TOKEN_TYPES, client_id_of_hint

from .demo_fixtures import Clock, latest_session, log_in, start_test_demo
from .test_par import post_form   # (status, JSON body) of a back-channel POST


class TestFinding5DeviceInterval(unittest.TestCase):
    """RFC 8628 §3.5: the client waits the interval the server asks for, however long."""
    ANSWER = {"device_code": "d" * 43, "user_code": "BCDF-GHJK", "expires_in": 600,
              "verification_uri": "https://idp.example/activate", "interval": 65}

    def test_finding5_rfc8628_an_interval_over_a_minute_is_kept(self):
        self.assertEqual(device_login.parse_device_answer(dict(self.ANSWER)).interval, 65)

    def test_finding5_rfc8628_slow_down_adds_five_seconds_past_a_minute(self):
        interval, _ = device_login.next_interval(EventBus(), {"error": "slow_down"}, 400, 60, None)
        self.assertEqual(interval, 65)

    def test_finding5_an_interval_past_the_timeout_stops_at_once(self):
        grant = device_login.parse_device_answer(dict(self.ANSWER))
        slept = []
        opts = device_login.DeviceOptions(timeout=60, sleep=slept.append, clock=lambda: 0.0)
        # The stop comes before any POST: the client's transport is never reached.
        client = SimpleNamespace(events=EventBus(), transport=None,
                                 metadata={"token_endpoint": "https://idp.example/token"})
        with self.assertRaises(LoginTimedOut) as ctx:
            device_login.poll_for_tokens(client, grant, opts)
        self.assertEqual(slept, [])                      # no pointless wait, no early poll
        self.assertIn("due in 65 s", ctx.exception.description)
        self.assertIn("--timeout", ctx.exception.description)


class TestReviewFindingsOverHttp(unittest.TestCase):
    """Findings 6, 9 and 10 over real sockets: one demo, one login, for the class."""

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo(clock=Clock())
        cls.auth = cls.running.auth
        cls.meta = cls.running.client.metadata
        log_in(cls.running)
        cls.tokens = latest_session(cls.running).tokens
        cls.service = cls.auth.clients[cls.auth.service_client_id]
        cls.backend = cls.auth.clients[cls.auth.backend_client_id]

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def basic(self, client) -> dict:
        return {"Authorization": basic_authorization(client.client_id, client.secret)}

    # -- finding 6: an access token is not an id_token_hint ---------------------------------
    def logout(self, hint: str):
        query = urllib.parse.urlencode({"id_token_hint": hint})
        return ScriptedBrowser().get(self.meta["end_session_endpoint"] + "?" + query)

    def machine_access_token(self) -> str:
        """A real access token of this server whose single aud would pass for a client's."""
        status, body = post_form(self.meta["token_endpoint"], {"grant_type": "client_credentials"},
                                 self.basic(self.service))
        self.assertEqual(status, 200, body)
        return body["access_token"]

    def test_finding6_rfc8725_access_token_refused_as_id_token_hint(self):
        for access_token in (self.machine_access_token(), self.tokens["access_token"]):
            self.assertEqual(jose.decode_unverified(access_token)[0].get("typ"), "at+jwt")
            with self.subTest(aud=jose.decode_unverified(access_token)[1]["aud"]):
                with self.assertRaises(InvalidRequest):
                    client_id_of_hint(access_token, key_for_kid=self.auth.access_tokens.key_for_kid,
                                      issuer=self.auth.issuer, now=self.auth.now())
                refused = self.logout(access_token)
                self.assertEqual((refused.status, refused.location), (400, None))
        self.assertEqual(self.logout(self.tokens["id_token"]).status, 200)   # the ID token: yes

    def test_finding6_check_type_allows_only_the_named_types(self):
        with self.assertRaises(ClaimMismatch):
            check_type({"typ": "at+jwt"}, ID_TOKEN_TYPES)
        check_type({"typ": "JWT"}, ID_TOKEN_TYPES)
        check_type({}, ID_TOKEN_TYPES)

    # -- finding 9: RFC 6750 §3.1, no error code anywhere without credentials ---------------
    def test_finding9_rfc6750_no_credentials_no_error_code_in_header_or_body(self):
        resp = ScriptedBrowser().get(self.meta["userinfo_endpoint"])
        self.assertEqual(resp.status, 401)
        self.assertRegex(resp.headers["WWW-Authenticate"], r'^Bearer realm="[^"]+"$')
        self.assertNotIn("error=", resp.headers["WWW-Authenticate"])
        body = json.loads(resp.text)
        self.assertNotIn("error", body)
        self.assertNotIn("error_description", body)
        bad = ScriptedBrowser().get(self.meta["userinfo_endpoint"],
                                    headers={"Authorization": "Bearer x.y.z"})
        self.assertEqual(json.loads(bad.text)["error"], "invalid_token")   # a token: its code

    # -- finding 10: one client, one authentication method ----------------------------------
    def par_params(self, client_id: str, redirect_uri: str) -> dict:
        return {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                "scope": "openid", "state": "s" * 22, "code_challenge_method": "S256",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}

    def test_finding10_par_body_client_id_must_be_the_authenticated_client(self):
        params = self.par_params(self.auth.web_client_id, self.running.app_url + "/callback")
        status, body = post_form(self.auth.url("/oauth/par"), params, self.basic(self.service))
        self.assertEqual((status, body["error"]), (401, "invalid_client"))

    def test_finding10_rfc6749_par_refuses_two_authentication_methods(self):
        params = self.par_params(self.backend.client_id, "http://127.0.0.1:5000/callback")
        url = self.auth.url("/oauth/par")
        status, body = post_form(url, dict(params, client_secret=self.backend.secret),
                                 self.basic(self.backend))
        self.assertEqual((status, body["error"]), (401, "invalid_client"))
        self.assertEqual(post_form(url, params, self.basic(self.backend))[0], 201)   # one: fine

    def test_finding10_rfc6749_token_endpoint_refuses_two_methods_or_two_clients(self):
        url, basic = self.meta["token_endpoint"], self.basic(self.service)
        grant = {"grant_type": "client_credentials"}
        for extra in ({"client_secret": self.service.secret},
                      {"client_id": self.auth.web_client_id}):
            with self.subTest(extra=list(extra)):
                status, body = post_form(url, dict(grant, **extra), basic)
                self.assertEqual((status, body["error"]), (401, "invalid_client"))
        same = dict(grant, client_id=self.service.client_id)   # repeating the header's id: fine
        self.assertEqual(post_form(url, same, basic)[0], 200)


if __name__ == "__main__":
    unittest.main()
