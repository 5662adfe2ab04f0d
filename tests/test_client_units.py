"""The OIDC client without sockets: discovery's refusals, a provider's error answers, and
the events each step emits. The provider here is a table of answers behind the client's
own transport seam (``Transport``); everything above it is the real client code.
"""
from __future__ import annotations

import time
import unittest

from oauthdemo.client.oidc import OIDCClient
from oauthdemo.client.pending import PendingLogins
from oauthdemo.client.transport import Transport, basic_authorization
from oauthdemo.core.errors import ConfigError, OAuth2Error, ProviderError
from oauthdemo.core.events import TOKEN, Checked, EventBus, Recorder, Shown, StepStarted
from oauthdemo.core.jose import encode_jwt
from oauthdemo.core.steps import Step
from oauthdemo.settings import Provider

from .support import shared_rsa_key

ISSUER = "https://provider.example/"
CLIENT_ID = "unit-client"
REDIRECT_URI = "http://127.0.0.1:8091/callback"
DISCOVERY_URL = "https://provider.example/.well-known/openid-configuration"
TOKEN_URL = ISSUER + "oauth/token"


def metadata(**changes) -> dict:
    doc = {"issuer": ISSUER, "authorization_endpoint": ISSUER + "authorize",
           "token_endpoint": TOKEN_URL, "jwks_uri": ISSUER + ".well-known/jwks.json",
           "userinfo_endpoint": ISSUER + "userinfo",
           "code_challenge_methods_supported": ["S256"]}
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


class TableTransport(Transport):
    """A provider as a table: url -> (status, JSON body). Records what was sent."""

    def __init__(self, answers: dict):
        super().__init__(timeout=1)
        self.answers = answers
        self.sent: list = []

    def get(self, url, headers=None):
        self.sent.append(("GET", url, None, headers))
        return self.answers[url]

    def post(self, url, data, headers=None):
        self.sent.append(("POST", url, dict(data), headers))
        return self.answers[url]


def discovered(doc: dict | None = None, *, secret: str | None = None, events=None,
               answers: dict | None = None) -> OIDCClient:
    transport = TableTransport({DISCOVERY_URL: (200, doc or metadata()), **(answers or {})})
    return OIDCClient.discover(Provider("oidc", ISSUER, CLIENT_ID, secret), events=events,
                               transport=transport)


class TestDiscovery(unittest.TestCase):
    def test_a_discovered_client_has_its_endpoints(self):
        client = discovered()
        self.assertEqual(client.metadata["authorization_endpoint"], ISSUER + "authorize")
        self.assertEqual(client.metadata["token_endpoint"], TOKEN_URL)
        self.assertEqual(client.jwks.jwks_uri, ISSUER + ".well-known/jwks.json")
        self.assertIs(client.jwks.transport, client.transport)   # one timeout for every call
        self.assertEqual(client.transport.sent, [("GET", DISCOVERY_URL, None, None)])

    def test_the_timeout_reaches_every_call(self):
        client = OIDCClient.discover(
            Provider("oidc", ISSUER, CLIENT_ID),
            transport=TableTransport({DISCOVERY_URL: (200, metadata())}))
        client.transport.timeout = 0.25
        self.assertEqual((client.timeout, client.jwks.transport.timeout), (0.25, 0.25))

    def test_discovery_refuses_an_issuer_mismatch(self):
        """Discovery 1.0 §4.3: another issuer in the document is another server."""
        for issuer in ("https://provider.example", "https://evil.example/", None):
            with self.subTest(issuer=issuer), self.assertRaises(ConfigError):
                discovered(metadata(issuer=issuer))

    def test_discovery_refuses_a_provider_without_s256(self):
        for methods in (["plain"], []):
            with self.subTest(methods=methods), self.assertRaises(ConfigError):
                discovered(metadata(code_challenge_methods_supported=methods))

    def test_discovery_refuses_a_document_without_an_endpoint(self):
        for member in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            with self.subTest(member=member), self.assertRaises(ConfigError):
                discovered(metadata(**{member: None}))

    def test_discovery_refuses_an_error_answer(self):
        with self.assertRaises(ConfigError):
            discovered(answers={DISCOVERY_URL: (404, {"error": "not_found"})})

    def test_no_client_exists_without_a_checked_document(self):
        with self.assertRaises(ConfigError):
            OIDCClient(Provider("oidc", ISSUER, CLIENT_ID), metadata(issuer="https://evil.example/"))


class TestProviderErrors(unittest.TestCase):
    """RFC 6749 §5.2: the provider's code is kept; its 4xx kept, anything else a 502."""

    def test_from_response_keeps_the_code_and_a_4xx(self):
        cases = [(400, "invalid_grant", 400), (401, "invalid_client", 401),
                 (403, "invalid_grant", 403), (500, "server_error", 502),
                 (503, "temporarily_unavailable", 502), (302, "invalid_request", 502)]
        for status, code, expected in cases:
            with self.subTest(status=status):
                err = OAuth2Error.from_response({"error": code, "error_description": "d"}, status)
                self.assertIsInstance(err, ProviderError)
                self.assertEqual((err.error, err.status_code), (code, expected))

    def test_from_response_without_a_code_is_invalid_response(self):
        err = OAuth2Error.from_response({}, 400)
        self.assertEqual((err.error, err.status_code), ("invalid_response", 400))

    def test_token_endpoint_error_answer_becomes_that_error(self):
        for status, expected in ((400, 400), (403, 403), (500, 502)):
            recorder = Recorder()
            client = discovered(events=EventBus(recorder), answers={
                TOKEN_URL: (status, {"error": "invalid_grant", "error_description": "used"})})
            recorder.events.clear()   # discovery's own lines: tests/test_discovery_steps.py
            with self.subTest(status=status), self.assertRaises(OAuth2Error) as caught:
                client.post_token({"grant_type": "authorization_code"}, {})
            self.assertEqual((caught.exception.error, caught.exception.status_code),
                             ("invalid_grant", expected))
            self.assertEqual([c.ok for c in recorder.of(Checked)], [False])

    def test_error_on_the_callback_keeps_its_code_and_uses_the_state_up(self):
        client, pending = discovered(), PendingLogins()
        req = client.begin(REDIRECT_URI, browser="b1")
        pending.add(req)
        with self.assertRaises(OAuth2Error) as caught:
            client.check_callback({"error": "access_denied", "state": req.state}, pending, "b1")
        self.assertEqual((caught.exception.error, caught.exception.status_code),
                         ("access_denied", 400))
        self.assertIsNone(pending.peek(req.state))


class TestEvents(unittest.TestCase):
    def setUp(self):
        self.recorder = Recorder()
        self.events = EventBus(self.recorder)

    def shown(self) -> dict:
        return {e.label.strip(): e for e in self.recorder.of(Shown)}

    def test_begin_emits_steps_2_and_3_and_shows_the_verifier(self):
        client = discovered(events=self.events)
        self.recorder.events.clear()   # discovery's own step: tests/test_discovery_steps.py
        req = client.begin(REDIRECT_URI, browser="b1")
        steps = [e.step for e in self.recorder.of(StepStarted)]
        self.assertEqual(steps, [Step.PKCE_SECRETS, Step.REDIRECT])
        self.assertEqual({e.flow for e in self.recorder.of(StepStarted)}, {req.flow})
        shown = self.shown()
        self.assertEqual(shown["code_verifier"].value, req.verifier)
        self.assertEqual(shown["code_challenge"].value, req.challenge)
        self.assertEqual(shown["code_challenge_method"].value, "S256")
        self.assertEqual(self.recorder.events[-1].actor, "browser")   # the 302

    def test_a_silent_client_emits_nothing_anywhere(self):
        client = discovered()
        client.begin(REDIRECT_URI)
        self.assertEqual(self.recorder.events, [])

    def test_token_request_shows_the_code_as_a_token_and_the_secret_as_a_secret(self):
        client = discovered(metadata(token_endpoint_auth_methods_supported=["client_secret_post"]),
                            secret="s3cret-value", events=self.events,
                            answers={TOKEN_URL: (400, {"error": "invalid_grant"})})
        req = client.begin(REDIRECT_URI)
        with self.assertRaises(OAuth2Error):
            client.exchange_code("the-code", req)
        shown = self.shown()
        self.assertEqual(shown["code"].kind, TOKEN)
        # Review finding: the secret is masked before it enters an event, so no subscriber
        # (a recorder, a future HTTP log) ever holds it.
        self.assertNotIn("s3cret-value", str(self.recorder.events))
        self.assertTrue(shown["client_secret"].value.startswith("••••"))
        self.assertEqual(shown["code_verifier"].value, req.verifier)
        self.assertIn(Step.TOKEN_REQUEST, [e.step for e in self.recorder.of(StepStarted)])
        # The walkthrough page shows the trace: the secret is masked there, never sent as is.
        self.assertNotIn("s3cret-value", str(req.trace["token_request"]))
        self.assertEqual(client.transport.sent[-1][2]["client_secret"], "s3cret-value")

    def test_basic_authentication_is_shown_as_a_secret(self):
        client = discovered(secret="s3cret-value", events=self.events,
                            answers={TOKEN_URL: (400, {"error": "invalid_grant"})})
        req = client.begin(REDIRECT_URI)
        with self.assertRaises(OAuth2Error):
            client.exchange_code("the-code", req)
        self.assertTrue(self.shown()["Authorization"].value.startswith("Basic •"))
        self.assertNotIn("s3cret-value", str(self.recorder.events))
        secret_b64 = basic_authorization(CLIENT_ID, "s3cret-value").split()[1]
        self.assertNotIn(secret_b64, str(self.recorder.events))
        self.assertTrue(req.trace["token_request"]["Authorization"].startswith("Basic •"))

    def test_a_whole_login_emits_steps_6_7_and_9(self):
        key = shared_rsa_key()
        client = discovered(events=self.events)
        client.pin_key(key.public_key)             # no JWKS fetch: the key is known
        pending = PendingLogins()
        req = client.begin(REDIRECT_URI, browser="b1")
        pending.add(req)
        now = int(time.time())
        id_token = encode_jwt({"iss": ISSUER, "aud": CLIENT_ID, "sub": "u1", "iat": now,
                               "exp": now + 300, "nonce": req.nonce}, key)
        client.transport.answers[TOKEN_URL] = (200, {"access_token": "at", "token_type": "Bearer",
                                                     "id_token": id_token})
        result = client.complete({"code": "c1", "state": req.state, "iss": ISSUER}, pending, "b1")
        self.assertEqual(result.id_claims["sub"], "u1")
        steps = [e.step for e in self.recorder.of(StepStarted)]
        self.assertEqual(steps[3:], [Step.CALLBACK, Step.TOKEN_REQUEST, Step.ID_TOKEN])
        self.assertTrue(all(c.ok for c in self.recorder.of(Checked)))
        self.assertEqual({e.kind for e in self.recorder.of(Shown) if e.label.strip() in
                          ("authorization code", "access_token", "id_token")}, {TOKEN})


if __name__ == "__main__":
    unittest.main()
