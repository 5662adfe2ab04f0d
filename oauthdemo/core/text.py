"""Text that reaches a terminal or a page: one sanitiser, token abbreviation, secret masking.

Every value from a request or a provider passes ``printable`` once, where it enters an
event (``core.events``); colour is added only afterwards, by the terminal renderer.
"""
from __future__ import annotations

import re

TOKEN_HEAD, TOKEN_TAIL = 16, 8
# Values from requests and providers are printed on the operator's terminal. Any control
# character would let a visitor act on it: ESC and the C1 controls clear the screen or set
# the title, CR, LF, TAB and U+2028/2029 start a fake narrator line ("✔ signature
# verified"), bidi controls reorder what the learner reads. Each one is shown as a visible
# escape (\n, \x1b, \u202e) instead, so the learner sees that something was injected.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def printable(text) -> str:
    """The one sanitiser for every value that reaches a terminal; colour comes after it."""
    return CONTROL.sub(_visible_escape, str(text))


def _visible_escape(match) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def abbreviate(token: str, show: bool = False) -> str:
    """eyJhbGciOiJSUzI1…Q3kP9sXw (812 chars): enough to recognise, too little to use."""
    if token is None:
        return "(none)"
    token = str(token)
    if show or len(token) <= TOKEN_HEAD + TOKEN_TAIL + 3:
        return token
    return f"{token[:TOKEN_HEAD]}…{token[-TOKEN_TAIL:]} ({len(token)} chars)"


def mask_secret(secret: str | None) -> str:
    """A client secret is never printed, not even in part."""
    if not secret:
        return "(none)"
    return f"•••••••• ({len(secret)} chars, hidden)"
