"""core.events and its console subscriber, teaching.narrator: the spine of the narration.

Events carry values sanitised once, where they are created; the narrator only decides
how they read (tokens abbreviated, secrets masked, ✔/✘, "Step n of 10" headings). No
sockets: a StringIO is the terminal.
"""
from __future__ import annotations

import io
import unittest
from dataclasses import FrozenInstanceError
from dataclasses import dataclass

from oauthdemo.core.events import (PLAIN, SECRET, TOKEN, Checked, Event, EventBus,
                                   PkceChecked, Recorder, Said, Shown, StepStarted)
from oauthdemo.core.steps import Step
from oauthdemo.core.text import abbreviate
from oauthdemo.teaching.narrator import Narrator

LONG_TOKEN = "eyJhbGciOiJSUzI1NiJ9." + "a" * 300 + ".sigSIGsig"


def narrated(*events, **narrator_options) -> list:
    """The console lines a narrator writes for ``events`` (no colour)."""
    stream = io.StringIO()
    bus = EventBus(Narrator(stream, colour=False, **narrator_options))
    for event in events:
        bus.emit(event)
    return stream.getvalue().splitlines()


class TestEventBus(unittest.TestCase):
    def test_every_subscriber_gets_every_event_in_order(self):
        first, second = Recorder(), Recorder()
        bus = EventBus(first)
        bus.subscribe(second)
        bus.say("your app", "one")
        bus.check("your app", "two")
        bus.show("your app", "three", "3")
        for recorder in (first, second):
            self.assertEqual([type(e) for e in recorder.events], [Said, Checked, Shown])
        self.assertEqual([e.text for e in first.of(Said)], ["one"])

    def test_subscribers_are_called_in_subscription_order(self):
        calls = []
        bus = EventBus(lambda e: calls.append("a"))
        bus.subscribe(lambda e: calls.append("b"))
        bus.say("browser", "hello")
        self.assertEqual(calls, ["a", "b"])

    def test_a_bus_nobody_listens_to_is_silent(self):
        EventBus().say("your app", "nobody hears this")

    def test_shorthands_build_the_typed_events(self):
        recorder = Recorder()
        bus = EventBus(recorder)
        bus.step("your app", Step.PKCE_SECRETS, flow="9c1e", context="the CLI")
        bus.show("your app", "client_secret", "s3cr3t", kind=SECRET)
        bus.check("authorization server", "no", ok=False)
        step, shown, checked = recorder.events
        self.assertEqual((step.step, step.flow, step.context),
                         (Step.PKCE_SECRETS, "9c1e", "the CLI"))
        self.assertEqual((shown.label, shown.value, shown.kind),
                         ("client_secret", "•••••••• (6 chars, hidden)", SECRET))   # masked at birth
        self.assertFalse(checked.ok)

    def test_a_missing_flow_is_an_empty_tag(self):
        recorder = Recorder()
        EventBus(recorder).step("your app", Step.LOGIN, flow=None)
        self.assertEqual(recorder.events[0].flow, "")


class TestSanitisedOnceAtCreation(unittest.TestCase):
    """A value from a request arrives at every subscriber already printable."""

    HOSTILE = "ok\r\n  your app │ ✔ signature verified\x1b[2J\u202e"

    def test_control_characters_in_a_shown_value_arrive_escaped(self):
        event = Shown("your app", "state", self.HOSTILE)
        self.assertEqual(event.value,
                         "ok\\r\\n  your app │ ✔ signature verified\\x1b[2J\\u202e")
        for char in ("\r", "\n", "\x1b", "\u202e"):
            self.assertNotIn(char, event.value)

    def test_every_text_field_is_sanitised(self):
        said = Said("your\napp", "line\nbreak")
        self.assertEqual((said.actor, said.text), ("your\\napp", "line\\nbreak"))
        shown = Shown("your app", "la\tbel", "v", note="no\x07te")
        self.assertEqual((shown.label, shown.note), ("la\\tbel", "no\\x07te"))

    def test_values_inside_containers_are_sanitised(self):
        event = Shown("your app", "claims", {"na\nme": ["a\x1bb", ("c\rd",)]})
        self.assertEqual(event.value, {"na\\nme": ["a\\x1bb", ("c\\rd",)]})

    def test_sanitised_exactly_once(self):
        # A second pass would turn the visible "\n" into "\\n": the learner would see noise.
        event = Shown("your app", "state", "a\nb")
        lines = narrated(event)
        self.assertEqual(lines, ["  " + "your app".rjust(20) + " │ state = a\\nb"])

    def test_numbers_and_booleans_pass_unchanged(self):
        self.assertEqual(Shown("your app", "exp", 1700000000).value, 1700000000)
        self.assertIs(Checked("your app", "x", ok=False).ok, False)


class TestNarratorRendering(unittest.TestCase):
    def line(self, actor: str, body: str) -> str:
        return f"  {actor.rjust(20)} │ {body}"

    def test_step_started_reads_step_n_of_10_and_its_title(self):
        lines = narrated(StepStarted("your app", Step.PKCE_SECRETS, "9c1e"))
        self.assertEqual(lines[0], "")
        self.assertTrue(lines[1].startswith("── Step 2 of 10 · The PKCE secrets ──"), lines[1])
        self.assertTrue(lines[1].endswith("─ flow 9c1e"), lines[1])

    def test_step_context_follows_the_title(self):
        lines = narrated(StepStarted("CLI", Step.TOKEN_REQUEST, context="the CLI"))
        self.assertIn("── Step 7 of 10 · The token exchange (no browser) "
                      "— the CLI ─", lines[1])
        self.assertNotIn("flow", lines[1])

    def test_steps_after_the_ten_are_after_the_login(self):
        lines = narrated(StepStarted("your app", Step.REFRESH))
        self.assertTrue(lines[1].startswith("── After the login · Refresh"), lines[1])

    def test_token_is_abbreviated_unless_show_tokens(self):
        event = Shown("your app", "access_token", LONG_TOKEN, kind=TOKEN)
        short = narrated(event)
        self.assertEqual(short, [self.line("your app",
                                           f"access_token = {abbreviate(LONG_TOKEN)}")])
        self.assertNotIn(LONG_TOKEN, short[0])
        self.assertIn(LONG_TOKEN, narrated(event, show_tokens=True)[0])

    def test_secret_is_masked_even_with_show_tokens(self):
        event = Shown("your app", "client_secret", "hunter2-very-secret", kind=SECRET)
        for options in ({}, {"show_tokens": True}):
            with self.subTest(**options):
                line = narrated(event, **options)[0]
                self.assertNotIn("hunter2", line)
                self.assertIn("client_secret = •••••••• (19 chars, hidden)", line)

    def test_plain_value_with_a_note(self):
        event = Shown("your app", "code_challenge_method", "S256", "RFC 7636 §4.3", kind=PLAIN)
        self.assertEqual(narrated(event), [self.line(
            "your app", "code_challenge_method = S256   (RFC 7636 §4.3)")])

    def test_checked_is_a_tick_or_a_cross(self):
        lines = narrated(Checked("your app", "state matches"),
                         Checked("your app", "nonce differs", ok=False))
        self.assertEqual(lines, [self.line("your app", "✔ state matches"),
                                 self.line("your app", "✘ nonce differs")])

    def test_checked_on_a_colour_terminal_keeps_the_mark(self):
        stream = io.StringIO()
        EventBus(Narrator(stream, colour=True)).check("your app", "state matches")
        self.assertIn("\x1b[32m✔ \x1b[0mstate matches", stream.getvalue())

    def test_checked_without_unicode_says_ok_and_fail(self):
        stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
        bus = EventBus(Narrator(stream, colour=False))
        bus.check("your app", "good")
        bus.check("your app", "bad", ok=False)
        stream.seek(0)
        text = stream.read()
        self.assertIn("? OK good", text)          # the box-drawing bar is replaced too
        self.assertIn("? FAIL bad", text)

    def test_time_claims_show_their_date_beside_the_number(self):
        """A new user's trial: "exp": 1796162042 means nothing until it reads as a moment."""
        lines = narrated(Shown("your app", "ID token claims",
                               {"sub": "x", "iat": 1796126042, "exp": 1796162042, "flag": True}))
        text = "\n".join(lines)
        self.assertIn('"exp": 1796162042   (2026-12-01 21:54:02 UTC)', text)
        self.assertIn('"iat": 1796126042   (2026-12-01 11:54:02 UTC)', text)
        self.assertNotIn("UTC", [line for line in lines if '"sub"' in line][0])

    def test_pkce_checked_shows_both_challenges_and_the_verdict(self):
        ok = narrated(PkceChecked("authorization server", "verifier", "chal", "chal", True))
        self.assertIn("received code_verifier = verifier", ok[0])
        self.assertIn("✔ they match (hmac.compare_digest)", ok[3])   # the verdict may wrap
        bad = narrated(PkceChecked("authorization server", "verifier", "chal", "other", False))
        self.assertIn("✘ they differ", bad[3])

    def test_quiet_narrator_writes_nothing(self):
        self.assertEqual(narrated(Said("your app", "hello"), quiet=True), [])

    def test_an_event_cannot_be_changed_by_a_subscriber(self):
        event = Said("your app", "hello")
        with self.assertRaises(FrozenInstanceError):
            event.text = "✔ signature verified"
        with self.assertRaises(FrozenInstanceError):
            del event.actor

    def test_unknown_events_are_ignored(self):
        @dataclass(eq=False)
        class Unheard(Event):
            detail: str
        self.assertEqual(narrated(Unheard("your app", "x")), [])


if __name__ == "__main__":
    unittest.main()
