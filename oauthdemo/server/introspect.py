"""Token introspection: RFC 7662 (§2.1 the request, by an authenticated resource server;
§2.2 the answer: ``active`` and, if so, what the token stands for).

The app's protected API asks here because only the issuer knows what a signature cannot
say: whether the token, or its grant, has been revoked. "Not active" carries no reason:
the caller needs none, and an attacker would learn from one.
"""
from __future__ import annotations

from oauthdemo.core.errors import DemoError, InvalidClient, InvalidGrant
from oauthdemo.core.events import EventBus
from oauthdemo.server.refresh import looks_like_refresh_token
from oauthdemo.server.users import DEMO_USERS

AS = "authorization server"
INACTIVE = {"active": False}
ACCESS_CLAIMS = ("scope", "sub", "aud", "iss", "exp", "iat", "jti")   # §2.2, when present


class Introspection:
    """POST /oauth/introspect: is this token active right now?"""

    def __init__(self, store, access_tokens, refresh_tokens, issuer,
                 events: EventBus | None = None, api_audience: str | None = None):
        self.store, self.access_tokens = store, access_tokens
        self.refresh_tokens, self.issuer = refresh_tokens, issuer
        self.events = events or EventBus()
        # Every audience this server issues access tokens for: a user's token names
        # /userinfo (and the API, if asked for); a client-credentials token only the API.
        self.audiences = (issuer.url("/userinfo"),) + ((api_audience,) if api_audience else ())

    def introspect(self, caller, token: str) -> dict:
        """RFC 7662 §2.2: is this token active right now? Only the issuer can say "revoked"."""
        if not caller.can_introspect:
            raise InvalidClient("Only a resource server may introspect tokens (RFC 7662 §2.1).")
        answer = self.refresh_answer(token) if looks_like_refresh_token(token) else None
        if answer is None:
            answer = self.access_answer(token)
        verdict = "active" if answer["active"] else "NOT active (revoked, expired or unknown)"
        self.events.say(AS, f"introspection by {caller.client_id}: token is {verdict}")
        return answer

    def access_answer(self, token: str) -> dict:
        """The same verification /userinfo runs (signature, iss, exp, revocation), with each
        audience of ours in turn: the issuer knows every token it issued (§2.2)."""
        for audience in self.audiences:
            try:
                claims = self.access_tokens.verify(token, audience=audience)
            except DemoError:   # invalid, revoked, expired, not ours: all simply "not active"
                continue
            return {"active": True, "token_type": "Bearer", "client_id": claims.get("azp"),
                    **{k: claims[k] for k in ACCESS_CLAIMS if k in claims}}
        return dict(INACTIVE)

    def refresh_answer(self, token: str) -> dict | None:
        """The answer for a refresh token of ours; None if it is not one (then it may still
        be an access token that merely looks like one)."""
        try:
            grant_id, generation = self.refresh_tokens.parse(token)
        except InvalidGrant:
            return None
        grant = self.store.grant(grant_id)
        if grant is None or grant.revoked or generation != grant.generation:
            return dict(INACTIVE)
        return {"active": True, "client_id": grant.client_id, "scope": grant.scope,
                "sub": DEMO_USERS[grant.user]["sub"], "exp": grant.expires,
                "iss": self.issuer.identifier}
