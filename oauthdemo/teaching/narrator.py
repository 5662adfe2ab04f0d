"""The console narration: every step numbered, the speaking actor named, real values.

The narrator is a subscriber of the event bus (``core.events``): the protocol code emits
typed events, and this module alone decides how they read on a terminal.

This is the product's voice. A learner watches it while clicking through the login,
so each line says who is acting (the browser, your app, the authorization server …)
and shows the value that really went over the wire. Tokens are abbreviated unless
``--show-tokens``; client secrets are never printed. Colour is used only on a
terminal and never when NO_COLOR is set (https://no-color.org).
"""
from __future__ import annotations

import os
import sys
import threading

from oauthdemo.core.events import (TOKEN, Announced, AttackStarted, Checked, Event,
                                   PkceChecked, Said, Shown, StepStarted, TokenIssued, CodeIssued)
from oauthdemo.core.text import abbreviate, printable

# Each actor gets a fixed colour (ANSI SGR) and a fixed-width name, so a learner can
# follow one actor down the console.
ACTORS = {
    "browser": "36",               # cyan
    "your app": "32",              # green
    "authorization server": "35",  # magenta
    "identity provider": "34",     # blue
    "CLI": "32",
    "mobile app": "32",
    "backend": "33",               # yellow
    "attacker": "31",              # red
}
ACTOR_WIDTH = max(len(a) for a in ACTORS)
def wants_colour(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class Narrator:
    """Writes the numbered story to a stream; safe to call from many threads."""

    def __init__(self, stream=None, *, colour: bool | None = None, show_tokens: bool = False,
                 quiet: bool = False):
        self.stream = stream if stream is not None else sys.stdout
        self.colour = wants_colour(self.stream) if colour is None else colour
        self.show_tokens = show_tokens
        self.quiet = quiet
        self._lock = threading.Lock()
        enc = (getattr(self.stream, "encoding", None) or "utf-8").lower()
        self.fancy = "utf" in enc

    # -- low level -------------------------------------------------------------------
    # Sanitise first, colour last: _paint is applied only to text that is already printable
    # (our own marks, actor names, headings). Painting before the sanitiser ran made it
    # mangle our own colour codes on every ✔ and ✘ line.
    def _paint(self, text: str, sgr: str) -> str:
        return f"\033[{sgr}m{text}\033[0m" if self.colour else text

    def _write(self, text: str, force: bool = False):
        """One line that is already printable (and maybe painted): callers sanitise first."""
        if self.quiet and not force:
            return
        if not self.fancy:
            text = text.encode("ascii", "replace").decode("ascii")
        with self._lock:
            try:
                self.stream.write(text + "\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed console must never break a request

    # -- the subscriber: one event in, its lines out ---------------------------------------
    def __call__(self, event: Event):
        render = self.RENDERERS.get(type(event))
        if render is not None:
            render(self, event)

    def _step_started(self, e: StepStarted):
        title = f"{e.step.title} — {e.context}" if e.context else e.step.title
        self._heading(e.step.label, title, e.flow)

    def _attack_started(self, e: AttackStarted):
        self._heading(f"Attack ({e.letter})", e.title)

    def _said(self, e: Said):
        self._say(e.actor, e.text)

    def _shown(self, e: Shown):
        value = e.value
        if e.kind == TOKEN:
            value = self.token(value)   # a SECRET was masked when the event was made
        self._value(e.actor, e.label, value, e.note)

    def _checked(self, e: Checked):
        (self._ok if e.ok else self._fail)(e.actor, e.what)

    def _pkce_checked(self, e: PkceChecked):
        self._value(e.actor, "received code_verifier", e.verifier)
        self._value(e.actor, "SHA256 → base64url", e.recomputed)
        self._value(e.actor, "stored code_challenge", e.stored)
        if e.ok:
            self._ok(e.actor, "they match (hmac.compare_digest): only the client that made the "
                             "challenge can know this verifier")
        else:
            self._fail(e.actor, "they differ: this is not the client that started the login "
                               "→ invalid_grant")

    def _token_issued(self, e: TokenIssued):
        self._ok(e.actor, f"{e.what}: {self.token(e.token)}")

    def _code_issued(self, e: CodeIssued):
        self._say(e.actor, f"issued code {self.token(e.code)} bound to challenge "
                          f"{e.challenge[:10]}…, valid {e.lifetime // 60} min, single use")

    def _announced(self, e: Announced):
        self._lines(e.lines)   # like the start-up banner: shown even with --quiet

    RENDERERS = {StepStarted: _step_started, AttackStarted: _attack_started, Said: _said,
                 Shown: _shown, Checked: _checked, PkceChecked: _pkce_checked,
                 TokenIssued: _token_issued, CodeIssued: _code_issued,
                 Announced: _announced}

    # -- the story: event values arrive printable (core.events cleaned them once) ------------
    def _heading(self, label: str, title: str, flow: str = ""):
        """A chapter heading: ── Step 2 of 10 · The PKCE secrets ──────── flow 9c1e"""
        tag = f" flow {flow}" if flow else ""
        rule = "─" * max(4, 64 - len(title) - len(label))
        line = f"── {label} · {title} {rule}{tag}"
        self._write("")
        self._write(self._paint(line, "1"))

    def _say(self, actor: str, text: str):
        self._line(actor, text)

    def _line(self, actor: str, body: str):
        """One actor's line; ``body`` is already printable and may carry our coloured mark."""
        name = self._paint(actor.rjust(ACTOR_WIDTH), ACTORS.get(actor, "0"))
        self._write(f"  {name} │ {body}")

    def _value(self, actor: str, label: str, value, note: str = ""):
        tail = f"   ({note})" if note else ""
        self._say(actor, f"{label} = {value}{tail}")

    def token(self, value: str) -> str:
        return abbreviate(value, self.show_tokens)

    def _ok(self, actor: str, text: str):
        self._line(actor, self._mark("✔ ", "OK ", "32") + text)

    def _fail(self, actor: str, text: str):
        self._line(actor, self._mark("✘ ", "FAIL ", "31") + text)

    def _mark(self, fancy: str, plain: str, sgr: str) -> str:
        return self._paint(fancy if self.fancy else plain, sgr)

    def banner(self, lines):
        """Start-up lines: printed even with --quiet, because they say where to go.
        One string per line: a newline inside one is shown as \\n, like any other."""
        self._lines([printable(line) for line in lines])

    def _lines(self, lines):
        for line in lines:
            self._write(line, force=True)

    def error(self, text: str):
        self._write(self._paint(printable(text), "31"), force=True)
