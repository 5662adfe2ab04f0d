"""The mobile app's backend: it redeems the app's code as a confidential client and keeps a session.

The "Flet mobile app + FastAPI backend" design, with the standard library. RFC 6749
§4.1.3 (the backend redeems the code, adding its client secret, §2.3.1), RFC 7636 §4.5
(the app's code_verifier travels with the code), RFC 8252 §7.3 (the app's redirect_uri
must be a loopback /callback), OpenID Connect Core §3.1.3.7 (the ID token, nonce
included, is checked by the one OIDC client path), RFC 7519 + RFC 7518 §3.2 (the
backend's own session token: an HS256 JWT), RFC 6750 (it is sent as a Bearer token),
RFC 7009 (logout revokes the provider's grant).

The division of labour is the point of the design:

* the mobile app holds no secret: it makes the PKCE pair, catches the code and hands
  code + verifier (+ redirect_uri and nonce) to ``POST /auth/exchange``;
* the backend adds its client secret, exchanges the code, validates the ID token,
  stores the provider's tokens in SQLite (``backend.store``) and answers with its OWN
  short-lived session token; the provider's tokens never leave the backend;
* ``/api/me`` accepts that session token; ``POST /auth/refresh`` rotates it (and renews
  the provider's tokens when they are close to expiry); ``POST /auth/logout`` revokes it.

This module decides; ``backend.routes`` is its HTTP face, ``backend.wiring`` builds it.
"""
from __future__ import annotations

import secrets
import time

from oauthdemo.client.oidc import OIDCClient
from oauthdemo.client.pending import AuthRequest
from oauthdemo.core.claims import Expect, verify_jwt
from oauthdemo.core.errors import DemoError, InvalidRequest, InvalidToken, RevokedToken, as_oauth2
from oauthdemo.core.events import EventBus, TokenIssued
from oauthdemo.core.jose import encode_jwt
from oauthdemo.core.loopback import is_loopback_callback
from oauthdemo.core.steps import Step
from oauthdemo.backend.par import wants_par
from oauthdemo.backend.store import ProviderTokens, SessionStore, StoredSession
from oauthdemo.settings import DEFAULT_SCOPE

ACTOR = "backend"
SESSION_TTL = 15 * 60             # a session token lives 15 minutes; /auth/refresh renews it
SESSION_ALGORITHMS = ["HS256"]    # the allowlist: 'none' and RS256 tokens are refused
SESSION_ISSUER = "oauth-pkce-demo backend"
SESSION_AUDIENCE = "oauth-pkce-demo backend API"   # its own /api/me, nothing else
API_CONTEXT = "the backend's session token"   # how its Step 10 heading names it
PROVIDER_REFRESH_MARGIN = 5 * 60  # renew the provider's tokens when they have less left
EXCHANGE_FIELDS = ("code", "code_verifier", "redirect_uri", "nonce")
APP_REDIRECT_URI = "http://127.0.0.1:<any port>/callback"   # what /auth/config tells the app


def short(sid: str) -> str:
    """A session id as the console shows it: enough to follow one session, not to use it."""
    return f"{sid[:8]}…"


class Backend:
    """The state behind /auth/* and /api/me: a confidential OIDC client and the store."""

    def __init__(self, client: OIDCClient, store: SessionStore, *,
                 events: EventBus | None = None, clock=time.time, scope: str = DEFAULT_SCOPE):
        self.client = client
        self.store = store
        self.events = events or EventBus()
        self.clock = clock
        self.scope = scope
        self.session_ttl = SESSION_TTL
        self.refresh_margin = PROVIDER_REFRESH_MARGIN
        self.key = store.session_key()

    def public_config(self) -> dict:
        """What the app needs to start a login; nothing here is secret."""
        p = self.client.provider
        return {"issuer": p.issuer, "client_id": p.client_id, "audience": p.audience,
                "scope": self.scope, "redirect_uri": APP_REDIRECT_URI,
                "par": wants_par(self)}   # RFC 9126: then push through POST /auth/par

    # == Step 7, the mobile app's hand-off: POST /auth/exchange ===================================
    def exchange(self, fields: dict) -> dict:
        flow = fields.get("flow") if isinstance(fields.get("flow"), str) else ""
        self.events.step(ACTOR, Step.TOKEN_REQUEST, flow=flow[:6],
                         context="the backend redeems the mobile app's code")
        self.events.say(ACTOR, "POST /auth/exchange from the mobile app")
        code, verifier, redirect_uri, nonce = self.require_fields(fields)
        self.check_redirect_uri(redirect_uri)
        req = AuthRequest(state="", nonce=nonce, verifier=verifier, challenge="",
                          redirect_uri=redirect_uri, issuer=self.client.provider.issuer,
                          scope=self.scope, created=self.clock())
        tokens = self.client.exchange_code(code, req, step_started=True)
        claims = self.client.validate_id_token(tokens.get("id_token"), nonce, req.trace,
                                               flow=flow[:6])
        self.client.narrate_tokens(tokens)
        user = {"sub": claims["sub"], "name": claims.get("name"), "email": claims.get("email")}
        return self.start_session(user, self.provider_tokens(tokens), flow=flow[:6])

    def require_fields(self, fields: dict) -> tuple:
        """The nonce is required too: the backend, not the app, validates the ID token, and
        without the app's nonce it could not tell this login's ID token from a replayed one."""
        missing = [name for name in EXCHANGE_FIELDS if not fields.get(name)]
        if missing:
            raise InvalidRequest("Missing field(s): " + ", ".join(missing) + ". Send code, "
                                 "code_verifier, redirect_uri and nonce.")
        return tuple(fields[name] for name in EXCHANGE_FIELDS)

    def check_redirect_uri(self, redirect_uri: str):
        """RFC 8252 §7.3: only a loopback /callback. The app never chooses where codes go:
        a code issued for any other redirect (say, a web page's) is not redeemed here."""
        if not is_loopback_callback(redirect_uri):
            raise InvalidRequest("redirect_uri must be http://127.0.0.1:<port>/callback "
                                 "(a native app's loopback redirect).")
        self.events.check(ACTOR, f"redirect_uri {redirect_uri} is a loopback /callback "
                                 "(RFC 8252 §7.3 allowlist)")

    def provider_tokens(self, tokens: dict,
                        previous: ProviderTokens | None = None) -> ProviderTokens:
        """The provider's answer as stored; a provider that does not rotate keeps the old one."""
        previous = previous or ProviderTokens(access_token="")
        expires_in = tokens.get("expires_in")
        return ProviderTokens(
            access_token=tokens["access_token"],
            refresh_token=tokens.get("refresh_token") or previous.refresh_token,
            id_token=tokens.get("id_token") or previous.id_token,
            expires_at=self.clock() + int(expires_in) if expires_in else None)

    def start_session(self, user: dict, provider: ProviderTokens, flow: str = "") -> dict:
        """``flow``: the login's tag, carried in the session token so the backend's Step 10
        heading names the same flow as the login's other steps."""
        now = self.clock()
        session = StoredSession(secrets.token_urlsafe(18), user, provider, created_at=now,
                                expires_at=now + self.session_ttl)
        self.store.insert(session, now)
        token = self.session_token(session, flow)
        self.events.emit(TokenIssued(
            ACTOR, f"session sid={short(session.sid)} stored in SQLite with the provider's "
                   "tokens; the app gets only a session token "
                   f"(HS256, {self.session_ttl // 60} min)", token))
        return {"session_token": token, "token_type": "Bearer", "expires_in": self.session_ttl,
                "user_info": user}

    def session_token(self, session: StoredSession, flow: str = "") -> str:
        """RFC 7519: the backend's own JWT, for its own API only (iss and aud say so)."""
        claims = {"iss": SESSION_ISSUER, "aud": SESSION_AUDIENCE, "sub": session.sub,
                  "sid": session.sid, "iat": int(session.created_at),
                  "exp": int(session.expires_at), "flow": flow}
        return encode_jwt(claims, self.key, alg="HS256")

    # == every call that presents a session token ================================================
    def check_session(self, token: str | None) -> StoredSession:
        return self.verified_session(token)[0]

    def verified_session(self, token: str | None) -> tuple:
        """Signature (HS256 with the database's key; the token never picks alg or key), iss,
        aud, exp, then the sid row: it must exist and not be revoked, so logout works at once.
        Returns (the session, the token's verified claims)."""
        if not token:
            raise InvalidToken("Send 'Authorization: Bearer <session_token>' "
                               "(from POST /auth/exchange).")
        _, claims = verify_jwt(token, algorithms=SESSION_ALGORITHMS, key=self.key,
                               expect=Expect(iss=SESSION_ISSUER, aud=SESSION_AUDIENCE,
                                             now=self.clock()))
        session = self.store.get(str(claims.get("sid", "")))
        if session is None:
            raise InvalidToken("No such session (it was never issued here, or has expired).")
        if session.revoked:
            raise RevokedToken(f"This session has been revoked ({session.revoked_reason}).")
        return session, claims

    # == Step 10, the backend's protected API: GET /api/me =====================================
    def me(self, token: str | None) -> dict:
        try:
            session, claims = self.verified_session(token)
        except DemoError:   # not our token: no flow to name
            self.events.step(ACTOR, Step.PROTECTED_API, context=API_CONTEXT)
            raise
        self.events.step(ACTOR, Step.PROTECTED_API, flow=str(claims.get("flow") or ""),
                         context=API_CONTEXT)
        user, name = session.user, session.user.get("name") or session.sub
        self.events.check(ACTOR, f"session token verified (HS256, key from the database); sid "
                                 f"{short(session.sid)} is live → {name}")
        provider_exp = session.provider.expires_at
        return {"message": f"Hello {name}: the backend accepted your session token.",
                "user": user, "session_expires_at": int(session.expires_at),
                "provider_token_expires_at": int(provider_exp) if provider_exp else None}

    # == POST /auth/refresh ========================================================================
    def refresh(self, token: str | None) -> dict:
        """Rotation: the presented session is revoked first (exactly one caller wins), then a
        new one starts, with the provider's tokens renewed if they are nearly spent."""
        session = self.revoke_presented(token, "rotated")
        self.events.say(ACTOR, f"session sid={short(session.sid)} rotated: the old session "
                               "token is refused from now on")
        provider, renewed = self.renew_provider_tokens(session)
        answer = self.start_session(session.user, provider)
        return {**answer, "provider_tokens_refreshed": renewed}

    def revoke_presented(self, token: str | None, reason: str) -> StoredSession:
        session = self.check_session(token)
        if not self.store.revoke(session.sid, reason, self.clock()):
            raise RevokedToken("This session was rotated or revoked a moment ago.")
        return session

    def renew_provider_tokens(self, session: StoredSession) -> tuple:
        """(tokens, renewed): the stored ones, or new ones if they have little time left."""
        stored = session.provider
        nearly_spent = (stored.expires_at is not None
                        and stored.expires_at - self.clock() <= self.refresh_margin)
        if not (nearly_spent and stored.refresh_token):
            return stored, False
        self.events.say(ACTOR, "the provider's access token is close to expiry: using "
                               "the stored refresh token (it rotates too)")
        tokens = self.client.refresh(stored.refresh_token, id_claims={"sub": session.sub})
        return self.provider_tokens(tokens, previous=stored), True

    # == POST /auth/logout =========================================================================
    def logout(self, token: str | None) -> dict:
        session = self.revoke_presented(token, "logged out")
        self.events.check(ACTOR, f"session sid={short(session.sid)} revoked: its token is "
                                 "refused from this moment")
        return {"revoked": True, "provider_tokens_revoked": self.revoke_at_provider(session)}

    def revoke_at_provider(self, session: StoredSession) -> bool:
        """RFC 7009: revoking the refresh token ends the whole grant at the provider. Our
        session is already revoked, so a provider that cannot be reached does not undo it."""
        try:
            return self.client.revoke(session.provider.refresh_token
                                      or session.provider.access_token)
        except DemoError as err:
            self.events.check(ACTOR, f"the provider's revocation failed: {as_oauth2(err).error}",
                              ok=False)
            return False
