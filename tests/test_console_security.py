"""Nothing an attacker writes reaches the operator's terminal as a control (issue 9: 4, 5, 11).

Finding 4: one sanitiser (narrator.printable) for every value that reaches a terminal;
CR, LF, TAB, ESC, C1, U+2028/2029 and bidi controls are shown as visible escapes.
Finding 5: colour is added after sanitising, checked in a real pseudo-terminal.
Finding 11: the CLI logs in only against an embedded server that publishes the key in our
0600 key cache, and prints a provider's error_description escaped.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from pathlib import Path

try:   # POSIX only: the pseudo-terminal test is skipped elsewhere
    import fcntl
    import pty
    import termios
except ImportError:
    pty = None

import complete_oauth_demo
from oauthdemo import cli
from oauthdemo.native import cli_login
from oauthdemo import settings
from oauthdemo.core.errors import ConfigError
from oauthdemo.core.events import (Announced, AttackStarted, Checked, PkceChecked, Said,
                                   Shown, StepStarted)
from oauthdemo.core.steps import Step
from oauthdemo.core.jose import RSAPublicKey, jwks_document
from oauthdemo.core.text import printable
from oauthdemo.teaching.narrator import Narrator
from oauthdemo.client.useragent import ScriptedBrowser

from .support import JsonServer, cache_signing_key, shared_rsa_key
from .test_cli_login import IsolatedCommandCase, LoginCase, query_of

REPO = Path(__file__).resolve().parent.parent
# Every character the sanitiser must neutralise: C0, DEL, C1, line/paragraph separators, bidi.
CONTROLS = ([chr(c) for c in range(0x20)] + [chr(c) for c in range(0x7F, 0xA0)]
            + ["\u2028", "\u2029", "\u061c", "\u200e", "\u200f"]
            + [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)])
# A fake narrator line, a clear screen, a new terminal title and a right-to-left override.
INJECTED = ("evil\n  ✔ signature verified; logged in admin\r\t\x1b[2J\x1b]0;pwned\x07"
            "\x9b31m\u2028\u2029\u202e\u2066\x7f\x00")
OUR_SGR = re.compile(r"\x1b\[[0-9;]*m")   # the colour codes the narrator itself adds
PTY_START_DEADLINE = 15    # seconds for the demo to print its banner (key already cached)
PTY_EVENT_DEADLINE = 5     # seconds for a narrated line to arrive after a request


def controls_in(text: str) -> list:
    """Control characters left once our own colour codes and line ends are removed."""
    bare = OUR_SGR.sub("", text).replace("\n", "")
    return sorted({c for c in bare if c in CONTROLS})


def narrator(colour: bool = True, **kwargs) -> tuple:
    """One event, one line: wide enough not to wrap (test_console_fit tests the wrapping)."""
    out = io.StringIO()
    return Narrator(stream=out, colour=colour, width=10_000, **kwargs), out


# == Findings 4 and 5: the narrator =============================================================

class TestSanitiser(unittest.TestCase):
    def test_finding4_console_newline_injection(self):
        n, out = narrator()
        n(Checked("your app", f"the provider sent error={INJECTED}", ok=False))
        text = out.getvalue()
        self.assertEqual(text.count("\n"), 1, text)     # one narrator line, not two
        self.assertEqual(controls_in(text), [], repr(text))
        self.assertIn("error=evil\\n  ✔ signature verified; logged in admin\\r\\t\\x1b[2J", text)
        self.assertIn("\\x9b31m\\u2028\\u2029\\u202e\\u2066\\x7f\\x00", text)

    def test_finding4_each_control_becomes_a_visible_escape(self):
        for char in CONTROLS:
            with self.subTest(char=hex(ord(char))):
                shown = printable(f"a{char}b")
                self.assertNotIn(char, shown)
                self.assertEqual(shown, "a" + char.encode("unicode_escape").decode() + "b")
        self.assertEqual(printable("café ✔ ── 日本 \\n"), "café ✔ ── 日本 \\n")   # left alone

    def test_finding4_every_event_and_direct_line_is_sanitised(self):
        """Values are made printable once, when an event is created; the start-up banner and
        error lines (written directly by cli/runner) are sanitised by the narrator."""
        calls = {
            "StepStarted": lambda n: n(StepStarted("your app", Step.CALLBACK, flow=INJECTED,
                                                   context=INJECTED)),
            "AttackStarted": lambda n: n(AttackStarted("attacker", INJECTED, INJECTED)),
            "Said": lambda n: n(Said("your app", INJECTED)),
            "Shown": lambda n: n(Shown("your app", INJECTED, INJECTED, note=INJECTED)),
            "Checked ok": lambda n: n(Checked("your app", INJECTED)),
            "Checked fail": lambda n: n(Checked("your app", INJECTED, ok=False)),
            "actor": lambda n: n(Said(INJECTED, "hello")),
            "PkceChecked": lambda n: n(PkceChecked("authorization server", INJECTED, INJECTED,
                                                   INJECTED, False)),
            "Announced": lambda n: n(Announced("CLI", ["", INJECTED])),
            "banner": lambda n: n.banner(["", INJECTED, f"  Open {INJECTED}"]),
            "error": lambda n: n.error(INJECTED),
        }
        for name, call in calls.items():
            for colour in (True, False):
                with self.subTest(method=name, colour=colour):
                    n, out = narrator(colour)
                    call(n)
                    text = out.getvalue()
                    self.assertEqual(controls_in(text), [], repr(text))
                    self.assertIn("\\x1b[2J", text)
                    self.assertNotIn("\n  ✔ signature", text)

    def test_finding4_cannot_start_messages_are_printable(self):
        bad = str(Path(tempfile.gettempdir()) / "missing\x1b]0;pwned\x07\n  ✔ logged in admin")
        out = io.StringIO()
        self.assertEqual(cli.login_main(["--env-file", bad], out=out, environ={}),
                         cli.EXIT_CONFIG)
        self.assertEqual(out.getvalue().count("\n"), 1, out.getvalue())
        self.assertNotIn("\x1b", out.getvalue())
        self.assertIn("missing\\x1b]0;pwned\\x07\\n", out.getvalue())
        err = io.StringIO()
        interval = sys.getswitchinterval()   # serve() sets it for the real program
        try:
            with contextlib.redirect_stderr(err):
                status = complete_oauth_demo.main(["--env-file", bad])
        finally:
            sys.setswitchinterval(interval)
        self.assertEqual(status, 2)
        self.assertNotIn("\x1b", err.getvalue())
        self.assertIn("missing\\x1b]0;pwned\\x07\\n", err.getvalue())

    def test_finding5_colour_is_added_after_sanitising(self):
        n, out = narrator(colour=True)
        n(Checked("your app", "signature verified"))
        n(Checked("attacker", "code replay refused", ok=False))
        n.error("Login failed: invalid_grant")
        text = out.getvalue()
        self.assertNotIn("\ufffd", text)
        self.assertNotIn("\\x1b", text)      # our own codes are not escaped either
        self.assertIn("\x1b[32m✔ \x1b[0msignature verified", text)
        self.assertIn("\x1b[31m✘ \x1b[0mcode replay refused", text)
        self.assertIn("\x1b[32m" + "your app".rjust(20) + "\x1b[0m │", text)
        self.assertIn("\x1b[31mLogin failed: invalid_grant\x1b[0m", text)


# == Finding 5: the real demo in a pseudo-terminal, colour on ===================================

class Terminal:
    """A pseudo-terminal (100 columns, like a learner's xterm) with the demo running in it.
    A thread drains it, so the demo never blocks writing to a full terminal."""

    def __init__(self, argv: list, env: dict, cols: int = 100, rows: int = 40):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        try:
            self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                         env=env, cwd=REPO, start_new_session=True)
        finally:
            os.close(slave)
        self.data, self.closed = bytearray(), False
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self.drain, daemon=True)
        self.reader.start()

    def drain(self):
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:   # EIO: the demo has exited and closed the terminal
                chunk = b""
            with self.changed:
                self.data += chunk
                self.closed = not chunk
                self.changed.notify_all()
            if not chunk:
                return

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = re.search(pattern, self.text)
                left = deadline - time.monotonic()
                if found or left <= 0 or self.closed:
                    break
                self.changed.wait(left)
        if not found:
            raise AssertionError(f"{pattern!r} did not appear; the terminal shows:\n{self.text}")
        return found

    @property
    def text(self) -> str:
        return bytes(self.data).decode("utf-8", "replace")   # bad UTF-8 would show as U+FFFD

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.reader.join(timeout=5)
        os.close(self.master)


@unittest.skipUnless(pty is not None, "pseudo-terminals are POSIX only")
class TestDemoInATerminal(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        cache = Path(tmp.name) / "cache"
        cache_signing_key(cache)            # no key to generate: the demo starts in a moment
        env_file = Path(tmp.name) / "empty.env"
        env_file.write_text("", encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp.name, "TERM": "xterm-256color",
               "PYTHONUTF8": "1", "OAUTH_DEMO_CACHE_DIR": str(cache)}   # NO_COLOR unset
        argv = [sys.executable, "complete_oauth_demo.py", "--no-browser", "--port", "0",
                "--idp-port", "0", "--env-file", str(env_file)]
        self.term = Terminal(argv, env)
        self.addCleanup(self.term.close)

    def test_finding5_demo_in_a_pty_with_colour(self):
        term = self.term
        app_url = term.wait_for(r"Your app \(the OAuth client\)\s+(http://\S+)",
                                PTY_START_DEADLINE).group(1)
        term.wait_for(r"Ctrl-C stops", PTY_EVENT_DEADLINE)
        browser = ScriptedBrowser(timeout=PTY_EVENT_DEADLINE)
        start = browser.get(app_url + "/login")
        self.assertEqual(start.status, 302, start.text)
        done = browser.get(browser.login_at_provider(start.location))
        self.assertEqual(done.status, 303, done.text)
        term.wait_for(r"logged in Alice", PTY_EVENT_DEADLINE)
        # An attacker's callback: a fake narrator line, a clear screen, a terminal title.
        forged = ScriptedBrowser(timeout=PTY_EVENT_DEADLINE).get(
            app_url + "/callback?error=evil%0A%20%20%E2%9C%94%20signature%20verified%1b%5B2J"
                      "&error_description=x%1b%5D0%3Bpwned%07&state=nostate")
        self.assertEqual(forged.status, 400, forged.text)
        term.wait_for(r"login refused", PTY_EVENT_DEADLINE)
        text = term.text
        self.assertNotIn("\ufffd", text)
        self.assertGreaterEqual(text.count("\x1b[32m✔ \x1b[0m"), 3, text)
        line = next(ln for ln in text.splitlines() if "the provider sent error=" in ln)
        self.assertIn("error=evil\\n  ✔ signature verified\\x1b[2J", line)
        self.assertNotIn("\x1b[2J", text)
        self.assertNotIn("\x1b]0;pwned", text)
        self.assertIn("\\x1b]0;pwned\\x07", text)
        self.assertNotIn("\n  ✔ signature verified", text)


# == Finding 11: the CLI logs in only against our own embedded server ===========================

def start_impostor(jwks: dict) -> JsonServer:
    """Something else on the idp port: a discovery document naming itself, and its own JWKS."""
    def documents(base_url: str) -> dict:
        issuer = base_url + "/"
        return {"/.well-known/openid-configuration": {
                    "issuer": issuer, "authorization_endpoint": issuer + "authorize",
                    "token_endpoint": issuer + "oauth/token",
                    "jwks_uri": issuer + ".well-known/jwks.json",
                    "code_challenge_methods_supported": ["S256"]},
                "/.well-known/jwks.json": jwks}
    return JsonServer(documents)


def never_open(url: str):
    raise AssertionError(f"the CLI started a login against a server that is not ours: {url}")


class TestCliTrustsOnlyOurServer(IsolatedCommandCase):
    def test_finding11_impostor_on_the_idp_port_is_refused(self):
        ours = shared_rsa_key()
        theirs = RSAPublicKey(ours.n + 2, ours.e)   # another modulus (theirs, in this story)
        same_kid_text = dict(theirs.to_jwk(), kid=ours.kid)   # a kid member is only text
        cases = {
            "another key": (jwks_document([theirs]), True),
            "our kid, their numbers": ({"keys": [same_kid_text]}, True),
            "our key and one of theirs": (jwks_document([ours, theirs]), True),
            "no key cached here": (jwks_document([ours]), False),
        }
        for name, (jwks, cached) in cases.items():
            with self.subTest(name):
                key_file = cache_signing_key(self.cache_dir)
                if not cached:
                    key_file.unlink()
                impostor = start_impostor(jwks)
                self.addCleanup(impostor.stop)
                out = io.StringIO()
                status = cli.login_main(
                    ["--no-browser", "--timeout", "5", "--env-file", self.env_file,
                     "--idp-port", str(impostor.port)],
                    out=out, environ={}, on_url=never_open)
                self.assertEqual(status, cli.EXIT_CONFIG, out.getvalue())
                self.assertTrue(set(impostor.paths) <= {"/.well-known/openid-configuration",
                                                        "/.well-known/jwks.json"},
                                impostor.paths)

    def test_finding11_a_key_cache_others_can_read_proves_nothing(self):
        cache_signing_key(self.cache_dir).chmod(0o644)
        impostor = start_impostor(jwks_document([shared_rsa_key()]))
        self.addCleanup(impostor.stop)
        cfg = settings.Settings(idp_port=impostor.port)
        with self.assertRaises(ConfigError):
            cli_login.running_embedded(cfg)


class TestPinnedKey(unittest.TestCase):
    def test_finding11_pinned_key_is_the_only_key_and_never_refetched(self):
        """After the check, the CLI trusts only the cached key: a server that showed our key
        and then publishes one of its own (check, then use) gains nothing."""
        from oauthdemo.core.errors import UnknownKey
        from oauthdemo.client.jwks import JWKSCache
        ours = shared_rsa_key().public_key
        cache = JWKSCache("http://127.0.0.1:9/never-fetched", pinned=ours)   # port 9: discard
        self.assertEqual(cache.key_for_kid(ours.kid), ours)
        with self.assertRaises(UnknownKey):
            cache.key_for_kid("a-kid-the-server-added-later")


class TestCliWithOurServer(LoginCase):
    """LoginCase: the real demo is running with the shared key, and the key is in the cache."""

    def test_finding11_our_running_server_is_accepted(self):
        cfg = settings.Settings(idp_port=self.idp_port)
        self.assertEqual(cli_login.running_embedded(cfg), self.auth.issuer)
        run = self.logged_in()
        self.assertTrue(run.authorize_url().startswith(self.auth.issuer))

    def test_finding11_provider_error_description_is_printed_escaped(self):
        run = self.login()
        params = query_of(run.authorize_url())
        description = "denied\x1b]0;pwned\x07\x1b[2J\n  ✔ logged in admin\u202e"
        callback = params["redirect_uri"] + "?" + urllib.parse.urlencode(
            {"error": "access_denied", "error_description": description,
             "state": params["state"]})
        self.assertEqual(ScriptedBrowser().get(callback).status, 200)
        self.assertEqual(run.finish(), cli.EXIT_FAILED, run.output)
        self.assertEqual(controls_in(run.output), [], repr(run.output))
        self.assertIn("denied\\x1b]0;pwned\\x07\\x1b[2J\\n  ✔ logged in admin\\u202e",
                      run.output)


if __name__ == "__main__":
    unittest.main()
