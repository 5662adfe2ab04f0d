"""Step 10: the app's own API deciding whether an access token is good (a resource server).

RFC 6750 §2.1 (the bearer token in the Authorization header), RFC 9068 (a JWT access
token, checked locally: signature by a JWKS key, iss, aud, exp), RFC 7662 §2 (introspection:
asking the issuer whether the token is still active) and OpenID Connect Core §5.3
(userinfo, for a token that is not a JWT for this API).
"""
from __future__ import annotations

import time

from oauthdemo.client.explain import CHECK_FAILED, LOCAL_JWT_OK
from oauthdemo.client.jwks import ID_TOKEN_ALGORITHMS, LEEWAY, JWKSCache
from oauthdemo.client.transport import Transport, basic_authorization
from oauthdemo.core.claims import Expect, verify_jwt
from oauthdemo.core.errors import (InvalidToken, MissingBearerToken, ProviderBadResponse,
                                   RevokedToken)


class ProtectedResource:
    """The checks the app's API makes, with the provider's discovered endpoints and keys."""

    def __init__(self, provider, metadata: dict, jwks: JWKSCache, transport: Transport, *,
                 clock=time.time):
        self.provider = provider
        self.metadata = metadata
        self.jwks = jwks
        self.transport = transport
        self.clock = clock

    def validate_access_token(self, token: str | None) -> dict:
        """A JWT for our audience is checked locally, then (when the provider offers RFC 7662
        and we hold resource-server credentials) the issuer is asked whether it is still
        active; anything else is asked of /userinfo. Returns what each check said."""
        if not token:   # RFC 6750 §3.1: no credentials at all, so a bare challenge, no code
            raise MissingBearerToken("Send a session cookie or 'Authorization: Bearer "
                                     "<access_token>'.")
        if self.provider.audience and token.count(".") == 2:
            return self.validate_jwt(token)
        info = self.userinfo(token)
        return {"how": "userinfo", "claims": info, "sub": info.get("sub"), "scope": None,
                "exp": None, "checks": {"local_jwt": "not a JWT for this API: not checked locally",
                                        "authorization_server": "active (its /userinfo "
                                                                "accepted the token)"}}

    def validate_jwt(self, token: str) -> dict:
        """The same one claims check as the ID token's, for this API's audience."""
        expect = Expect(iss=self.provider.issuer, aud=self.provider.audience,
                        now=self.clock(), leeway=LEEWAY)
        _, claims = verify_jwt(token, algorithms=ID_TOKEN_ALGORITHMS,
                               key_for_kid=self.jwks.key_for_kid, expect=expect)
        checks = {"local_jwt": LOCAL_JWT_OK, "authorization_server": self.ask_issuer(token)}
        return {"how": "jwt", "claims": claims, "sub": claims.get("sub"),
                "scope": claims.get("scope", ""), "exp": claims.get("exp"), "checks": checks}

    def ask_issuer(self, token: str) -> str:
        """The half of the answer a local JWT check cannot give: has the issuer revoked it?"""
        answer = self.introspect(token)
        if answer is None:
            return self.why_not_introspected()
        if answer.get("active") is not True:
            raise RevokedToken("The signature, iss, aud and exp are fine locally, but the "
                               "authorization server says this token is no longer active "
                               "(revoked): RFC 7662.",
                               details={"checks": {"local_jwt": LOCAL_JWT_OK,
                                                   "authorization_server": CHECK_FAILED + "active: "
                                                   "revoked, or unknown to it"}})
        return "active (RFC 7662 introspection)"

    def why_not_introspected(self) -> str:
        if not self.metadata.get("introspection_endpoint"):
            return ("not asked: this provider offers no introspection endpoint, so a revoked "
                    "token is accepted here until its exp (keep access tokens short-lived)")
        return ("not asked: no resource-server credentials are configured (OIDC_INTROSPECTION_*), "
                "so a revoked token is accepted here until its exp")

    def introspect(self, token: str) -> dict | None:
        """RFC 7662 §2.1: the resource server authenticates and asks about one token.
        None when the provider has no endpoint or we hold no credentials for it."""
        endpoint = self.metadata.get("introspection_endpoint")
        client_id = self.provider.introspection_client_id
        secret = self.provider.introspection_client_secret
        if not (endpoint and client_id and secret):
            return None
        status, body = self.transport.post(
            endpoint, {"token": token, "token_type_hint": "access_token"},
            headers={"Authorization": basic_authorization(client_id, secret)})
        if status != 200 or not isinstance(body.get("active"), bool):
            raise ProviderBadResponse(f"The introspection endpoint answered HTTP {status} "
                                      "without an 'active' member.")
        return body

    def userinfo(self, access_token: str) -> dict:
        """OIDC Core §5.3: the provider accepts the token and says whose it is."""
        endpoint = self.metadata.get("userinfo_endpoint")
        if not endpoint:
            raise InvalidToken("This provider has no userinfo endpoint to check opaque tokens.")
        status, body = self.transport.get(endpoint,
                                          headers={"Authorization": f"Bearer {access_token}"})
        if status != 200 or not body.get("sub"):
            raise InvalidToken(f"The provider's userinfo refused the token (HTTP {status}).")
        return body
