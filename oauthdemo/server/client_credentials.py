"""The client credentials grant: a token for a machine acting as itself (RFC 6749 §4.4).

No user, no browser, no PKCE: a confidential client (a server, a CI job) proves who it is
with its secret (§2.3, checked before any grant type runs) and gets an access token only:
§4.4.3 says a refresh token SHOULD NOT be included, and with no user there is no ID token.
The token's ``sub`` is the client itself (RFC 9068 §2.2: client_id and sub name it).
"""
from __future__ import annotations

import secrets

from oauthdemo.core.errors import InvalidScope
from oauthdemo.core.grants import CLIENT_CREDENTIALS
from oauthdemo.server.authorize import check_audience
from oauthdemo.server.store import Grant
from oauthdemo.server.token import ACCESS_TOKEN_TTL, UnauthorizedClient

AS = "authorization server"
GRANT_TYPE = CLIENT_CREDENTIALS
SERVICE_SCOPES = ("api:read",)   # what a service may ask of the one API registered here


class ClientCredentialsGrant:
    """grant_type=client_credentials, for clients registered with ``service=True``."""

    def __init__(self, tokens, store, *, audience: str, clock, events):
        self.tokens, self.store = tokens, store
        self.audience, self.clock, self.events = audience, clock, events

    def redeem(self, client, params: dict) -> dict:
        # §4.4: only a confidential client, and only one registered for it; a public
        # client has no secret, so "its" token would be anyone's.
        if client.secret is None or not client.service:
            self.events.check(AS, f"client_credentials refused for {client.client_id}: "
                                  "unauthorized_client", ok=False)
            raise UnauthorizedClient("This client may not use the client_credentials grant.")
        # RFC 8707 §2: an unknown API is invalid_target, as at /authorize. None asked for:
        # the one API registered here (a service token is always for some API, as Auth0's
        # default audience does; RFC 8707 §2 lets a server use a default resource).
        audience = check_audience(params, self.audience) or self.audience
        scope = service_scope(params.get("scope"))
        now = int(self.clock())
        # The client is the grant's subject (token.is_client_grant): sub = client_id.
        grant = Grant(secrets.token_urlsafe(12), client.client_id, client.client_id, scope,
                      audience, None, now, expires=now + ACCESS_TOKEN_TTL)
        self.store.add_grant(grant)   # so revoking it works as for any other token
        body = self.tokens.issue_to_client(grant)
        self.events.check(AS, f"client_credentials: {client.client_id} authenticated with "
                              f"its secret; access token for {audience} (no user, no ID "
                              "token, no refresh token)")
        return body


def service_scope(requested: str | None) -> str:
    """RFC 6749 §3.3: the service scopes asked for (all of them by default), known ones only."""
    scopes = (requested or " ".join(SERVICE_SCOPES)).split()
    unknown = [s for s in scopes if s not in SERVICE_SCOPES]
    if unknown:
        raise InvalidScope("A service may ask only for: " + " ".join(SERVICE_SCOPES))
    return " ".join(dict.fromkeys(scopes))
