"""Access tokens presented back to the server: is this one of ours, and is it still alive?

RFC 9068 §4 (validating a JWT access token: signature by a key of ours, iss, aud, exp)
and RFC 6750 §3.1 (``invalid_token``). Then what only the issuer knows and a signature
cannot say: whether the token, or the grant it descends from, has been revoked
(RFC 7009 §2.2). The key is chosen by ``kid`` among this server's own keys, never taken
from the token. Used by /userinfo, introspection and revocation.
"""
from __future__ import annotations

from oauthdemo.core.claims import Expect, verify_jwt
from oauthdemo.core.errors import InvalidToken, RevokedToken, UnknownKey
from oauthdemo.server.token import TOKEN_ALGORITHMS


class AccessTokens:
    """Verifies the access tokens this server issued."""

    def __init__(self, keys, store, issuer, clock):
        self.keys, self.store, self.issuer = keys, store, issuer
        self.clock = clock

    def verify(self, token: str | None, audience: str | None = None) -> dict:
        """The claims of a live access token of ours, for /userinfo (or for ``audience``:
        introspection asks about tokens for the API too); else a JoseError or an
        ``invalid_token``."""
        if not token:
            raise InvalidToken("A Bearer access token is required.")
        _, claims = verify_jwt(token, algorithms=TOKEN_ALGORITHMS, key_for_kid=self.key_for_kid,
                               expect=Expect(iss=self.issuer.identifier,
                                             aud=audience or self.issuer.url("/userinfo"),
                                             now=self.clock()))
        self.check_not_revoked(claims)
        return claims

    def check_not_revoked(self, claims: dict) -> None:
        """What only the issuer knows: a signature and an exp cannot say "revoked"."""
        if not self.store.grant_alive(claims.get("grant_id")):
            raise RevokedToken("The access token's grant has been revoked, or is unknown here.")
        jti = claims.get("jti")
        if isinstance(jti, str) and self.store.access_token_revoked(jti):
            raise RevokedToken("The access token has been revoked.")

    def key_for_kid(self, kid):
        """One of this server's published keys; an unknown kid is never echoed back."""
        for key in self.keys.public_keys():
            if key.kid == kid:
                return key
        raise UnknownKey("No key of this server has that kid.")
