"""The console narration: every step numbered, the speaking actor named, real values.

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

    # -- the story -------------------------------------------------------------------
    def step(self, number, title: str, flow: str | None = None):
        """A chapter heading: ── Step 2 · The PKCE secrets ──────── flow 9c1e"""
        number, title = printable(number), printable(title)
        tag = f" flow {printable(flow)}" if flow else ""
        rule = "─" * max(4, 60 - len(title) - len(number))
        line = f"── Step {number} · {title} {rule}{tag}"
        self._write("")
        self._write(self._paint(line, "1"))

    def say(self, actor: str, text: str):
        self._line(actor, printable(text))

    def _line(self, actor: str, body: str):
        """One actor's line; ``body`` is already printable and may carry our coloured mark."""
        name = self._paint(printable(actor).rjust(ACTOR_WIDTH), ACTORS.get(actor, "0"))
        self._write(f"  {name} │ {body}")

    def value(self, actor: str, label: str, value, note: str = ""):
        tail = f"   ({note})" if note else ""
        self.say(actor, f"{label} = {value}{tail}")

    def token(self, value: str) -> str:
        return abbreviate(value, self.show_tokens)

    def ok(self, actor: str, text: str):
        self._line(actor, self._mark("✔ ", "OK ", "32") + printable(text))

    def fail(self, actor: str, text: str):
        self._line(actor, self._mark("✘ ", "FAIL ", "31") + printable(text))

    def _mark(self, fancy: str, plain: str, sgr: str) -> str:
        return self._paint(fancy if self.fancy else plain, sgr)

    def banner(self, lines):
        """Start-up lines: printed even with --quiet, because they say where to go.
        One string per line: a newline inside one is shown as \\n, like any other."""
        for line in lines:
            self._write(printable(line), force=True)

    def error(self, text: str):
        self._write(self._paint(printable(text), "31"), force=True)
