"""The token endpoint and the authorization code grant: Steps 7 and 8 on the server's side.

RFC 6749 §3.2 (the token endpoint; §2.3 client authentication first), §4.1.3 (the code:
issued to this client, for this redirect_uri, unused, unexpired), §4.1.2 (a code used
twice revokes the tokens it issued), §5.1 (the answer) and §5.2 (errors); RFC 7636 §4.6
(the server recomputes the challenge from the verifier); OpenID Connect Core §2 (the ID
token) and RFC 9068 (JWT access tokens).
"""
from __future__ import annotations

import secrets

import pkce

from oauthdemo.core.errors import (InvalidGrant, InvalidRequest, MissingCodeVerifier,
                                   OAuth2Error, UnsupportedGrantType)
from oauthdemo.core.events import EventBus, PkceChecked
from oauthdemo.core.jose import encode_jwt
from oauthdemo.core.steps import Step
from oauthdemo.server.store import Grant, PkceRecord
from oauthdemo.server.users import DEMO_USERS, profile_claims

AS = "authorization server"
TOKEN_ALGORITHMS = ("RS256",)  # what this server signs with, and so all it accepts back
ACCESS_TOKEN_TTL = 86400       # Auth0's default for API access tokens
ID_TOKEN_TTL = 36000           # Auth0's default ID token lifetime (10 hours)
GRANT_TTL = 30 * 86400         # a grant, and so each of its refresh tokens, lives this long
OFFLINE = "offline_access"     # the scope that asks for a refresh token


class UnauthorizedClient(OAuth2Error):
    """RFC 6749 §5.2: this client is not allowed to use this grant type."""
    error = "unauthorized_client"


class TokenEndpoint:
    """POST /oauth/token: authenticate the client, then hand over to its grant type."""

    def __init__(self, clients, grant_types: dict):
        self.clients = clients
        self.grant_types = grant_types   # grant_type → redeem(client, params) -> dict

    def answer(self, params: dict, authorization: str | None) -> dict:
        client = self.clients.authenticate(params, authorization)
        grant_type = params.get("grant_type")
        redeem = self.grant_types.get(grant_type)
        if redeem is None:
            raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported.")
        return redeem(client, params)


class TokenIssuer:
    """RFC 6749 §5.1: the signed tokens (and the refresh token) one grant buys."""

    def __init__(self, keys, store, issuer, refresh_tokens, clock):
        self.keys, self.store, self.issuer = keys, store, issuer
        self.refresh_tokens = refresh_tokens
        self.clock = clock

    def issue(self, grant: Grant, include_refresh: bool) -> dict:
        user = DEMO_USERS.get(grant.user or "")
        if user is None:   # every grant here is a user's: none is ever issued without one
            raise InvalidGrant("This grant has no user to issue tokens for.")
        now = int(self.clock())
        key = self.keys.current()
        body = {"access_token": self.access_token(grant, now, key),
                "id_token": encode_jwt(self.id_token_claims(grant, user, now), key),
                "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL, "scope": grant.scope}
        self.check_alive(grant)
        if include_refresh:
            body["refresh_token"] = self.refresh_tokens.make(grant.grant_id, grant.generation)
        return body

    def issue_to_client(self, grant: Grant) -> dict:
        """RFC 6749 §4.4.3: a client credentials grant buys an access token only: a refresh
        token SHOULD NOT be included, and with no user there is no ID token."""
        now = int(self.clock())
        body = {"access_token": self.access_token(grant, now, self.keys.current()),
                "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL, "scope": grant.scope}
        self.check_alive(grant)
        return body

    def check_alive(self, grant: Grant) -> None:
        """A replay may have revoked the grant while we were signing: the access token just
        made carries its grant_id, so it is dead already; say so instead."""
        if not self.store.grant_alive(grant.grant_id):
            raise InvalidGrant("This grant was revoked while its tokens were issued.")

    def access_token(self, grant: Grant, now: int, key) -> str:
        """The one access-token builder, for every grant type (RFC 9068: typ at+jwt)."""
        return encode_jwt(self.access_token_claims(grant, now), key, headers={"typ": "at+jwt"})

    def access_token_claims(self, grant: Grant, now: int) -> dict:
        """RFC 9068 §2.2 claims; ``grant_id`` (ours) ties the token to its grant, and exp never
        outlives the grant, so the grant's record is there for the token's whole life."""
        sub, aud = self.subject(grant)
        return {"iss": self.issuer.identifier, "sub": sub, "aud": aud,
                "client_id": grant.client_id, "azp": grant.client_id, "scope": grant.scope,
                "iat": now, "exp": min(now + ACCESS_TOKEN_TTL, grant.expires),
                "jti": secrets.token_urlsafe(12), "grant_id": grant.grant_id}

    def subject(self, grant: Grant) -> tuple:
        """Whom a token is about (sub), and so which APIs may take it (aud). A user's grant:
        the user, for the API asked for and /userinfo. A client credentials grant is a Grant
        whose user is the client itself (RFC 6749 §4.4): sub = client_id (RFC 9068 §2.2),
        for its API alone: /userinfo has no user to describe."""
        if is_client_grant(grant):
            return grant.client_id, grant.audience
        userinfo = self.issuer.url("/userinfo")
        aud = [grant.audience, userinfo] if grant.audience else userinfo
        return DEMO_USERS[grant.user]["sub"], aud

    def id_token_claims(self, grant: Grant, user: dict, now: int) -> dict:
        """OIDC Core §2: who logged in, for whom (aud), when, and the client's nonce."""
        claims = {"iss": self.issuer.identifier, "sub": user["sub"], "aud": grant.client_id,
                  "iat": now, "exp": now + ID_TOKEN_TTL, "auth_time": int(grant.auth_time)}
        if grant.nonce:
            claims["nonce"] = grant.nonce
        claims.update(profile_claims(user, grant.scope))
        return claims


class CodeGrant:
    """grant_type=authorization_code: the code, its verifier, and the grant they become."""

    def __init__(self, store, tokens: TokenIssuer, revocation, clock,
                 events: EventBus | None = None):
        self.store, self.tokens, self.revocation = store, tokens, revocation
        self.clock = clock
        self.events = events or EventBus()
        self.quiet_flows: set = set()   # the attack lab's set-up redemptions: no Step 8 replay

    def redeem(self, client, params: dict) -> dict:
        code = params.get("code")
        if not code:
            raise InvalidRequest("code is required.")
        grant = self.store.redeem_code(
            code, lambda record, now: self.check(record, client, params), new_grant)
        return self.tokens.issue(grant, include_refresh=OFFLINE in grant.scope.split())

    def check(self, record, client, params: dict) -> None:
        """Inside the store's lock: the code's own checks, then the PKCE check."""
        self.check_code(record, client, params)
        self.check_pkce(record, params.get("code_verifier"))

    def check_code(self, record, client, params: dict) -> None:
        """RFC 6749 §4.1.3, in order: known, same client, unused, same redirect_uri. An
        expired code is an unknown one: the store forgets each code at its expiry."""
        if record is None:
            raise InvalidGrant("Invalid authorization code.")
        # The client first: whoever else holds a copy of a used code (a log, a proxy) must
        # not be able to revoke the real client's tokens by presenting it.
        if record.client_id != client.client_id:
            raise InvalidGrant("This code was issued to another client.")
        if record.used:
            # §4.1.2: a code used twice means someone has a copy; revoke what it gave.
            self.revocation.revoke_grant(record.grant_id, "authorization code reused")
            raise InvalidGrant("Authorization code has already been used; the tokens it "
                               "issued have been revoked.")
        if params.get("redirect_uri") != record.redirect_uri:
            raise InvalidGrant("redirect_uri does not match the one used in the "
                               "authorization request.")

    def check_pkce(self, record, verifier: str | None) -> None:
        """RFC 7636 §4.6: recompute BASE64URL(SHA256(verifier)), once, and compare it in
        constant time with the challenge stored at Step 4. The Step 8 header comes first:
        a request without a verifier is refused at this step too (attack a)."""
        told = record.flow not in self.quiet_flows
        if told:
            self.events.step(AS, Step.PKCE_CHECK, flow=record.flow)
        if not verifier:
            self.events.check(AS, "token request without code_verifier: refused", ok=False)
            raise MissingCodeVerifier()
        if not pkce.is_well_formed_verifier(verifier):
            self.events.check(AS, "code_verifier is not 43–128 unreserved characters", ok=False)
            raise InvalidRequest("code_verifier is malformed (RFC 7636 §4.1).")
        recomputed, ok = pkce.recompute_and_compare(verifier, record.challenge)
        if told:
            self.events.emit(PkceChecked(AS, verifier, record.challenge, recomputed, ok))
        self.store.record_pkce(PkceRecord(record.challenge, verifier, recomputed, ok,
                                          self.clock()))
        if not ok:
            raise InvalidGrant("Failed to verify code_verifier (PKCE).")


def is_client_grant(grant: Grant) -> bool:
    """A client credentials grant: the client acts as itself, so it is the grant's user."""
    return grant.user == grant.client_id


def new_grant(record, now: float) -> Grant:
    """The grant a redeemed code becomes. Without offline_access there is no refresh token:
    the grant then lives only as long as its access token, so one-off logins do not fill
    the table for 30 days."""
    lifetime = GRANT_TTL if OFFLINE in record.scope.split() else ACCESS_TOKEN_TTL
    return Grant(secrets.token_urlsafe(12), record.client_id, record.user, record.scope,
                 record.audience, record.nonce, record.auth_time, expires=int(now) + lifetime)
