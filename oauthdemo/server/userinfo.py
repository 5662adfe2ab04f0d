"""The UserInfo endpoint: OpenID Connect Core 1.0 §5.3 (request and response) and §5.4
(the claims each scope releases), behind an RFC 6750 §2.1 Bearer access token."""
from __future__ import annotations

from oauthdemo.core.errors import MissingBearerToken
from oauthdemo.server.users import profile_claims, user_with_sub


class UserInfo:
    """GET or POST /userinfo: the user's claims, as far as the token's scope allows."""

    def __init__(self, access_tokens):
        self.access_tokens = access_tokens

    def claims(self, token: str | None) -> dict:
        if not token:   # RFC 6750 §3.1: no credentials, so a bare challenge, no error code
            raise MissingBearerToken()
        claims = self.access_tokens.verify(token)
        user = user_with_sub(claims["sub"])
        return {"sub": user["sub"], **profile_claims(user, claims.get("scope", ""))}
