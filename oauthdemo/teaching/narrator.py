"""The console narration: every step numbered, the speaking actor named, real values.

The narrator is a subscriber of the event bus (``core.events``): the protocol code emits
typed events, and this module alone decides how they read on a terminal.

This is the product's voice. A learner watches it while clicking through the login,
so each line says who is acting (the browser, your app, the authorization server …)
and shows the value that really went over the wire. Tokens are abbreviated unless
``--show-tokens``; client secrets are never printed. Colour is used only on a
terminal and never when NO_COLOR is set (https://no-color.org).

Every line fits the terminal (``shutil.get_terminal_size`` on a TTY, else PIPE_WIDTH): a
long line wraps at spaces, or inside a token that cannot fit, with a hanging indent under
the message column, so the actor column stays unbroken. Decoded JSON (the ID token's header
and claims) is shown one member per line.
"""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import sys
import threading
import time
import unicodedata

from oauthdemo.core.events import (TOKEN, Announced, AttackStarted, Checked, Event,
                                   PkceChecked, Said, Shown, StepStarted, TokenIssued, CodeIssued)
from oauthdemo.client.explain import TIME_CLAIMS
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
MESSAGE_COLUMN = 2 + ACTOR_WIDTH + 3     # "  " actor " │ ": where each message starts
PIPE_WIDTH = 100          # columns when the console is not a terminal (a pipe, a file)
HEADING_MAX = 100         # a heading's rule stops here on a very wide terminal
MIN_TEXT = 20             # columns of text a line keeps, however narrow the terminal
HANG = 2                  # a continuation line's extra indent
# A word, kept whole with a reference's item number ("§3.1.3.7 (11)", "RFC 9207"), so a
# wrapped line never starts with a lone "(11)" or "9207".
WORDS = re.compile(r"(\s*)((?:RFC \d+|\S+)(?: \(\d+\))?)")
# Header tags that name no login's flow, printed as they are (never as "flow …").
NOT_A_FLOW = ("attack ", "Bearer token")


@functools.lru_cache(maxsize=1024)
def char_cells(ch: str) -> int:
    """Columns one character takes: wide (East Asian) two, combining none, the rest one."""
    return (0 if unicodedata.combining(ch) else
            2 if unicodedata.east_asian_width(ch) in "WF" else 1)


def cells(text: str) -> int:
    """Columns a printable text takes. It runs for every word the narrator wraps, inside
    each request's thread: ASCII (most of the story) is counted at once."""
    return len(text) if text.isascii() else sum(map(char_cells, text))


def cut(text: str, columns: int) -> tuple:
    """(head, rest): the longest head of ``text`` within ``columns`` (at least a character)."""
    used = 0
    for i, ch in enumerate(text):
        used += cells(ch)
        if used > columns and i > 0:
            return text[:i], text[i:]
    return text, ""


def wrap(text: str, first: int, rest: int, keep: str = "") -> list:
    """Greedy word wrap: the first line holds ``first`` columns, the others ``rest``. The
    first line keeps its leading spaces; a word that fits on no line is broken, from where
    the line it starts on has room, unless it is meant to be copied or opened whole (a URL,
    or ``keep``: a token shown in full): that one overflows, and the terminal wraps it."""
    lines, line, room = [], "", first
    for space, word in WORDS.findall(text):
        if cells(line + space + word) <= room:
            line += space + word
        elif cells(word) <= rest and line.strip():
            lines.append(line)
            line, room = word, rest
        elif keep and word == keep:        # after its label: "access_token = eyJ…"
            line += space + word
        elif "://" in word and line.strip():   # a URL starts a line of its own
            lines.append(line)
            line, room = word, rest
        elif "://" in word:
            line += space + word
        else:
            if room - cells(line + space) >= 2:
                line += space
            else:
                lines.append(line)
                line, room = "", rest
            line, room = hard_break(lines, line, word, room, rest)
    return [*lines, line]


def hard_break(lines: list, line: str, word: str, room: int, rest: int) -> tuple:
    """Appends full lines of ``line + word`` to ``lines``; returns the last (line, room)."""
    while True:
        head, word = cut(word, room - cells(line))
        if not word:
            return line + head, room
        lines.append(line + head)
        line, room = "", rest


def when(name: str, value) -> str:
    """A time claim's date beside its number, so "exp": 1796162042 reads as a moment."""
    if name not in TIME_CLAIMS or isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    try:
        return "   (" + time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value)) + ")"
    except (OverflowError, OSError, ValueError):
        return ""   # a number no calendar can hold: shown as it is


def json_member(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def wants_colour(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def note_tail(note: str) -> str:
    """A value's note in parentheses; a note with parentheses of its own goes after a dash
    instead, so no line reads "(… (Step 6))"."""
    if not note:
        return ""
    if note.startswith("= "):   # "code_challenge = …   = BASE64URL(SHA-256(verifier))"
        return f"   {note}"
    return f"   — {note}" if "(" in note else f"   ({note})"


class Narrator:
    """Writes the numbered story to a stream; safe to call from many threads."""

    def __init__(self, stream=None, *, colour: bool | None = None, show_tokens: bool = False,
                 quiet: bool = False, width: int | None = None):
        self.stream = stream if stream is not None else sys.stdout
        self._width = width
        self.colour = wants_colour(self.stream) if colour is None else colour
        self.show_tokens = show_tokens
        self.quiet = quiet
        self._lock = threading.Lock()
        enc = (getattr(self.stream, "encoding", None) or "utf-8").lower()
        self.fancy = "utf" in enc

    # -- low level -------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Columns to fit: the ``width`` given, the terminal's (asked each time: it may be
        resized), or PIPE_WIDTH when the console is not a terminal."""
        if self._width:
            return self._width
        if getattr(self.stream, "isatty", lambda: False)():
            return shutil.get_terminal_size((PIPE_WIDTH, 24)).columns
        return PIPE_WIDTH

    # Sanitise first, colour last: _paint is applied only to text that is already printable
    # (our own marks, actor names, headings). Painting before the sanitiser ran made it
    # mangle our own colour codes on every ✔ and ✘ line.
    def _paint(self, text: str, sgr: str) -> str:
        return f"\033[{sgr}m{text}\033[0m" if self.colour else text

    def _write(self, text: str, force: bool = False):
        """Lines that are already printable (and maybe painted): callers sanitise first. The
        lines of one message are written at once, never between another thread's."""
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
        if isinstance(value, dict) and value:
            self._members(e.actor, e.label, value, e.note)
        else:
            self._value(e.actor, e.label, value, e.note, e.kind == TOKEN and self.show_tokens)

    def _members(self, actor: str, label: str, value: dict, note: str = ""):
        """Decoded JSON, one member per line under its label: "name": value."""
        rows = self._rows(actor, label + note_tail(note))
        for name, member in value.items():
            rows += self._rows("", f"  {json_member(name)}: {json_member(member)}"
                                   f"{when(name, member)}")
        self._write("\n".join(rows))

    def _checked(self, e: Checked):
        (self._ok if e.ok else self._fail)(e.actor, e.what)

    def _pkce_checked(self, e: PkceChecked):
        self._value(e.actor, "received code_verifier", e.verifier)
        self._value(e.actor, "SHA-256 → base64url", e.recomputed)
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
        """A chapter heading ruled to the width: ── Step 2 of 10 · The PKCE secrets ── flow 9c1e
        A title too long is cut (…), never the step or the flow tag. A header of the attack
        lab's that belongs to no login carries the attack's tag instead ("attack d"); a call
        with a Bearer token and no session says so ("Bearer token, no session")."""
        tag = f" {flow}" if flow.startswith(NOT_A_FLOW) else f" flow {flow}" if flow else ""
        width = min(self.width, HEADING_MAX)
        head = f"── {label} · "
        room = width - cells(head + tag) - 3          # " ──" at least after the title
        if cells(title) > room:
            title = cut(title, room - 1)[0] + "…" if room > 1 else ""
        line = f"{head}{title} "
        line += "─" * max(2, width - cells(line + tag)) + tag
        self._write("\n" + self._paint(line, "1"))

    def _say(self, actor: str, text: str):
        self._line(actor, text)

    def _line(self, actor: str, body: str, mark: tuple = ("", "0"), tail: str = "",
              keep: str = ""):
        self._write("\n".join(self._rows(actor, body, mark, tail, keep)))

    def _rows(self, actor: str, body: str, mark: tuple = ("", "0"), tail: str = "",
              keep: str = "") -> list:
        """One actor's message (already printable), wrapped to the width under the message
        column; ``mark`` (text, SGR) starts it (✔, ✘), painted like the actor, last; ``tail``
        (a note) ends the last line if it fits there, else starts a line of its own."""
        mark_text, mark_sgr = mark
        room = max(MIN_TEXT, self.width - cells(actor.rjust(ACTOR_WIDTH)) - 5)
        hang = " " * (len(body) - len(body.lstrip(" ")) + (cells(mark_text) or HANG))
        lines = wrap(mark_text + body, room, room - len(hang), keep)
        last_room = room - (len(hang) if len(lines) > 1 else 0)
        if cells(lines[-1] + tail) <= last_room:
            lines[-1] += tail
        elif tail:
            lines += wrap(tail.strip(), room - len(hang), room - len(hang))
        name = actor.rjust(ACTOR_WIDTH)
        name = self._paint(name, ACTORS.get(actor, "0")) if actor else name
        first = lines[0][len(mark_text):]
        mark_text = self._paint(mark_text, mark_sgr) if mark_text else ""
        return [f"  {name} │ {mark_text}{first}",
                *(f"  {'':{ACTOR_WIDTH}} │ {hang}{line}" for line in lines[1:])]

    def _value(self, actor: str, label: str, value, note: str = "", keep: bool = False):
        """label = value   (note); ``keep``: the value is a token shown in full, to copy."""
        self._line(actor, f"{label} = {value}", tail=note_tail(note),
                   keep=str(value) if keep else "")

    def token(self, value: str) -> str:
        return abbreviate(value, self.show_tokens)

    def _ok(self, actor: str, text: str):
        self._line(actor, text, ("✔ " if self.fancy else "OK ", "32"))

    def _fail(self, actor: str, text: str):
        self._line(actor, text, ("✘ " if self.fancy else "FAIL ", "31"))

    def banner(self, lines):
        """Start-up lines: printed even with --quiet, because they say where to go.
        One string per line: a newline inside one is shown as \\n, like any other."""
        self._lines([printable(line) for line in lines])

    def _lines(self, lines, sgr: str = ""):
        """Lines shown even with --quiet, each wrapped: a continuation starts under the value
        ("  Label      value"), or HANG columns in."""
        width = max(MIN_TEXT, self.width)
        for line in lines:
            column = re.match(r"\s*(?:\S+ )*?\S+ {2,}(?=\S)|\s*", line).end()
            hang = column if column != len(line) - len(line.lstrip()) else column + HANG
            hang = min(hang, width - MIN_TEXT)
            parts = wrap(line, width, width - hang)
            parts[1:] = [" " * hang + part for part in parts[1:]]
            self._write("\n".join(self._paint(part, sgr) if sgr else part for part in parts),
                        force=True)

    def error(self, text: str):
        self._lines([printable(text)], "31")
