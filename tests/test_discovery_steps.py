"""Discovery and the JWKS fetch, told as steps of their own (issue 11, item 4).

Before the login, the client fetches the provider's discovery document: the console shows
a heading of its own (Step.DISCOVERY, "Before the login"), the GET, a ✔ that the document's
issuer is exactly the configured one, and the endpoints it names. Inside Step 9, the one
real JWKS fetch is one line: the URL, how many keys, their kids; a cached key fetches
nothing and says nothing. Socketless: the provider is a table behind the client's transport.
"""
from __future__ import annotations

import time
import unittest

from oauthdemo.core.errors import ConfigError
from oauthdemo.core.events import Checked, EventBus, Recorder, Said, Shown, StepStarted
from oauthdemo.core.jose import encode_jwt
from oauthdemo.core.steps import Step

from .support import shared_rsa_key
from .test_client_units import CLIENT_ID, DISCOVERY_URL, ISSUER, discovered, metadata

JWKS_URL = metadata()["jwks_uri"]


class TestDiscoveryStep(unittest.TestCase):
    def setUp(self):
        self.recorder = Recorder()
        self.client = discovered(events=EventBus(self.recorder))

    def test_discover_opens_a_step_of_its_own_before_the_login(self):
        steps = self.recorder.of(StepStarted)
        self.assertEqual([e.step for e in steps], [Step.DISCOVERY])
        self.assertEqual(Step.DISCOVERY.label, "Before the login")
        self.assertEqual(steps[0].flow, "")                 # no login exists yet
        self.assertTrue(any("openid-connect-discovery-1_0.html#ProviderConfig" in url
                            for _, url in Step.DISCOVERY.specs))

    def test_it_shows_the_get_and_a_passed_issuer_check(self):
        self.assertTrue(any(DISCOVERY_URL in e.text for e in self.recorder.of(Said)))
        checks = self.recorder.of(Checked)
        self.assertTrue(checks and all(c.ok for c in checks))
        self.assertTrue(any(ISSUER in c.what for c in checks), checks)

    def test_it_names_the_endpoints_the_login_will_use(self):
        shown = {e.label.strip(): e.value for e in self.recorder.of(Shown)}
        doc = metadata()
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            self.assertEqual(shown.get(name), doc[name], name)

    def test_a_refused_document_is_not_shown_as_checked(self):
        recorder = Recorder()
        with self.assertRaises(ConfigError):
            discovered(metadata(issuer="https://evil.example/"), events=EventBus(recorder))
        self.assertEqual(recorder.of(Checked), [])
        self.assertEqual(recorder.of(StepStarted), [])


class TestJwksFetchLine(unittest.TestCase):
    def setUp(self):
        self.key = shared_rsa_key()
        self.recorder = Recorder()
        self.client = discovered(events=EventBus(self.recorder),
                                 answers={JWKS_URL: (200, {"keys": [self.key.public_key.to_jwk()]})})

    def validate(self):
        now = int(time.time())
        token = encode_jwt({"iss": ISSUER, "aud": CLIENT_ID, "sub": "u1", "iat": now,
                            "exp": now + 300}, self.key)
        self.client.validate_id_token(token, None)

    def jwks_lines(self) -> list:
        return [e.text for e in self.recorder.of(Said) if JWKS_URL in e.text]

    def test_the_first_validation_fetches_once_and_says_so(self):
        self.validate()
        lines = self.jwks_lines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("1 key", lines[0])
        self.assertIn(self.key.kid, lines[0])
        fetches = [s for s in self.client.transport.sent if s[1] == JWKS_URL]
        self.assertEqual(len(fetches), 1)

    def test_the_line_is_inside_step_9(self):
        self.validate()
        events = self.recorder.events
        started = [i for i, e in enumerate(events)
                   if isinstance(e, StepStarted) and e.step is Step.ID_TOKEN]
        line = next(i for i, e in enumerate(events)
                    if isinstance(e, Said) and JWKS_URL in e.text)
        self.assertTrue(started and started[0] < line)

    def test_a_second_validation_with_the_same_kid_fetches_and_says_nothing(self):
        self.validate()
        self.validate()
        self.assertEqual(len(self.jwks_lines()), 1)
        self.assertEqual(len([s for s in self.client.transport.sent if s[1] == JWKS_URL]), 1)

    def test_a_pinned_key_fetches_nothing_and_says_nothing(self):
        self.client.pin_key(self.key.public_key)
        self.validate()
        self.assertEqual(self.jwks_lines(), [])


if __name__ == "__main__":
    unittest.main()
