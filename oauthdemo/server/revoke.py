"""Revocation: RFC 7009 (§2.1 the request, §2.2 the answer: 200 whether or not the
token was known), and revoking a whole grant, which code reuse (RFC 6749 §4.1.2) and
refresh token reuse (RFC 9700 §4.14.2) also do.

A revocation lasts until the token's own expiry: a grant is kept, marked revoked, until it
expires; a single access token's ``jti`` is remembered until its ``exp``. If that table is
full, the whole grant goes instead: a revocation is never forgotten to make room.
"""
from __future__ import annotations

from oauthdemo.core.errors import InvalidGrant, JoseError, TableFull
from oauthdemo.core.events import EventBus
from oauthdemo.core.jose import verify_jws
from oauthdemo.server.refresh import looks_like_refresh_token
from oauthdemo.server.token import TOKEN_ALGORITHMS

AS = "authorization server"


class Revocation:
    """POST /oauth/revoke, and the grant revocation every reuse detection calls."""

    def __init__(self, store, access_tokens, refresh_tokens, events: EventBus | None = None):
        self.store, self.access_tokens = store, access_tokens
        self.refresh_tokens = refresh_tokens
        self.events = events or EventBus()

    def revoke_grant(self, grant_id: str | None, why: str) -> None:
        """Every access and refresh token of one grant stops working now, until it expires."""
        if self.store.revoke_grant(grant_id):
            self.events.check(AS, f"{why}: revoked grant {grant_id[:6]}…, every access and "
                                  "refresh token it issued", ok=False)

    def revoke(self, client, token: str) -> None:
        """RFC 7009 §2.1: a client may revoke only its own tokens; §2.2: the answer is the
        same whether the token was known, someone else's, or garbage."""
        if looks_like_refresh_token(token):
            self.revoke_refresh_token(client, token)
            return
        try:
            # Only the signature matters here: is this one of our tokens, and whose?
            _, claims = verify_jws(token, algorithms=TOKEN_ALGORITHMS,
                                   key_for_kid=self.access_tokens.key_for_kid)
        except JoseError:
            return
        if claims.get("azp") == client.client_id and isinstance(claims.get("jti"), str):
            self.revoke_access_token(claims)

    def revoke_refresh_token(self, client, token: str) -> None:
        """A refresh token stands for its grant: revoking it revokes every token of the grant."""
        try:
            grant_id, _ = self.refresh_tokens.parse(token)
        except InvalidGrant:
            return
        grant = self.store.grant(grant_id)
        if grant is not None and grant.client_id == client.client_id:
            self.revoke_grant(grant_id, "revocation request")

    def revoke_access_token(self, claims: dict) -> None:
        """One access token, remembered until its own exp."""
        try:
            self.store.revoke_access_token(claims["jti"], claims.get("exp", 0))
        except TableFull:
            self.revoke_grant(claims.get("grant_id"), "revocation table full, so the whole grant")
            return
        self.events.check(AS, "revocation request: that access token is dead until its exp",
                          ok=False)
