"""One form-token helper for every HTML form that changes something (CSRF).

A token is an HMAC of the form's purpose and what it is bound to (this browser, and the
login or session it belongs to), under a key that never leaves the server. A page from
another origin cannot read it, so it cannot fill in a form that passes ``check``. The
same two functions serve the authorization server's login and consent forms, the attack
lab's buttons and the app's logout.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from oauthdemo.core.errors import InvalidRequest

FORM_FIELD = "form_token"          # the hidden input every protected form carries
KEY_BYTES = 32


class FormTokens:
    """Issues and checks form tokens under one server-side key."""

    def __init__(self, key: bytes | None = None):
        self._key = key or secrets.token_bytes(KEY_BYTES)

    def issue(self, purpose: str, *binding: str) -> str:
        """The token for one form: ``purpose`` names it, ``binding`` ties it to a browser
        (and a login or a session): a token from another browser or form never passes."""
        return hmac.new(self._key, _encode_parts(purpose, *binding), hashlib.sha256).hexdigest()

    def check(self, form: dict, purpose: str, *binding: str, refusal: str) -> None:
        """Raise a 403 ``invalid_request`` with ``refusal`` unless the form carries the token
        for this purpose and binding. Every part of the binding must be present."""
        if not all(binding):
            raise InvalidRequest(refusal, status_code=403)
        expected = self.issue(purpose, *binding).encode("ascii")
        sent = str(form.get(FORM_FIELD, "")).encode("utf-8")
        if not hmac.compare_digest(sent, expected):
            raise InvalidRequest(refusal, status_code=403)


def _encode_parts(*parts: str) -> bytes:
    """Each part with its length in front: ("a", "bc") and ("ab", "c") never sign alike,
    whatever characters a part holds."""
    return b"".join(len(raw).to_bytes(4, "big") + raw for raw in (p.encode("utf-8") for p in parts))
