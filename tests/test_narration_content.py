"""What the console says (issue 11, items 2–6): one flow tag per login, Step 1 once per login,
the reason behind each check, truthful actors and hops, and the attack lab's set-up in one
line. Events are recorded (``core.events.Recorder``) or rendered by a ``Narrator`` on a
StringIO; the demo's real servers are started only where a whole login or the lab needs them.
"""
from __future__ import annotations

import io
import tempfile
import time
import unittest
from pathlib import Path

from oauthdemo.backend.service import Backend
from oauthdemo.backend.store import SessionStore
from oauthdemo.client.oidc import CLAIM_WHY
from oauthdemo.client.pending import PendingLogins
from oauthdemo.core.errors import DemoError, InvalidState, ProviderUnreachable
from oauthdemo.core.events import (AttackStarted, Checked, EventBus, Recorder, Said, Shown,
                                   StepStarted)
from oauthdemo.core.jose import encode_jwt
from oauthdemo.core.steps import Step
from oauthdemo.native import cli_login
from oauthdemo.settings import Provider
from oauthdemo.teaching.narrator import Narrator
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import start_test_demo
from .support import shared_rsa_key
from .test_client_units import CLIENT_ID, ISSUER, REDIRECT_URI, TOKEN_URL, discovered

SECRET = "s3cret-value"
WHY = {claim: CLAIM_WHY[claim] for claim in ("iss", "aud", "exp", "nonce", "sub")}   # the one table


def id_token_for(req, key, *, nonce: str | None = "same") -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": "u1", "iat": now, "exp": now + 300}
    if nonce is not None:
        claims["nonce"] = req.nonce if nonce == "same" else nonce
    return encode_jwt(claims, key)


def socketless_login(events: EventBus, *, secret: str | None = None, browser: str = "b1"):
    """Steps 2–9 of one login against a table of answers (the real client code)."""
    key = shared_rsa_key()
    client = discovered(events=events, secret=secret)
    client.pin_key(key.public_key)
    pending = PendingLogins()
    req = client.begin(REDIRECT_URI, browser=browser)
    pending.add(req)
    client.transport.answers[TOKEN_URL] = (200, {"access_token": "at", "token_type": "Bearer",
                                                 "id_token": id_token_for(req, key)})
    client.complete({"code": "c1", "state": req.state, "iss": ISSUER}, pending, browser)
    return client, req


def rendered(events_of) -> str:
    out = io.StringIO()
    narrator = Narrator(stream=out, colour=False)
    events_of(EventBus(narrator))
    return out.getvalue()


class TestOneFlowOneTag(unittest.TestCase):
    """Item 2: every step heading of a login carries its tag; a forged state none."""

    def test_every_step_of_a_client_login_carries_its_flow_tag_steps_9_included(self):
        recorder = Recorder()
        _, req = socketless_login(EventBus(recorder))
        tagged = {(e.step, e.flow) for e in recorder.of(StepStarted)}
        self.assertEqual(tagged, {(step, req.flow) for step in (
            Step.PKCE_SECRETS, Step.REDIRECT, Step.CALLBACK, Step.TOKEN_REQUEST, Step.ID_TOKEN)}
                         | {(Step.DISCOVERY, "")})     # before any login: no flow to tag

    def test_a_forged_state_is_never_shown_as_a_flow(self):
        recorder = Recorder()
        client = discovered(events=EventBus(recorder))
        recorder.events.clear()   # discovery's own step: tests/test_discovery_steps.py
        with self.assertRaises(InvalidState):
            client.check_callback({"code": "c", "state": "forged-state-value"}, PendingLogins(),
                                  "b1")
        [step6] = recorder.of(StepStarted)
        self.assertEqual((step6.step, step6.flow), (Step.CALLBACK, ""))
        self.assertIn("unknown state", step6.context)

    def test_another_browsers_state_is_not_shown_as_this_browsers_flow(self):
        recorder = Recorder()
        client = discovered(events=EventBus(recorder))
        pending = PendingLogins()
        theirs = client.begin(REDIRECT_URI, browser="attacker")
        pending.add(theirs)
        with self.assertRaises(InvalidState):
            client.check_callback({"code": "c", "state": theirs.state}, pending, "victim")
        self.assertEqual(recorder.of(StepStarted)[-1].flow, "")

    def test_the_backends_steps_carry_the_mobile_apps_flow_tag(self):
        class Unreachable:
            provider = Provider("embedded", "http://localhost:8092/", "demo-backend", SECRET)

            def exchange_code(self, *args, **kwargs):
                raise ProviderUnreachable("not in this test")

        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        recorder = Recorder()
        backend = Backend(Unreachable(), SessionStore(Path(tmp.name) / "b.sqlite3"),
                          events=EventBus(recorder))
        with self.assertRaises(DemoError):
            backend.exchange({"code": "c", "code_verifier": "v" * 43, "nonce": "n",
                              "redirect_uri": "http://127.0.0.1:5000/callback", "flow": "AbC123"})
        self.assertEqual([(e.step, e.flow) for e in recorder.of(StepStarted)],
                         [(Step.TOKEN_REQUEST, "AbC123")])


class RecordedDemo(unittest.TestCase):
    """The demo running on free ports, every event it emits recorded."""

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()
        cls.recorder = cls.running.app.events.subscribe(Recorder())

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()


class TestWebAppConsole(RecordedDemo):
    """Items 2 and 3 on the running demo: one login, the web app and its embedded server."""

    def setUp(self):
        self.recorder.events.clear()

    def test_every_step_heading_of_a_web_login_carries_one_flow_tag(self):
        browser = ScriptedBrowser()
        browser.login(self.running.app_url, "alice")
        browser.get(self.running.app_url + "/api/protected")
        steps = self.recorder.of(StepStarted)
        self.assertEqual([e.step.number for e in steps], list(range(1, 11)))
        self.assertEqual(len({e.flow for e in steps}), 1, [(e.step, e.flow) for e in steps])
        self.assertEqual(len(steps[0].flow), 6)

    def test_the_welcome_page_opens_no_step_heading(self):
        browser = ScriptedBrowser()
        for _ in range(3):
            self.assertEqual(browser.get(self.running.app_url + "/").status, 200)
        self.assertEqual(self.recorder.of(StepStarted), [])
        self.assertTrue(self.recorder.of(Said))   # a plain line is still there


class TestSayWhy(unittest.TestCase):
    """Item 4: each Step 9 check says what it protects against; Step 7 says what kind of
    client is asking."""

    def setUp(self):
        self.recorder = Recorder()

    def test_each_id_token_check_ends_with_what_it_protects_against(self):
        socketless_login(EventBus(self.recorder))
        lines = {c.what.split()[0]: c.what for c in self.recorder.of(Checked)}
        for claim, why in WHY.items():
            with self.subTest(claim=claim):
                self.assertTrue(lines[claim].endswith(f" — {why}"), lines[claim])
        self.assertIn(" — ", lines["iat"])

    def test_the_signature_line_names_the_private_key_and_the_public_half(self):
        socketless_login(EventBus(self.recorder))
        [signature] = [c.what for c in self.recorder.of(Checked) if c.what.startswith("signature")]
        self.assertIn("private key", signature)
        self.assertIn("only the public half", signature)

    def test_the_id_token_header_and_claims_are_shown_as_members(self):
        socketless_login(EventBus(self.recorder))
        shown = {e.label: e.value for e in self.recorder.of(Shown)}
        self.assertEqual(shown["ID token header"]["alg"], "RS256")
        self.assertEqual(shown["ID token claims"]["sub"], "u1")

    def test_a_public_clients_step_7_says_pkce_proves_it(self):
        socketless_login(EventBus(self.recorder))
        self.assertIn("no client_secret: this is a public client; PKCE is what proves it is the "
                      "same client", [e.text for e in self.recorder.of(Said)])

    def test_a_confidential_clients_step_7_names_its_masked_secret(self):
        socketless_login(EventBus(self.recorder), secret=SECRET)
        said = " ".join(e.text for e in self.recorder.of(Said))
        self.assertIn("confidential client", said)
        self.assertNotIn("public client", said)
        self.assertNotIn(SECRET, str(self.recorder.events))


class TestTruthfulHops(unittest.TestCase):
    """Item 5: a native app opens or prints the URL; the CLI is no server; each terminal
    says which steps it does not show; a refresh explains its nonce."""

    def test_a_native_login_redirects_no_browser(self):
        recorder = Recorder()
        discovered(events=EventBus(recorder)).begin(REDIRECT_URI)   # no browser: a native app
        said = recorder.of(Said)
        self.assertNotIn("browser", {e.actor for e in said})
        self.assertFalse([e for e in said if "302" in e.text])
        self.assertIn("opens this URL in a browser, or prints it", said[-1].text)

    def test_the_web_apps_redirect_is_still_a_302(self):
        recorder = Recorder()
        discovered(events=EventBus(recorder)).begin(REDIRECT_URI, browser="b1")
        self.assertEqual(recorder.of(Said)[-1].actor, "browser")
        self.assertTrue(recorder.of(Said)[-1].text.startswith("302 → "))

    def test_the_clis_step_7_does_not_say_server_to_server(self):
        def cli_exchange(bus):
            client = discovered(events=bus, answers={TOKEN_URL: (400, {"error": "invalid_grant"})})
            client.actor = "CLI"
            req = client.begin(REDIRECT_URI)
            with self.assertRaises(DemoError):
                client.exchange_code("the-code", req)
        text = rendered(cli_exchange)
        heading = next(line for line in text.splitlines() if "Step 7 of 10" in line)
        self.assertNotIn("server to server", heading)
        self.assertIn("the CLI posts it directly", heading)

    def test_the_cli_says_which_steps_happen_at_the_demos_server(self):
        running_demo = Provider("embedded", "http://localhost:8092/", "demo-cli", None)
        note = cli_login.steps_elsewhere(running_demo, server=None)
        self.assertIn("Steps 4, 5 and 8", note)
        self.assertIn("the demo's console", note)
        self.assertEqual(cli_login.steps_elsewhere(running_demo, server=object()), "")

    def test_a_refreshed_id_token_explains_its_nonce_instead_of_not_sent(self):
        key, recorder = shared_rsa_key(), Recorder()
        client = discovered(events=EventBus(recorder))
        client.pin_key(key.public_key)
        req = client.begin(REDIRECT_URI)
        client.validate_id_token(id_token_for(req, key, nonce="the-original-login"), None,
                                 refreshed=True)
        [nonce] = [c.what for c in recorder.of(Checked) if c.what.startswith("nonce")]
        self.assertNotIn("not sent", nonce)
        self.assertIn("§12.2", nonce)


class TestAttackLabNarration(RecordedDemo):
    """Item 6: a set-up is one line, not Steps 2–5 again, and the attacker is no "your app"."""

    def run_attack(self, letter: str) -> list:
        self.recorder.events.clear()
        result = self.running.app.lab.run(letter, "lab-test-" + letter)
        self.assertTrue(result["rejected"], result)
        events = self.recorder.events
        self.assertIsInstance(events[0], AttackStarted)
        return events

    def test_a_stolen_codes_set_up_is_one_line_not_steps_2_to_5(self):
        events = self.run_attack("a")
        replayed = [e.step.number for e in events if isinstance(e, StepStarted)]
        self.assertFalse([n for n in replayed if 2 <= n <= 5], replayed)
        self.assertEqual(len([e for e in events if isinstance(e, Said)
                              and e.text.startswith("set-up: logs in as")]), 1)

    def test_the_replayed_code_is_not_posted_by_your_app(self):
        events = self.run_attack("c")
        mine = [e for e in events if e.actor == "your app"]
        self.assertFalse([e for e in mine if isinstance(e, StepStarted)
                          and e.step in (Step.PKCE_SECRETS, Step.REDIRECT, Step.TOKEN_REQUEST)])
        self.assertFalse([e for e in mine if isinstance(e, Said) and e.text.startswith("POST")])
        self.assertFalse([e for e in events if isinstance(e, StepStarted)
                          and e.step is Step.PKCE_CHECK])   # the set-up's redemption: one line
        # Afterwards the app's own API does speak: it refuses the revoked access token.
        self.assertEqual({e.step for e in mine if isinstance(e, StepStarted)},
                         {Step.PROTECTED_API})

    def test_the_attackers_own_login_is_not_your_apps(self):
        events = self.run_attack("d")
        mine = [e for e in events if e.actor == "your app"]
        # Only the app's own check of the forged callback (Step 6) speaks as the app.
        self.assertEqual({e.step for e in mine if isinstance(e, StepStarted)}, {Step.CALLBACK})
        self.assertFalse([e for e in events if isinstance(e, StepStarted)
                          and 2 <= e.step.number <= 5])


class TestMobileSaysWhereTheOtherStepsAre(unittest.TestCase):
    """Item 5: the mobile app names where the steps it does not show are told; with a
    configured provider Steps 4, 5 and 8 are at that provider, not on the demo's console."""

    def test_the_demos_own_server_is_on_the_demos_console(self):
        from oauthdemo.native import mobile
        said = mobile.elsewhere("http://localhost:8092/")
        self.assertIn("Steps 4, 5 and 8 (at the authorization server)", said)
        self.assertIn("the demo's console", said)

    def test_a_configured_provider_is_named_instead(self):
        from oauthdemo.native import mobile
        said = mobile.elsewhere("https://tenant.example.auth0.com/")
        self.assertIn("https://tenant.example.auth0.com/", said)
        self.assertNotIn("(at the authorization server)", said)
        self.assertIn("the backend's Steps 7 and 9", said)


if __name__ == "__main__":
    unittest.main()
