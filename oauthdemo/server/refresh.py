"""The refresh token grant, with rotation and reuse detection.

RFC 6749 §6 (refreshing an access token; §10.4 refresh tokens are bound to their
client) and the OAuth 2.0 Security BCP, RFC 9700 §4.14.2: each refresh token works once;
the answer carries its successor, and presenting any older one of the same grant means
someone holds a copy, so the whole grant is revoked.

A refresh token is ``<grant id>.<generation>.<HMAC of both>``: the MAC makes it
unforgeable, the generation tells the current token from every rotated one, and the
server keeps one record per grant however often it rotates.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

from oauthdemo.core.errors import InvalidGrant, InvalidRequest
from oauthdemo.core.events import EventBus

AS = "authorization server"
REFRESH_TOKEN = re.compile(r"([A-Za-z0-9_-]{16})\.([0-9]{1,9})\.([A-Za-z0-9_-]{43})")
KEY_BYTES = 32   # the MAC key; it never leaves memory, so a restart retires every token


def looks_like_refresh_token(token: str) -> bool:
    """Which kind of token a revocation or introspection request carries (RFC 7009 §2.1 lets
    the server tell); whether it is genuine is ``RefreshTokens.parse``'s MAC check."""
    return REFRESH_TOKEN.fullmatch(token) is not None


class RefreshTokens:
    """Makes and reads refresh tokens under one server-side MAC key."""

    def __init__(self, key: bytes | None = None):
        self._key = key or secrets.token_bytes(KEY_BYTES)

    def make(self, grant_id: str, generation: int) -> str:
        body = f"{grant_id}.{generation}"
        return f"{body}.{self._mac(body)}"

    def parse(self, token: str) -> tuple:
        """(grant id, generation) of a refresh token this server made; anything else is refused."""
        match = REFRESH_TOKEN.fullmatch(token)
        if match is None or not hmac.compare_digest(
                match.group(3), self._mac(f"{match.group(1)}.{match.group(2)}")):
            raise InvalidGrant("Unknown or revoked refresh token.")
        return match.group(1), int(match.group(2))

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class RefreshGrant:
    """grant_type=refresh_token: rotate, or recognise a stale copy and revoke the grant."""

    def __init__(self, store, refresh_tokens: RefreshTokens, tokens, revocation,
                 events: EventBus | None = None):
        self.store, self.refresh_tokens = store, refresh_tokens
        self.tokens, self.revocation = tokens, revocation
        self.events = events or EventBus()

    def redeem(self, client, params: dict) -> dict:
        """RFC 6749 §6 with rotation (RFC 9700 §4.14.2): each refresh token works once."""
        token = params.get("refresh_token")
        if not token:
            raise InvalidRequest("refresh_token is required.")
        grant_id, generation = self.refresh_tokens.parse(token)
        grant = self.store.rotate(grant_id, lambda grant: self.check(grant, client, generation))
        self.events.say(AS, "refresh token rotated: the old one is now dead; presenting it "
                            "again revokes the grant")
        return self.tokens.issue(grant, include_refresh=True)

    def check(self, grant, client, generation: int) -> None:
        """Inside the store's lock: of two racing uses of one token, one is the reuse."""
        if grant is None or grant.revoked:
            raise InvalidGrant("Unknown or revoked refresh token.")
        if grant.client_id != client.client_id:   # before reuse: only its client may revoke
            raise InvalidGrant("This refresh token was issued to another client.")
        if generation != grant.generation:
            self.revocation.revoke_grant(grant.grant_id, f"refresh token "
                                         f"{grant.generation - generation} rotation(s) old "
                                         "presented again")
            raise InvalidGrant("Refresh token reuse detected; the whole grant is revoked.")
