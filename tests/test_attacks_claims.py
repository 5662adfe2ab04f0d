"""The attack lab's ID-token claim attacks, and the lab's step headers (issue 11, items 1, 2).

Attacks (i), (j) and (k) present real ID tokens, issued by the embedded server through its
own endpoints, whose claims are wrong for this login: another app's token (aud, OIDC Core
§3.1.3.7 (3)), an earlier login's (nonce, (11)), an expired one (exp, (9); the app's check
run with its clock set later, never a sleep). Each is refused by the app's one check path
(``core.claims.verify_jwt`` via ``OIDCClient.validate_id_token``), and each test also shows
the token is genuine: the same check, expecting what the token really is, accepts it, so
only the claim under attack refused it. Item 2: a header in an attack belongs to no login
of ours, so it carries the attack's tag, never a flow's; checked on the real demo in a
pseudo-terminal.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import tempfile
import unittest

import oauthdemo.teaching as teaching
from oauthdemo.client.jwks import ID_TOKEN_ALGORITHMS, LEEWAY
from oauthdemo.client.oidc import CLAIM_WHY
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.claims import Expect, verify_jwt
from oauthdemo.core.events import AttackStarted, Recorder, StepStarted
from oauthdemo.core.jose import decode_unverified
from oauthdemo.teaching import attacks

from .demo_fixtures import start_test_demo
from .test_attacks import lab_token, press, result_region
from .test_console_fit import COLUMNS, demo_env
from .test_console_security import OUR_SGR, PTY_EVENT_DEADLINE, PTY_START_DEADLINE, Terminal, pty

ANY_HEADING = re.compile(r"^── (?:Step \d+ of 10|Attack \((\w)\)) · .*$", re.M)


class ClaimAttacksTest(unittest.TestCase):
    """Each claim attack against the embedded server, called as the lab calls it."""

    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()
        cls.lab = cls.running.app.lab
        cls.client = cls.lab.client
        cls.recorder = cls.running.app.events.subscribe(Recorder())

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def assert_refused_by(self, result: dict, claim: str, raised: str, said: str):
        self.assertTrue(result["ran"] and result["rejected"], result)
        self.assertEqual(result["error"], "invalid_token")
        self.assertEqual(result["response"]["status"], 401)
        self.assertEqual(result["response"]["raised"], raised)
        self.assertIn(said, result["response"]["body"]["error_description"])
        self.assertEqual(result["why"], f"{claim}: " + attacks.WHY_SENTENCE.format(
            claim=claim, why=CLAIM_WHY[claim]))
        self.assertIn(f"{claim} check", result["stopped_by"])

    def genuine(self, token: str, **expect) -> dict:
        """The same check, expecting what the token really is: it passes."""
        values = dict(iss=self.client.provider.issuer, aud=self.client.provider.client_id,
                      now=self.client.clock(), leeway=LEEWAY, require=("iat", "sub"))
        values.update(expect)
        return verify_jwt(token, algorithms=ID_TOKEN_ALGORITHMS, expect=Expect(**values),
                          key_for_kid=self.client.jwks.key_for_kid)[1]

    def test_oidc_core_3137_aud_another_apps_id_token_is_refused(self):
        result = attacks.attack_other_apps_id_token(self.lab, browser="victim")
        self.assert_refused_by(result, "aud", "ClaimMismatch", "aud")
        cli = self.running.auth.native_client_id
        token, _ = attacks.other_apps_id_token(self.lab)        # the server's own issuing path
        claims = self.genuine(token, aud=cli)                   # issued by the server, to the CLI
        self.assertEqual(claims["aud"], cli)
        self.assertNotEqual(cli, self.client.provider.client_id)

    def test_oidc_core_3137_nonce_an_earlier_logins_id_token_is_refused(self):
        earlier = self.fresh_id_token()
        result = attacks.attack_earlier_id_token(self.lab, browser="victim",
                                                 tokens={"id_token": earlier})
        self.assert_refused_by(result, "nonce", "ClaimMismatch", "nonce")
        nonce = decode_unverified(earlier)[1]["nonce"]
        self.genuine(earlier, nonce=nonce)                      # right for its own login
        self.assertTrue(any(nonce[:10] in line for line in result["sent"]))

    def test_oidc_core_3137_exp_an_expired_id_token_is_refused_without_waiting(self):
        token = self.fresh_id_token()
        before = self.client.clock()
        result = attacks.attack_expired_id_token(self.lab, browser="victim",
                                                 tokens={"id_token": token})
        self.assert_refused_by(result, "exp", "ExpiredToken", "expired")
        self.genuine(token)                                     # valid now: only time refused it
        self.assertLess(self.client.clock() - before, 60)       # the app's clock never moved

    def fresh_id_token(self) -> str:
        """A real ID token of this app's, from a login the lab drives (its set-up path)."""
        token, _ = self.lab.real_id_token("lab-test-" + self.id()[-12:], None)
        return token

    def test_issue11_item2_lab_headers_carry_the_attack_tag_never_a_flow(self):
        self.recorder.events.clear()
        for letter in "dghijk":
            self.lab.run(letter, "victim-tags")
        seen, letter = [], None
        for event in self.recorder.events:
            if isinstance(event, AttackStarted):
                letter = event.letter
            elif isinstance(event, StepStarted):
                seen.append((letter, event.flow))
        self.assertTrue(seen)
        for letter, flow in seen:
            self.assertEqual(flow, f"attack {letter}")

    def test_the_lab_never_signs_a_token(self):
        """The server issues; no lab (the attack lab, each attack module of its own, the
        mistakes gallery, the step-through, the forensics) holds a key or calls signing
        code. Every teaching module whose name says lab work is read, so a new attack
        module is covered without editing this list."""
        labs = [name for _, name, _ in pkgutil.iter_modules(teaching.__path__)
                if name == "attacks" or name.endswith("_attack")
                or name in ("mistakes", "stepmode", "forensics")]
        self.assertGreaterEqual(len(labs), 7, labs)   # attacks, par/device/mixup, and three
        for name in labs:
            source = inspect.getsource(importlib.import_module(f"oauthdemo.teaching.{name}"))
            for word in ("encode_jwt", "sign_rs256", ".keys", "private"):
                self.assertNotIn(word, source, f"teaching/{name}.py")

    def test_card_shows_request_answer_check_and_why(self):
        browser = ScriptedBrowser()
        token = lab_token(self.running, browser)
        page = press(self.running, browser, "i", token)
        self.assertEqual(page.status, 303, page.text[:300])   # post/redirect/get
        card = result_region(browser.get(self.running.app_url + "/attacks").text, "i")
        self.assertIn("What the attacker sent", card)
        self.assertIn("<code>invalid_token</code>", card)
        self.assertIn("aud check (Step 9)", card)
        self.assertIn("Why the app checks aud", card)
        self.assertIn(CLAIM_WHY["aud"].split(":")[0], card)


@unittest.skipUnless(pty is not None, "pseudo-terminals are POSIX only")
class LabHeadersInATerminalTest(unittest.TestCase):
    def test_issue11_item2_attack_headers_in_a_pty_carry_the_attack_tag(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        env, argv = demo_env(tmp.name)
        term = Terminal(argv, env, cols=COLUMNS)
        self.addCleanup(term.close)
        term.wait_for(r"Ctrl-C stops", PTY_START_DEADLINE)
        app = re.search(r"Your app \(the OAuth client\)\s+(http://\S+)", term.text)[1]
        browser = ScriptedBrowser(timeout=PTY_EVENT_DEADLINE)
        running = type("Running", (), {"app_url": app})
        token = lab_token(running, browser)
        for letter in "dgh":
            self.assertEqual(press(running, browser, letter, token).status, 303)
        term.wait_for(r"stopped by your app's algorithm allowlist", PTY_EVENT_DEADLINE)
        plain = OUR_SGR.sub("", term.text).replace("\r\n", "\n")
        self.assertNotIn("\ufffd", plain)
        lab = plain[plain.index("── Attack (d)"):]
        current, steps = None, 0
        for match in ANY_HEADING.finditer(lab):
            if match.group(1):
                current = match.group(1)
                continue
            steps += 1
            self.assertTrue(match.group().endswith(f" attack {current}"), match.group())
            self.assertNotIn(" flow ", match.group())
        self.assertGreaterEqual(steps, 3)     # Step 6 for (d), Step 9 for (g) and (h)


if __name__ == "__main__":
    unittest.main()
