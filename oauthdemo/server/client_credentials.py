"""The client credentials grant: a token for a machine acting as itself (RFC 6749 §4.4).

No user, no browser, no PKCE: a confidential client (a server, a CI job) proves who it is
with its secret (§2.3, checked before any grant type runs) and gets an access token only:
§4.4.3 says a refresh token SHOULD NOT be included, and with no user there is no ID token.
The token's ``sub`` is the client itself (RFC 9068 §2.2: client_id and sub name it).
"""
from __future__ import annotations

import secrets

from oauthdemo.core.errors import AccessDenied, InvalidScope
from oauthdemo.core.jose import encode_jwt
from oauthdemo.server.store import Grant
from oauthdemo.server.token import ACCESS_TOKEN_TTL, UnauthorizedClient

AS = "authorization server"
GRANT_TYPE = "client_credentials"
SERVICE_SCOPES = ("api:read",)   # what a service may ask of the one API registered here


class ClientCredentialsGrant:
    """grant_type=client_credentials, for clients registered with ``service=True``."""

    def __init__(self, keys, store, issuer, *, audience: str, clock, events):
        self.keys, self.store, self.issuer = keys, store, issuer
        self.audience, self.clock, self.events = audience, clock, events

    def redeem(self, client, params: dict) -> dict:
        # §4.4: only a confidential client, and only one registered for it; a public
        # client has no secret, so "its" token would be anyone's.
        if client.secret is None or not client.service:
            self.events.check(AS, f"client_credentials refused for {client.client_id}: "
                                  "unauthorized_client", ok=False)
            raise UnauthorizedClient("This client may not use the client_credentials grant.")
        audience = params.get("audience") or self.audience
        if audience != self.audience:
            raise AccessDenied(f"Service not found: {audience}")
        scope = service_scope(params.get("scope"))
        now = int(self.clock())
        grant = Grant(secrets.token_urlsafe(12), client.client_id, client.client_id, scope,
                      audience, None, now, expires=now + ACCESS_TOKEN_TTL)
        self.store.add_grant(grant)   # so revoking it works as for any other token
        claims = {"iss": self.issuer.identifier, "sub": client.client_id, "aud": audience,
                  "client_id": client.client_id, "azp": client.client_id, "scope": scope,
                  "iat": now, "exp": now + ACCESS_TOKEN_TTL,
                  "jti": secrets.token_urlsafe(12), "grant_id": grant.grant_id}
        token = encode_jwt(claims, self.keys.current(), headers={"typ": "at+jwt"})
        self.events.check(AS, f"client_credentials: {client.client_id} authenticated with "
                              f"its secret; access token for {audience} (no user, no ID "
                              "token, no refresh token)")
        return {"access_token": token, "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL,
                "scope": scope}


def service_scope(requested: str | None) -> str:
    """RFC 6749 §3.3: the service scopes asked for (all of them by default), known ones only."""
    scopes = (requested or " ".join(SERVICE_SCOPES)).split()
    unknown = [s for s in scopes if s not in SERVICE_SCOPES]
    if unknown:
        raise InvalidScope("A service may ask only for: " + " ".join(SERVICE_SCOPES))
    return " ".join(dict.fromkeys(scopes))
