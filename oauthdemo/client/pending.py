"""Logins in progress: what the client remembers between the redirect and the callback.

RFC 6749 §10.12 (state binds the callback to the browser that started the login, against
CSRF), RFC 7636 §4.1 (the code_verifier stays with the client until the token request),
OpenID Connect Core §3.1.2.1 (the nonce the ID token must carry back).
"""
from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass, field

from oauthdemo.core.errors import InvalidState
from oauthdemo.core.tables import ExpiringTable

PENDING_TTL = 600              # an unfinished login lives 10 minutes
PENDING_MAX = 5000             # and at most this many wait at once (then new ones get a 503)


@dataclass
class AuthRequest:
    """Everything the client must remember between the redirect and the callback."""
    state: str
    nonce: str
    verifier: str
    challenge: str
    redirect_uri: str
    issuer: str
    scope: str
    created: float
    browser: str = ""
    url: str = ""
    trace: dict = field(default_factory=dict)

    @property
    def flow(self) -> str:
        return self.state[:6]


class PendingLogins:
    """Logins waiting for their callback, keyed by state: bounded, expiring, single use.

    Full means "503, come back later" for a NEW login: a flood of GET /login must never
    push out a login someone is in the middle of."""

    def __init__(self, limit: int = PENDING_MAX, ttl: int = PENDING_TTL, clock=time.time):
        self.ttl, self.clock = ttl, clock
        self.table = ExpiringTable(limit, "logins waiting for their callback")
        self.lock = threading.Lock()

    def __len__(self):
        return len(self.table)

    def add(self, req: AuthRequest):
        with self.lock:
            self.table.add(req.state, req, expires=req.created + self.ttl, now=self.clock())

    def take(self, state: str | None, browser: str) -> AuthRequest:
        """RFC 6749 §10.12: the state must be one we issued, to this browser, unused, fresh."""
        if not state:
            raise InvalidState("The callback has no state: it did not come from a login "
                               "this app started.")
        with self.lock:
            now = self.clock()
            req = self.table.get(state, now)
            if req is None:
                raise InvalidState("Unknown, expired or already used state. This callback was "
                                   "not started by this app (CSRF), was replayed, or waited "
                                   "more than 10 minutes.")
            # The binding first: a callback from another browser (anyone who saw the
            # authorization URL) must not use up the owner's login.
            if not hmac.compare_digest(req.browser.encode(), browser.encode()):
                raise InvalidState("This state was issued to a different browser (login CSRF).")
            self.table.pop(state, now)          # the owner's: a state works once
        return req

    def discard(self, state: str | None, browser: str):
        """An error response from the login's own browser still consumes its state, so the
        state cannot be used later (from another browser it is refused, like a callback)."""
        if state:
            try:
                self.take(state, browser)
            except InvalidState:
                pass

    def peek(self, state: str):
        with self.lock:
            return self.table.get(state, self.clock())


@dataclass
class LoginResult:
    """A finished login: the token response and the ID token's verified claims."""
    tokens: dict
    id_claims: dict
    request: AuthRequest
