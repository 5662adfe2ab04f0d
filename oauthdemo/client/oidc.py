"""The one OpenID Connect client code path: discovery, PKCE request, callback, exchange, validation.

RFC 6749 §4.1 (authorization code grant), RFC 7636 (PKCE), RFC 9207 (iss in the
authorization response), OpenID Connect Core 1.0 §3.1.3.7 (ID token validation) and
Discovery 1.0 §4, RFC 7517 (JWKS), RFC 6750 (bearer tokens).

The web app, the CLI login, the mobile thin client and the backend all call these
functions; no security check exists twice. A client exists only ready to use:
``OIDCClient.discover(provider)`` fetches and checks the provider's document first.
Each step emits events (``core.events``) for whoever tells the story, and records what
it did in the request's ``trace`` (the walkthrough page draws from it).
"""
from __future__ import annotations

import hmac
import secrets
import time
import urllib.parse

import pkce

from oauthdemo.client.explain import PARAM_NOTES, human_duration
from oauthdemo.client import par
from oauthdemo.client.jwks import ID_TOKEN_ALGORITHMS, LEEWAY, JWKSCache
from oauthdemo.client.pending import AuthRequest, LoginResult, PendingLogins
from oauthdemo.client.resource import ProtectedResource
from oauthdemo.client.transport import HTTP_TIMEOUT, Transport, basic_authorization
from oauthdemo.core.claims import Expect, verify_jwt
from oauthdemo.core.errors import (ClaimMismatch, ConfigError, InvalidRequest, InvalidToken,
                                   IssuerMismatch, OAuth2Error, ProviderBadResponse)
from oauthdemo.core import grants
from oauthdemo.core.events import PLAIN, TOKEN, EventBus
from oauthdemo.core.steps import Step
from oauthdemo.core.text import mask_secret

STATE_BYTES = 32               # 256 bits: RFC 6749 §10.10 wants it unguessable
DISCOVERY_PATH = "/.well-known/openid-configuration"    # Discovery 1.0 §4
REQUIRED_METADATA = ("authorization_endpoint", "token_endpoint", "jwks_uri")
# How each member of the token request is shown: the code abbreviated, secrets never.
TOKEN_REQUEST_KINDS = {"code": TOKEN}   # the client secret arrives masked already
TOKEN_REQUEST_NOTES = {"code_verifier": "THE SECRET, revealed only now, only to the server"}
# Step 7's heading: who posts the token request, and how (no browser in any of them).
TOKEN_REQUEST_CONTEXT = {"your app": "server to server",
                         "CLI": "the CLI posts it directly"}
# Step 9: the claims the app checks, in this order, and what each protects against (OIDC
# Core §3.1.3.7), one short clause: the console and the walkthrough print these same words.
CLAIM_WHY = {"iss": "pins the token to the one provider this login went to: otherwise a "
                    "provider the app does not use, or another tenant sharing the same signing "
                    "keys (multi-tenant providers, custom domains), could hand it a "
                    "valid-looking token",
             "aud": "issued to this app: a token given to another app is not accepted here",
             "azp": "when aud lists several apps, any one of them could pass its token on to "
                    "you; azp names the app the token was actually issued to, and it must be "
                    "this one",
             "exp": "still within its lifetime: an old token, leaked from a log, no longer works",
             "iat": "not issued in the future (60 s of clock skew allowed): that catches a "
                    "server or client clock that is wrong (then exp is wrong too) and, with "
                    "exp, bounds how long a token can be replayed; a forged token already "
                    "fails the signature",
             "nonce": "made for this login, not replayed from another one: an attacker who "
                      "holds an old ID token of yours (playing a malicious or compromised "
                      "provider, or in the response path behind a misconfigured TLS proxy) "
                      "cannot pass it off as this login's",
             "sub": "present, a string of at most 255 ASCII characters (OIDC Core §2) so it "
                    "can be stored and compared: the user's stable key at this provider; "
                    "keyed on an email instead, an address re-assigned to someone else would "
                    "log them in to the old owner's account"}
# The same checks in a few words, for the tables that mark a claim "checked" (the profile).
CLAIM_SHORT = {"iss": "who issued it", "aud": "which app it is for",
               "azp": "which app asked, when several are named", "exp": "not expired",
               "iat": "not issued in the future", "nonce": "made for this login",
               "sub": "the user's stable key"}
CLAIMS_CHECKED = tuple(CLAIM_WHY)
# Step 6: why the callback's iss is checked (RFC 9207 §2.4).
CALLBACK_ISS_WHY = ("without it, a client that uses two providers can be tricked (a mix-up "
                    "attack) into sending the code from the honest one to the attacker's token "
                    "endpoint: the attacker then holds your code, and your login; iss in the "
                    "callback says who answered")
NO_AZP = "no azp: one audience, nothing to check"
# Step 6's one reason for a state this app issued to another browser: the console's header
# says the same words as the error (client.pending) and the page.
OTHER_BROWSER = "state issued to a different browser"
NONCE_MATCHED = "matches the one this login sent"


# Before the login: the endpoints of the discovery document this grant really uses, and
# what for, in its own steps' words (the code grant's ten; the device grant's six, RFC 8628;
# client credentials, RFC 6749 §4.4, has no browser and so no authorization endpoint).
DISCOVERY_NOTES = {
    "code": (("authorization_endpoint", "Step 3 sends the browser here"),
             ("token_endpoint", "Step 7 posts the code here"),
             ("jwks_uri", "Step 9 checks signatures with these public keys")),
    "device": (("device_authorization_endpoint", "Device step 1 asks for the codes here; no "
                                                 "browser is sent anywhere by the CLI"),
               ("token_endpoint", "Device step 5 polls for the tokens here"),
               ("jwks_uri", "Device step 6 checks the ID token's signature with these keys")),
    "client_credentials": (("token_endpoint", "the only endpoint asked for anything: the "
                                              "service posts its credentials here, no browser"),
                           ("jwks_uri", "the access token's signature is checked with these "
                                        "keys")),
}
# RFC 6749 §2.3.1: how a provider registers a client with a secret unless told otherwise.
# Auth0 registers Regular Web Applications for client_secret_post (its Credentials tab
# changes it): the demo keeps posting there, as it always did. Others: Basic where offered.
USUAL_AUTH_METHOD = {"auth0": "client_secret_post"}
REFRESHED_NONCE = ("not checked: a refreshed ID token is not tied to a new login's nonce; "
                   "it keeps the original one (OIDC Core §12.2)")


# -- discovery -------------------------------------------------------------------------------

def discovery_url(issuer: str) -> str:
    """Discovery 1.0 §4.1: the document lives at the issuer + /.well-known/openid-configuration."""
    return issuer.rstrip("/") + DISCOVERY_PATH


def fetch_metadata(issuer: str, transport: Transport) -> dict:
    url = discovery_url(issuer)
    status, meta = transport.get(url)
    if status != 200:
        raise ConfigError(f"Discovery at {url} answered HTTP {status}.")
    return meta


def check_metadata(meta: dict, issuer: str):
    """Discovery 1.0 §4.3: the document's issuer must be exactly the one configured (else
    another server could hand us its endpoints); RFC 7636: S256 must be on offer."""
    if meta.get("issuer") != issuer:
        raise ConfigError(f"The provider says its issuer is {meta.get('issuer')!r}, but the "
                          f"configuration says {issuer!r}; they must be equal.")
    for key in REQUIRED_METADATA:
        if not meta.get(key):
            raise ConfigError(f"The discovery document has no {key}.")
    methods = meta.get("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise ConfigError("This provider does not support PKCE with S256.")


def new_state() -> str:
    """RFC 6749 §10.10: an unguessable state (a login's tag is its first characters)."""
    return secrets.token_urlsafe(STATE_BYTES)


def check_token_answer(body: dict) -> dict:
    """RFC 6749 §5.1: a successful token answer carries a Bearer access_token. One check for
    every grant that gets one (the code, refresh, client_credentials and device grants)."""
    if not body.get("access_token") or str(body.get("token_type", "")).lower() != "bearer":
        raise ProviderBadResponse("The token response has no Bearer access_token.")
    return body


def token_request_for_trace(data: dict, headers: dict) -> dict:
    """The token request as the walkthrough page shows it: the client secret masked."""
    shown = {k: (mask_secret(v) if k == "client_secret" else v) for k, v in data.items()}
    if headers:
        shown["Authorization"] = "Basic " + mask_secret(headers["Authorization"])
    return shown


class OIDCClient:
    """One relying party at one provider. Shared by the web app, CLI, mobile and backend.

    Built from a checked discovery document: use ``OIDCClient.discover(provider)``."""

    def __init__(self, provider, metadata: dict, *, transport: Transport | None = None,
                 events: EventBus | None = None, clock=time.time, actor: str = "your app",
                 pusher=None):
        check_metadata(metadata, provider.issuer)
        self.provider = provider
        self.metadata = metadata
        self.transport = transport or Transport()
        self.events = events or EventBus()
        self.clock = clock
        self.actor = actor
        self.jwks = JWKSCache(metadata["jwks_uri"], clock=clock, transport=self.transport,
                              events=self.events, actor=actor)
        self.resource = ProtectedResource(provider, metadata, self.jwks, self.transport,
                                          clock=clock)
        self.pusher = pusher   # RFC 9126: who pushes for it (a mobile app's backend); None: itself

    @classmethod
    def discover(cls, provider, *, events: EventBus | None = None, clock=time.time,
                 timeout: float = HTTP_TIMEOUT, actor: str = "your app",
                 transport: Transport | None = None, grant: str = "code",
                 pusher=None) -> "OIDCClient":
        """Fetch the provider's discovery document, check it, and return a ready client.
        Every later call goes through the same transport (a test may pass its own); the
        console names the endpoints ``grant`` uses (DISCOVERY_NOTES)."""
        transport = transport or Transport(timeout)
        metadata = fetch_metadata(provider.issuer, transport)
        client = cls(provider, metadata, transport=transport, events=events, clock=clock,
                     actor=actor, pusher=pusher)
        narrate_discovery(client.events, actor, provider.issuer, metadata, grant)
        return client

    @property
    def timeout(self) -> float:
        """Seconds every call to the provider may take (the transport's, shared by all)."""
        return self.transport.timeout

    def pin_key(self, key):
        """Trust exactly this key for the provider's signatures (see JWKSCache.pin)."""
        self.jwks.pin(key)

    # == Steps 2 and 3: the PKCE secrets and the redirect ======================================
    def begin(self, redirect_uri: str, *, browser: str = "", scope: str = "openid profile email",
              extra: dict | None = None, state: str | None = None) -> AuthRequest:
        """``state``: made before Step 1 (``new_state``), so Step 1 carries its flow tag."""
        verifier, challenge = pkce.make_pair()
        req = AuthRequest(state=state or self.take_reserved_state() or new_state(),
                          nonce=secrets.token_urlsafe(STATE_BYTES), verifier=verifier,
                          challenge=challenge, redirect_uri=redirect_uri,
                          issuer=self.provider.issuer, scope=scope, created=self.clock(),
                          browser=browser)
        params = self.authorize_params(req, extra)
        front, pushed = par.front_channel(self, params)   # RFC 9126: pushed, if wanted
        req.url = self.metadata["authorization_endpoint"] + "?" + urllib.parse.urlencode(front)
        req.trace.update(verifier=verifier, challenge=challenge,
                         digest_hex=pkce.s256_digest(verifier).hex(), authorize_url=req.url,
                         authorize_params=params, started=req.created, flow=req.flow)
        narrate_pkce_secrets(self.events, self.actor, req)
        if pushed:
            req.trace["par"] = dict(pushed, endpoint=self.metadata[par.ENDPOINT])
            par.narrate_pushed(self.events, self.actor, req, params, pushed,
                               (self.metadata[par.ENDPOINT], self.metadata["authorization_endpoint"]))
        else:
            narrate_redirect(self.events, self.actor, req, params,
                             self.metadata["authorization_endpoint"])
        return req

    def reserve_state(self, state: str | None = None) -> str:
        """A native app's one login (one client per command): its state, made before Step 1
        so that Step 1 carries the flow tag; its next ``begin`` uses it."""
        self._reserved_state = state or new_state()
        return self._reserved_state

    def take_reserved_state(self) -> str | None:
        state, self._reserved_state = getattr(self, "_reserved_state", None), None
        return state

    def authorize_params(self, req: AuthRequest, extra: dict | None) -> dict:
        """RFC 6749 §4.1.1 with RFC 7636 §4.3 and OIDC Core §3.1.2.1."""
        params = {"response_type": "code", "client_id": self.provider.client_id,
                  "redirect_uri": req.redirect_uri, "scope": req.scope,
                  "code_challenge": req.challenge, "code_challenge_method": "S256",
                  "state": req.state, "nonce": req.nonce}
        if self.provider.audience:
            params["audience"] = self.provider.audience
        if asks_consent_for_offline_access(self.provider, req.scope):
            params["prompt"] = "consent"
        params.update(extra or {})
        return params

    # == Step 6: the callback ====================================================================
    def check_callback(self, params: dict, pending: PendingLogins, browser: str) -> tuple:
        """Error first, then state, then iss, then code. Returns (AuthRequest, code)."""
        e, a = self.events, self.actor
        state = params.get("state")
        known = pending.peek(state) if state else None   # a forged state is no flow of ours
        if known is not None and hmac.compare_digest(known.browser.encode(), browser.encode()):
            e.step(a, Step.CALLBACK, flow=known.flow)
        else:   # ours but another browser's is login CSRF (RFC 6749 §10.12); else not ours
            e.step(a, Step.CALLBACK, context=OTHER_BROWSER if known else "unknown state")
        if params.get("error"):
            pending.discard(state, browser)   # an error still uses the state up
            e.check(a, f"the provider sent error={params['error']}", ok=False)
            raise OAuth2Error.from_response(params, 400)   # RFC 6749 §4.1.2.1
        req = pending.take(state, browser)
        whose = "we issued to this browser" if req.browser else "this login issued"
        e.check(a, f"state {req.state[:10]}… is one {whose}; now used up")
        self.check_iss(params.get("iss"), req)
        if not params.get("code"):
            raise InvalidRequest("The callback carries neither a code nor an error.")
        e.show(a, "authorization code", params["code"], "one use, minutes to live", kind=TOKEN)
        req.trace["callback"] = dict(params)
        return req, params["code"]

    def check_iss(self, iss: str | None, req: AuthRequest):
        """RFC 9207 §2.4: the response names the server it came from (mix-up defence)."""
        if iss is None and self.metadata.get("authorization_response_iss_parameter_supported"):
            raise IssuerMismatch("The provider always sends iss (RFC 9207 §2.4), but this "
                                 "response has none: it may come from another server.")
        if iss is not None and iss != req.issuer:
            raise IssuerMismatch(f"The response says it came from {iss!r}, but this login went "
                                 f"to {req.issuer!r} (RFC 9207 mix-up defence).")
        if iss is not None:
            self.events.check(self.actor, f"iss={iss} is the issuer we sent the user to "
                                          f"(RFC 9207): {CALLBACK_ISS_WHY}")

    # == Step 7: the token exchange ============================================================
    def token_request_body(self, code: str, redirect_uri: str, verifier: str) -> tuple:
        """RFC 6749 §4.1.3 with RFC 7636 §4.5: the code and the verifier, at last."""
        data = {"grant_type": grants.AUTHORIZATION_CODE, "client_id": self.provider.client_id,
                "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
        return self.with_client_auth(data)

    def with_client_auth(self, data: dict) -> tuple:
        """A confidential client authenticates as it is registered (``token_auth_method``)."""
        method = token_auth_method(self.provider, self.metadata)
        if method == "client_secret_post":
            return {**data, "client_secret": self.provider.client_secret}, {}
        if method == "client_secret_basic":
            return data, {"Authorization": basic_authorization(self.provider.client_id,
                                                               self.provider.client_secret)}
        return data, {}   # "none": a public client sends its client_id alone

    def exchange_code(self, code: str, req: AuthRequest, *, step_started: bool = False) -> dict:
        """Step 7. ``step_started``: the caller (the mobile backend) opened it already."""
        data, headers = self.token_request_body(code, req.redirect_uri, req.verifier)
        if not step_started:
            self.events.step(self.actor, Step.TOKEN_REQUEST, flow=req.flow,
                             context=TOKEN_REQUEST_CONTEXT.get(self.actor, ""))
        shown = token_request_for_trace(data, headers)   # the secret masked, at the source
        narrate_token_request(self.events, self.actor, self.metadata["token_endpoint"], shown)
        req.trace["token_request"] = shown
        tokens = self.post_token(data, headers)
        req.trace["token_response"] = tokens
        return tokens

    def post_token(self, data: dict, headers: dict) -> dict:
        """RFC 6749 §5.1: a Bearer access token; §5.2: the provider's error, as ours."""
        status, body = self.transport.post(self.metadata["token_endpoint"], data, headers)
        if status != 200:
            self.events.check(self.actor, f"token endpoint answered HTTP {status}: "
                                          f"{body.get('error')}: {body.get('error_description')}",
                              ok=False)
            raise OAuth2Error.from_response(body, status)
        return check_token_answer(body)

    # == Step 9: the ID token ===================================================================
    def validate_id_token(self, id_token: str | None, nonce: str | None,
                          trace: dict | None = None, *, flow: str = "",
                          refreshed: bool = False) -> dict:
        """OIDC Core §3.1.3.7: signature by a JWKS key (allowlisted alg), iss, aud/azp, exp,
        iat, nonce, sub. Any failure raises; nothing is trusted before all pass.
        ``refreshed``: it came from a refresh (§12.2), which has no nonce of its own."""
        e, a = self.events, self.actor
        if not id_token:
            raise InvalidToken("The token response has no id_token (was 'openid' requested?).")
        e.step(a, Step.ID_TOKEN, flow=flow or (trace or {}).get("flow", ""),
               context="the refreshed ID token" if refreshed else "")
        expect = Expect(iss=self.provider.issuer, aud=self.provider.client_id, now=self.clock(),
                        leeway=LEEWAY, nonce=nonce, azp=self.provider.client_id,
                        require=("iat", "sub"))
        header, claims = verify_jwt(id_token, algorithms=ID_TOKEN_ALGORITHMS,
                                    key_for_kid=self.jwks.key_for_kid, expect=expect)
        e.show(a, "ID token header", dict(header))    # a dict: the narrator lists its members
        e.show(a, "ID token claims", dict(claims))
        e.check(a, f"signature verified with kid={header.get('kid')} (alg {header['alg']}, on the "
                   "allowlist): the server signed with its private key; its JWKS "
                   f"({self.jwks.jwks_uri}) publishes only the public half")
        checks = id_claim_checks(claims, nonce, self.clock(), refreshed)
        for name, detail in checks:
            why = "" if name == "nonce" and nonce is None else f" — {CLAIM_WHY[name]}"
            e.check(a, f"{name:<5} {detail}{why}")
        if trace is not None:
            trace.update(id_header=header, id_claims=claims, kid=header.get("kid"),
                         checks=checks, jwks_uri=self.jwks.jwks_uri)
        return claims

    # == Steps 6–9 together: what the web app and the CLI call ====================================
    def complete(self, params: dict, pending: PendingLogins, browser: str) -> LoginResult:
        req, code = self.check_callback(params, pending, browser)
        tokens = self.exchange_code(code, req)
        claims = self.validate_id_token(tokens.get("id_token"), req.nonce, req.trace,
                                        flow=req.flow)
        self.narrate_tokens(tokens)
        return LoginResult(tokens, claims, req)

    def narrate_tokens(self, tokens: dict):
        e, a = self.events, self.actor
        for name in ("access_token", "id_token", "refresh_token"):
            if tokens.get(name):
                e.show(a, f"{name:<13}", tokens[name], kind=TOKEN)
        e.say(a, f"token_type={tokens.get('token_type')} expires_in={tokens.get('expires_in')} "
                 f"scope={tokens.get('scope', '(not echoed)')!r}")

    # == Step 10: access tokens at the protected API (client.resource) ==========================
    def validate_access_token(self, token: str | None) -> dict:
        return self.resource.validate_access_token(token)

    def userinfo(self, access_token: str) -> dict:
        return self.resource.userinfo(access_token)

    # == refresh, revoke, logout ================================================================
    def refresh(self, refresh_token: str, id_claims: dict | None = None) -> dict:
        """RFC 6749 §6; a new ID token must name the same user (OIDC Core §12.2)."""
        data, headers = self.with_client_auth({"grant_type": grants.REFRESH_TOKEN,
                                               "client_id": self.provider.client_id,
                                               "refresh_token": refresh_token})
        tokens = self.post_token(data, headers)
        if tokens.get("id_token"):
            claims = self.validate_id_token(tokens["id_token"], None, refreshed=True)
            if id_claims and claims.get("sub") != id_claims.get("sub"):
                raise ClaimMismatch("A refreshed ID token names another user (OIDC Core §12.2).")
        return tokens

    def revoke(self, token: str) -> bool:
        """RFC 7009 §2.1; False when the provider offers no revocation endpoint."""
        endpoint = self.metadata.get("revocation_endpoint")
        if not endpoint:
            return False
        data, headers = self.with_client_auth({"token": token,
                                               "client_id": self.provider.client_id})
        status, _ = self.transport.post(endpoint, data, headers)
        return status == 200

    def logout_url(self, return_to: str) -> str | None:
        return end_session_url(self.provider, self.metadata, return_to)


# == what the console says: module functions, so the client class stays about the protocol ====

def narrate_discovery(e: EventBus, a: str, issuer: str, meta: dict, grant: str = "code"):
    """Once checked: the document fetched, its issuer checked (Discovery 1.0 §4.3), and the
    endpoints it names that this grant's steps will use, and what for (DISCOVERY_NOTES)."""
    e.step(a, Step.DISCOVERY)
    e.say(a, f"{discovery_url(issuer)} ← GET, where every OpenID provider publishes it")
    e.check(a, f"issuer {meta['issuer']} is exactly the configured one: another server "
               "cannot hand us its endpoints")
    for name, note in DISCOVERY_NOTES[grant]:
        if meta.get(name):   # a missing device endpoint is the device login's to explain
            e.show(a, f"  {name}", meta[name], note)


def narrate_pkce_secrets(e: EventBus, a: str, req: AuthRequest):
    """Step 2: the verifier stays here; only its hash (the challenge) will travel."""
    e.step(a, Step.PKCE_SECRETS, flow=req.flow)
    e.show(a, "code_verifier ", req.verifier, "random, 256 bits; stays here, never sent yet")
    e.show(a, "SHA-256(verifier)", req.trace["digest_hex"][:32] + "…")
    e.show(a, "code_challenge", req.challenge, "= BASE64URL(SHA-256(verifier)), safe to send")
    bound = "bound to this browser" if req.browser else "known only to this login"
    e.show(a, "state         ", req.state, f"anti-CSRF, single use, {bound}: it guards the "
                                            "callback (Step 6)")
    e.show(a, "nonce         ", req.nonce, "must come back inside the ID token: it guards the "
                                            "token (Step 9)")


def narrate_redirect(e: EventBus, a: str, req: AuthRequest, params: dict, endpoint: str):
    """Step 3: a web app redirects the browser (302); a native app has no page to redirect
    from, so it opens the URL in a browser, or prints it (RFC 8252 §4.1)."""
    e.step(a, Step.REDIRECT, flow=req.flow)
    for name, value in params.items():
        e.show(a, f"  {name}", value, PARAM_NOTES.get(name, ""))
    if req.browser:
        e.say("browser", f"302 → {endpoint}?…")
    else:
        e.say(a, f"no redirect: the {a} opens this URL in a browser, or prints it to open by "
                 f"hand → {endpoint}?…")


def narrate_token_request(e: EventBus, a: str, endpoint: str, shown: dict):
    """Step 7: the code and the verifier; a confidential client adds its secret (masked)."""
    e.say(a, f"POST {endpoint}")
    for name, value in shown.items():
        e.show(a, f"  {name}", value, TOKEN_REQUEST_NOTES.get(name, ""),
               kind=TOKEN_REQUEST_KINDS.get(name, PLAIN))
    if "client_secret" in shown or "Authorization" in shown:
        e.say(a, "a confidential client: it authenticates with its client secret (masked "
                 "here), which it keeps on its server; the code_verifier proves the rest")
    else:
        e.say(a, "no client_secret: this is a public client; PKCE is what proves it is the "
                 "same client")


def id_claim_checks(claims: dict, nonce: str | None, now: float, refreshed: bool) -> list:
    """What the learner reads after ``verify_jwt`` passed: (claim, what it said), in the
    order of CLAIMS_CHECKED. Times are told relative to the moment of the check."""
    if nonce is not None:
        said = NONCE_MATCHED
    elif refreshed and "nonce" in claims:
        said = REFRESHED_NONCE
    else:
        said = "none sent, so none to match"
    return [("iss", claims["iss"]), ("aud", claims["aud"]), ("azp", azp_said(claims)),
            ("exp", f"ends {human_duration(claims['exp'] - now)} after the check"),
            ("iat", f"{utc_words(claims['iat'])}, {human_duration(now - claims['iat'])} "
                    "before the check"),
            ("nonce", said), ("sub", claims["sub"])]


def azp_said(claims: dict) -> str:
    """OIDC Core §3.1.3.7 (4)–(5): azp matters only when aud has several values."""
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1:
        return f"{claims.get('azp')}: names this app among {len(aud)} audiences"
    if "azp" in claims:
        return f"{claims['azp']} (one audience: nothing to check)"
    return NO_AZP


def utc_words(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def asks_consent_for_offline_access(provider, scope: str) -> bool:
    """OIDC Core §11: a provider MUST ignore offline_access unless prompt includes consent,
    so a generic OpenID provider would give no refresh token. Auth0 grants it without (and
    our embedded server, its stand-in, too): their requests stay as they were."""
    return provider.kind == "oidc" and "offline_access" in scope.split()


def token_auth_method(provider, metadata: dict) -> str:
    """RFC 6749 §2.3.1: the method the client is registered for when configured; else the
    provider kind's usual registration where offered (Auth0: post); else Basic, which every
    server MUST support (and Discovery 1.0 §3's default), and post only where the provider
    lists post without Basic. A client with no secret is public: "none"."""
    if not provider.client_secret:
        return "none"
    if provider.token_auth_method:
        return provider.token_auth_method
    offered = metadata.get("token_endpoint_auth_methods_supported", ["client_secret_basic"])
    usual = USUAL_AUTH_METHOD.get(provider.kind)
    if usual in offered:
        return usual
    if "client_secret_basic" in offered or "client_secret_post" not in offered:
        return "client_secret_basic"
    return "client_secret_post"


def end_session_url(provider, metadata: dict, return_to: str) -> str | None:
    """Auth0's /v2/logout when it is Auth0 (or our stand-in), else RP-Initiated Logout."""
    if provider.kind in ("auth0", "embedded"):
        base = provider.issuer.rstrip("/") + "/v2/logout"
        return base + "?" + urllib.parse.urlencode({"client_id": provider.client_id,
                                                    "returnTo": return_to})
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    # No id_token_hint: a token in a URL ends up in history and logs. RP-Initiated
    # Logout §2 accepts client_id in its place.
    params = {"client_id": provider.client_id, "post_logout_redirect_uri": return_to}
    return endpoint + "?" + urllib.parse.urlencode(params)
