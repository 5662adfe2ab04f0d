"""The cold read's findings on the client, native and lab-device side (items 7, 8, 9, 14, 15,
18): one spelling of each grant, one token-answer check, one PAR-answer check whoever
pushes, the pusher and the HTTP log's bus given at construction, and the device-phishing
card reading the consent page's data attributes through the lab client's transport.
"""
from __future__ import annotations

import inspect
import unittest
from types import SimpleNamespace

from oauthdemo.client import par
from oauthdemo.client import transport as transport_module
from oauthdemo.client.oidc import OIDCClient, check_token_answer
from oauthdemo.core import grants
from oauthdemo.core.errors import OAuth2Error, ProviderBadResponse
from oauthdemo.core.events import HttpExchange
from oauthdemo.native import device_login, machine_token, mobile
from oauthdemo.settings import Provider
from oauthdemo.teaching import device_attack

from .demo_fixtures import latest_session, log_in, start_test_demo
from .test_client_units import CLIENT_ID, ISSUER, discovered, metadata

VIA = "http://127.0.0.1:9/auth/par"
OWNED = (device_login, machine_token, mobile, device_attack, par)


class GrantNamesTest(unittest.TestCase):
    def test_finding9_one_spelling_of_each_grant(self):
        self.assertEqual(grants.DEVICE_CODE, "urn:ietf:params:oauth:grant-type:device_code")
        self.assertEqual(grants.SLOW_DOWN_STEP, 5)   # RFC 8628 §3.5
        self.assertIs(device_login.DEVICE_GRANT, grants.DEVICE_CODE)
        self.assertIs(device_login.SLOW_DOWN_STEP, grants.SLOW_DOWN_STEP)
        self.assertIs(device_attack.GRANT_TYPE, grants.DEVICE_CODE)
        self.assertIs(machine_token.GRANT_TYPE, grants.CLIENT_CREDENTIALS)
        for module in OWNED:
            self.assertNotIn('"urn:ietf:params:oauth:grant-type', inspect.getsource(module),
                             module.__name__)


class TokenAnswerTest(unittest.TestCase):
    def test_finding7_one_token_answer_check(self):
        self.assertIs(device_login.check_token_answer, check_token_answer)
        self.assertFalse(hasattr(device_login, "bearer_answer"))
        for body in ({}, {"access_token": "x"}, {"access_token": "x", "token_type": "DPoP"},
                     {"access_token": "", "token_type": "Bearer"}):
            with self.subTest(body=body), self.assertRaises(ProviderBadResponse):
                check_token_answer(body)
        ok = {"access_token": "x", "token_type": "bearer"}   # RFC 6749 §5.1: case-insensitive
        self.assertIs(check_token_answer(ok), ok)


def pushing_client(answer: tuple):
    """What front_channel reads of a client: its provider, metadata and pusher."""
    return SimpleNamespace(provider=Provider("oidc", ISSUER, CLIENT_ID, use_par=True),
                           metadata=metadata(), pusher=lambda client, params: answer)


class PushedAnswerTest(unittest.TestCase):
    PARAMS = {"client_id": CLIENT_ID, "state": "s", "redirect_uri": "http://127.0.0.1/cb"}

    def test_finding8_a_pushers_answer_is_checked_by_front_channel(self):
        front, answer = par.front_channel(
            pushing_client((200, {"request_uri": "urn:r", "expires_in": 60}, VIA)), self.PARAMS)
        self.assertEqual(front, {"client_id": CLIENT_ID, "request_uri": "urn:r"})   # §4
        self.assertEqual(answer, {"request_uri": "urn:r", "expires_in": 60, "via": VIA})
        for raw, error in (((200, {}, VIA), ProviderBadResponse),
                           ((201, {"request_uri": 7}, VIA), ProviderBadResponse),
                           ((400, {"error": "invalid_request"}, VIA), OAuth2Error)):
            with self.subTest(raw=raw), self.assertRaises(error) as caught:
                par.front_channel(pushing_client(raw), self.PARAMS)
            if raw[0] == 400:
                self.assertEqual(caught.exception.error, "invalid_request")

    def test_finding15_use_par_is_the_providers_field(self):
        self.assertFalse(par.wants_par(Provider("oidc", ISSUER, CLIENT_ID), metadata()))
        self.assertTrue(par.wants_par(Provider("oidc", ISSUER, CLIENT_ID, use_par=True),
                                      metadata()))
        self.assertNotIn("getattr", inspect.getsource(par.wants_par))

    def test_finding14_the_pusher_is_given_at_construction(self):
        pusher = mobile.backend_pusher("http://127.0.0.1:9")
        client = OIDCClient.discover(Provider("oidc", ISSUER, CLIENT_ID),
                                     transport=discovered().transport, pusher=pusher)
        self.assertIs(client.pusher, pusher)
        self.assertIsNone(discovered().pusher)   # none: it pushes itself (par.send)
        self.assertNotIn("client.pusher =", inspect.getsource(mobile))
        self.assertFalse(hasattr(transport_module.Transport, "report_to"))


class DevicePhishingCardTest(unittest.TestCase):
    """One demo: the card's calls go through the lab client's transport (the HTTP log's bus)
    and its verdict reads the consent page's data attributes."""

    @classmethod
    def setUpClass(cls):
        cls.running, _ = start_test_demo()
        cls.addClassCleanup(cls.running.stop)
        cls.sent = []
        cls.running.app.events.subscribe(
            lambda e: cls.sent.append(e) if isinstance(e, HttpExchange) else None)
        log_in(cls.running)
        cls.result = cls.running.app.lab.run("m", "q2-browser",
                                             latest_session(cls.running).tokens)

    def test_finding14_the_apps_transport_reports_to_its_bus_from_the_start(self):
        self.assertIs(self.running.client.transport.events, self.running.app.events)

    def test_finding18_the_attackers_calls_go_through_the_transport(self):
        back = [(e.method, e.url) for e in self.sent if e.channel == "back"]
        auth = self.running.auth
        for path in ("/oauth/device/code", "/oauth/token", "/oauth/revoke"):
            self.assertIn(("POST", auth.url(path)), back, path)

    def test_finding18_refused_reads_the_consent_pages_attributes(self):
        self.assertTrue(self.result["rejected"])   # the real page carried them
        consent = device_attack.ConsentText("Demo CLI", "demo-cli", "ABCD-EFGH",
                                            device_attack.DEFENCE, "")
        answers = {"pending": (400, {"error": "authorization_pending"}),
                   "denied": (400, {"error": "access_denied"}),
                   "device": {"client_id": "demo-cli", "user_code": "ABCD-EFGH"}}
        self.assertTrue(device_attack.refused(dict(answers, consent=consent)))
        for changed in ({"defence": ""}, {"client_id": "other"}, {"user_code": "WXYZ-WXYZ"}):
            with self.subTest(changed=changed):
                bad = device_attack.ConsentText(**{**consent.__dict__, **changed})
                self.assertFalse(device_attack.refused(dict(answers, consent=bad)))

    def test_finding18_consent_text_is_read_from_the_attributes(self):
        page = SimpleNamespace(text=(
            '<h1>Allow <span class="client" data-client-name="A &amp; B">A &amp; B</span>'
            '</h1><section data-client-id="c1"><h2 id="warning" data-defence="started-here-'
            'only">Only approve\n  if you started this</h2><code data-user-code="ABCD-EFGH">'
            '</code></section>'))
        self.assertEqual(device_attack.consent_text(page), device_attack.ConsentText(
            "A & B", "c1", "ABCD-EFGH", device_attack.DEFENCE,
            "Only approve if you started this"))


if __name__ == "__main__":
    unittest.main()
