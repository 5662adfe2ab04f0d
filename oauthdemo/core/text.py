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


MASK = "••••••••"
# The one table of secret names: values that let someone act as the user or the client
# (a code, a verifier, a token, a client's password). Any other name ending in _token is
# one too (is_secret_name): a token type added later is masked before anyone lists it.
SECRET_NAMES = frozenset({"code", "code_verifier", "access_token", "id_token", "refresh_token",
                          "token", "device_code", "id_token_hint", "form_token",
                          "client_assertion", "client_secret"})


def is_secret_name(name: str) -> bool:
    """Is a value of this name a secret (masked wherever it is shown)?"""
    return name in SECRET_NAMES or name.endswith("_token")


def mask_secret(secret: str | None, how: str = "hidden") -> str:
    """The one mask: a secret is never printed, not even in part (only its length).
    ``how``: "hidden" for good; the HTTP log says "masked" (its owner may reveal it)."""
    if not secret:
        return "(none)"
    return f"{MASK} ({len(secret)} chars, {how})"
