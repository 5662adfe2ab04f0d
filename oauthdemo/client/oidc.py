"""The one OpenID Connect client code path: discovery, PKCE request, callback, exchange, validation.

RFC 6749 §4.1 (authorization code grant), RFC 7636 (PKCE), RFC 9207 (iss in the
authorization response), OpenID Connect Core 1.0 §3.1.3.7 (ID token validation) and
Discovery 1.0 §4, RFC 7517 (JWKS), RFC 6750 (bearer tokens).

The web app, the CLI login, the mobile thin client and the backend all call these
functions; no security check exists twice. Each step narrates itself and records
what it did in the request's ``trace`` (the walkthrough page draws from it).
"""
from __future__ import annotations

import base64
import hmac
import http.client
import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import pkce

from oauthdemo.core.errors import (ClaimMismatch, ConfigError, InvalidState, InvalidToken,
                     IssuerMismatch, OAuth2Error, ProviderBadResponse, ProviderError,
                     JoseError, ProviderUnreachable, RevokedToken, UnknownKey)
from oauthdemo.core.loopback import is_loopback_url
from oauthdemo.core.claims import Expect, verify_jwt
from oauthdemo.core.jose import rsa_public_key_from_jwk
from oauthdemo.core.text import mask_secret
from oauthdemo.teaching.narrator import Narrator
from oauthdemo.core.tables import ExpiringTable

HTTP_TIMEOUT = 10              # seconds for every call to the provider
MAX_RESPONSE = 1024 * 1024     # bytes read from a provider answer
ID_TOKEN_ALGORITHMS = ["RS256"]  # the allowlist; the token's own header never chooses
LEEWAY = 60                    # seconds of clock skew tolerated for exp / iat
PENDING_TTL = 600              # an unfinished login lives 10 minutes
PENDING_MAX = 5000             # and at most this many wait at once (then new ones get a 503)
JWKS_REFETCH_INTERVAL = 10     # after the first, unknown kids refetch the JWKS at most this often
STATE_BYTES = 32               # 256 bits: RFC 6749 §10.10 wants it unguessable


# -- talking to the provider -------------------------------------------------------------

def _opener_for(url: str):
    """Loopback calls never go through a proxy from the environment."""
    if is_loopback_url(url):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def http_json(url: str, *, data: dict | None = None, headers: dict | None = None,
              timeout: float = HTTP_TIMEOUT) -> tuple:
    """GET (or POST a form) and parse JSON. Returns (status, body); never raises on 4xx.

    Network failures, timeouts and non-JSON answers become ProviderUnreachable or
    ProviderBadResponse with a sentence a learner can act on.
    """
    body = urllib.parse.urlencode(data).encode("ascii") if data is not None else None
    req = urllib.request.Request(url, data=body, headers={"Accept": "application/json",
                                                          **(headers or {})})
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with _opener_for(url).open(req, timeout=timeout) as resp:
            return resp.status, parse_json_answer(url, resp.read(MAX_RESPONSE), resp.status)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, parse_json_answer(url, err.read(MAX_RESPONSE), err.code)
    except (socket.timeout, TimeoutError) as err:
        raise ProviderUnreachable(f"{url} did not answer within {timeout:g} s.") from err
    except (urllib.error.URLError, OSError) as err:   # includes a provider that hangs up
        reason = getattr(err, "reason", err)
        raise ProviderUnreachable(f"Could not reach {url}: {reason}.") from err
    except http.client.HTTPException as err:   # a garbled status line, a cut-off body …
        raise ProviderBadResponse(f"{url} answered with malformed HTTP ({err!r}).") from err


def parse_json_answer(url: str, raw: bytes, status: int) -> dict:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        snippet = raw[:80].decode("utf-8", "replace")
        raise ProviderBadResponse(f"{url} answered HTTP {status} with something that is not "
                                  f"JSON: {snippet!r}") from err
    except RecursionError as err:   # a hostile provider's "[[[[…": one recursion per level
        raise ProviderBadResponse(f"{url} answered JSON nested too deeply to read.") from err
    if not isinstance(data, dict):
        raise ProviderBadResponse(f"{url} answered JSON that is not an object.")
    return data


# -- keys ----------------------------------------------------------------------------------

class JWKSCache:
    """The provider's public keys, fetched from jwks_uri and never from a token.

    An unknown kid means the provider may have rotated its keys: fetch again. The first
    unknown kid refetches at once (a rotation just after our first fetch must not fail
    the next login); later ones at most once per JWKS_REFETCH_INTERVAL, so forged kids
    cannot make us hammer the provider.
    """

    def __init__(self, jwks_uri: str, *, clock=time.time, timeout: float = HTTP_TIMEOUT,
                 pinned=None):
        self.jwks_uri = jwks_uri
        self.clock = clock
        self.timeout = timeout
        self.keys: dict = {}
        self.fetched_at = None
        self.kid_refetched_at = None   # when an unknown kid last made us fetch again
        self.lock = threading.Lock()
        # A key known out of band (the CLI's own cached signing key): the only one trusted,
        # and jwks_uri is never fetched, so the server cannot add a key of its own later.
        self.pinned = pinned
        if pinned is not None:
            self.keys, self.fetched_at = {pinned.kid: pinned}, clock()

    def refresh(self):
        status, doc = http_json(self.jwks_uri, timeout=self.timeout)
        if status != 200 or not isinstance(doc.get("keys"), list):
            raise ProviderBadResponse(f"{self.jwks_uri} did not return a JWKS (HTTP {status}).")
        keys = {}
        for jwk in doc["keys"]:
            key = self._usable_key(jwk)
            if key is not None:
                kid = jwk.get("kid")
                keys[kid if isinstance(kid, str) and kid else key.kid] = key
        self.keys, self.fetched_at = keys, self.clock()

    @staticmethod
    def _usable_key(jwk):
        """An RS256 verification key, or None: a key we refuse (too short or too long, a bad
        exponent, zero-padded, for encryption, not even an object) is skipped, never fatal."""
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            return None
        try:
            return rsa_public_key_from_jwk(jwk)
        except JoseError:
            return None

    def key_for_kid(self, kid):
        with self.lock:
            first_fetch = self.fetched_at is None
            if first_fetch:
                self.refresh()
            key = self._find(kid)
            if (key is None and not first_fetch and self.pinned is None
                    and self._may_refetch_for_unknown_kid()):
                self.kid_refetched_at = self.clock()   # set first: a failed fetch counts too
                self.refresh()
                key = self._find(kid)
        if key is None:
            # The kid is the attacker's text: it is not repeated back (it would reach a header).
            raise UnknownKey("No key with the token's kid in the provider's JWKS.")
        return key

    def _may_refetch_for_unknown_kid(self) -> bool:
        return (self.kid_refetched_at is None
                or self.clock() - self.kid_refetched_at >= JWKS_REFETCH_INTERVAL)

    def _find(self, kid):
        if kid is None:
            return next(iter(self.keys.values())) if len(self.keys) == 1 else None
        return self.keys.get(kid)


# -- one login in progress -------------------------------------------------------------------

@dataclass
class AuthRequest:
    """Everything the client must remember between the redirect and the callback."""
    state: str
    nonce: str
    verifier: str
    challenge: str
    redirect_uri: str
    issuer: str
    scope: str
    created: float
    browser: str = ""
    url: str = ""
    trace: dict = field(default_factory=dict)

    @property
    def flow(self) -> str:
        return self.state[:6]


class PendingLogins:
    """Logins waiting for their callback, keyed by state: bounded, expiring, single use.

    Full means "503, come back later" for a NEW login: a flood of GET /login must never
    push out a login someone is in the middle of."""

    def __init__(self, limit: int = PENDING_MAX, ttl: int = PENDING_TTL, clock=time.time):
        self.ttl, self.clock = ttl, clock
        self.table = ExpiringTable(limit, "logins waiting for their callback")
        self.lock = threading.Lock()

    def __len__(self):
        return len(self.table)

    def add(self, req: AuthRequest):
        with self.lock:
            self.table.add(req.state, req, expires=req.created + self.ttl, now=self.clock())

    def take(self, state: str | None, browser: str) -> AuthRequest:
        """RFC 6749 §10.12: the state must be one we issued, to this browser, unused, fresh."""
        if not state:
            raise InvalidState("The callback has no state: it did not come from a login "
                               "this app started.")
        with self.lock:
            req = self.table.pop(state, self.clock())   # popped first: a state works once
        if req is None:
            raise InvalidState("Unknown, expired or already used state. This callback was not "
                               "started by this app (CSRF), was replayed, or waited more than "
                               "10 minutes.")
        if not hmac.compare_digest(req.browser.encode(), browser.encode()):
            raise InvalidState("This state was issued to a different browser (login CSRF).")
        return req

    def peek(self, state: str):
        with self.lock:
            return self.table.get(state, self.clock())


@dataclass
class LoginResult:
    tokens: dict
    id_claims: dict
    request: AuthRequest


class OIDCClient:
    """One relying party at one provider. Shared by the web app, CLI, mobile and backend."""

    def __init__(self, provider, *, narrator: Narrator | None = None, clock=time.time,
                 timeout: float = HTTP_TIMEOUT, actor: str = "your app"):
        self.provider = provider
        self.narrator = narrator or Narrator()
        self.clock = clock
        self.timeout = timeout
        self.actor = actor
        self.metadata: dict = {}
        self.jwks: JWKSCache | None = None

    # == discovery ===========================================================================
    def discover(self) -> dict:
        """Discovery 1.0 §4.3: the document's issuer must be exactly the one configured."""
        url = self.provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
        status, meta = http_json(url, timeout=self.timeout)
        if status != 200:
            raise ConfigError(f"Discovery at {url} answered HTTP {status}.")
        if meta.get("issuer") != self.provider.issuer:
            raise ConfigError(f"The provider says its issuer is {meta.get('issuer')!r}, but the "
                              f"configuration says {self.provider.issuer!r}; they must be equal.")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not meta.get(key):
                raise ConfigError(f"The discovery document has no {key}.")
        methods = meta.get("code_challenge_methods_supported")
        if methods is not None and "S256" not in methods:
            raise ConfigError("This provider does not support PKCE with S256.")
        self.metadata = meta
        self.jwks = JWKSCache(meta["jwks_uri"], clock=self.clock, timeout=self.timeout)
        return meta

    def pin_key(self, key):
        """Trust exactly this key for the provider's signatures (see JWKSCache, pinned)."""
        self.jwks = JWKSCache(self.jwks.jwks_uri, clock=self.clock, timeout=self.timeout,
                              pinned=key)

    # == Steps 2 and 3: the PKCE secrets and the redirect ======================================
    def begin(self, redirect_uri: str, *, browser: str = "", scope: str = "openid profile email",
              extra: dict | None = None) -> AuthRequest:
        verifier, challenge = pkce.make_pair()
        req = AuthRequest(state=secrets.token_urlsafe(STATE_BYTES),
                          nonce=secrets.token_urlsafe(STATE_BYTES), verifier=verifier,
                          challenge=challenge, redirect_uri=redirect_uri,
                          issuer=self.provider.issuer, scope=scope, created=self.clock(),
                          browser=browser)
        params = self.authorize_params(req, extra)
        req.url = self.metadata["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)
        req.trace.update(verifier=verifier, challenge=challenge,
                         digest_hex=pkce.s256_digest(verifier).hex(), authorize_url=req.url,
                         authorize_params=params, started=req.created)
        self.narrate_begin(req, params)
        return req

    def authorize_params(self, req: AuthRequest, extra: dict | None) -> dict:
        params = {"response_type": "code", "client_id": self.provider.client_id,
                  "redirect_uri": req.redirect_uri, "scope": req.scope,
                  "code_challenge": req.challenge, "code_challenge_method": "S256",
                  "state": req.state, "nonce": req.nonce}
        if self.provider.audience:
            params["audience"] = self.provider.audience
        params.update(extra or {})
        return params

    def narrate_begin(self, req: AuthRequest, params: dict):
        n, a = self.narrator, self.actor
        n.step(2, "The PKCE secrets", flow=req.flow)
        n.value(a, "code_verifier ", req.verifier, "random, 256 bits; stays here, never sent yet")
        n.value(a, "SHA-256(verifier)", pkce.s256_digest(req.verifier).hex()[:32] + "…")
        n.value(a, "code_challenge", req.challenge, "= BASE64URL(SHA-256(verifier)), safe to send")
        bound = "bound to this browser" if req.browser else "known only to this login"
        n.value(a, "state         ", req.state, f"anti-CSRF, single use, {bound}")
        n.value(a, "nonce         ", req.nonce, "must come back inside the ID token")
        n.step(3, "The redirect to the authorization server", flow=req.flow)
        for name, value in params.items():
            n.value(a, f"  {name}", value, PARAM_NOTES.get(name, ""))
        n.say("browser", f"302 → {self.metadata['authorization_endpoint']}?…")

    # == Step 6: the callback ====================================================================
    def check_callback(self, params: dict, pending: PendingLogins, browser: str) -> tuple:
        """Error first, then state, then iss, then code. Returns (AuthRequest, code)."""
        n, a = self.narrator, self.actor
        n.step(6, "The callback and the state check", flow=(params.get("state") or "")[:6] or None)
        if params.get("error"):
            self.drop_pending(pending, params.get("state"), browser)
            n.fail(a, f"the provider sent error={params['error']}")
            raise ProviderError(params.get("error_description") or "No description given.",
                                error=params["error"], status_code=400)
        req = pending.take(params.get("state"), browser)
        whose = "we issued to this browser" if req.browser else "this login issued"
        n.ok(a, f"state {req.state[:10]}… is one {whose}; now used up")
        iss = params.get("iss")
        if iss is None and self.metadata.get("authorization_response_iss_parameter_supported"):
            raise IssuerMismatch("The provider always sends iss (RFC 9207 §2.4), but this "
                                 "response has none: it may come from another server.")
        if iss is not None and iss != req.issuer:
            raise IssuerMismatch(f"The response says it came from {iss!r}, but this login went "
                                 f"to {req.issuer!r} (RFC 9207 mix-up defence).")
        if iss is not None:
            n.ok(a, f"iss={iss} is the issuer we sent the user to (RFC 9207)")
        if not params.get("code"):
            raise ProviderError("The callback carries neither a code nor an error.",
                                error="invalid_request", status_code=400)
        n.value(a, "authorization code", n.token(params["code"]), "one use, minutes to live")
        req.trace["callback"] = dict(params)
        return req, params["code"]

    @staticmethod
    def drop_pending(pending: PendingLogins, state, browser):
        """An error response still consumes its state, so the state cannot be used later."""
        if state:
            try:
                pending.take(state, browser)
            except OAuth2Error:
                pass

    # == Step 7: the token exchange ============================================================
    def token_request_body(self, code: str, redirect_uri: str, verifier: str) -> tuple:
        data = {"grant_type": "authorization_code", "client_id": self.provider.client_id,
                "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
        return self.with_client_auth(data)

    def with_client_auth(self, data: dict) -> tuple:
        """A confidential client authenticates as the provider advertises: post or basic."""
        headers = {}
        secret = self.provider.client_secret
        if secret:
            methods = self.metadata.get("token_endpoint_auth_methods_supported",
                                        ["client_secret_basic"])
            if "client_secret_post" in methods:
                data["client_secret"] = secret
            else:
                headers["Authorization"] = basic_authorization(self.provider.client_id, secret)
        return data, headers

    def exchange_code(self, code: str, req: AuthRequest) -> dict:
        data, headers = self.token_request_body(code, req.redirect_uri, req.verifier)
        shown = {k: (mask_secret(v) if k == "client_secret" else v) for k, v in data.items()}
        if headers:
            shown["Authorization"] = "Basic " + mask_secret(headers["Authorization"])
        self.narrate_exchange(req, shown)
        req.trace["token_request"] = shown
        tokens = self.post_token(data, headers)
        req.trace["token_response"] = tokens
        return tokens

    def narrate_exchange(self, req: AuthRequest, shown: dict):
        n, a = self.narrator, self.actor
        n.step(7, "The token exchange (server to server, no browser)", flow=req.flow)
        n.say(a, f"POST {self.metadata['token_endpoint']}")
        for name, value in shown.items():
            shown_value = n.token(value) if name == "code" else value
            n.value(a, f"  {name}", shown_value,
                    "THE SECRET, revealed only now, only to the server" if name == "code_verifier"
                    else "")

    def post_token(self, data: dict, headers: dict) -> dict:
        status, body = http_json(self.metadata["token_endpoint"], data=data, headers=headers,
                                 timeout=self.timeout)
        if status != 200:
            self.narrator.fail(self.actor, f"token endpoint answered HTTP {status}: "
                                           f"{body.get('error')}: {body.get('error_description')}")
            raise ProviderError(str(body.get("error_description") or "No description given."),
                                error=str(body.get("error") or "invalid_response"),
                                status_code=status if 400 <= status < 500 else 502)
        if not body.get("access_token") or str(body.get("token_type", "")).lower() != "bearer":
            raise ProviderBadResponse("The token response has no Bearer access_token.")
        return body

    # == Step 9: the ID token ===================================================================
    def validate_id_token(self, id_token: str | None, nonce: str | None,
                          trace: dict | None = None) -> dict:
        """OIDC Core §3.1.3.7: signature by a JWKS key (allowlisted alg), iss, aud/azp, exp,
        iat, nonce, sub. Any failure raises; nothing is trusted before all pass."""
        n, a = self.narrator, self.actor
        if not id_token:
            raise InvalidToken("The token response has no id_token (was 'openid' requested?).")
        n.step(9, "The tokens: verify the ID token before believing it")
        expect = Expect(iss=self.provider.issuer, aud=self.provider.client_id, now=self.clock(),
                        leeway=LEEWAY, nonce=nonce, azp=self.provider.client_id,
                        require=("iat", "sub"))
        header, claims = verify_jwt(id_token, algorithms=ID_TOKEN_ALGORITHMS,
                                    key_for_kid=self.jwks.key_for_kid, expect=expect)
        n.value(a, "ID token header", json.dumps(header))
        n.value(a, "ID token claims", json.dumps(claims))
        n.ok(a, f"signature verified with kid={header.get('kid')} from {self.jwks.jwks_uri} "
                f"(alg {header['alg']} is on the allowlist)")
        checks = self.check_id_claims(claims, nonce)
        if trace is not None:
            trace.update(id_header=header, id_claims=claims, kid=header.get("kid"),
                         checks=checks, jwks_uri=self.jwks.jwks_uri)
        return claims

    def check_id_claims(self, claims: dict, nonce: str | None) -> list:
        """What the learner reads after ``verify_jwt`` passed: each claim and why it is fine."""
        now = self.clock()
        checks = [("iss", claims["iss"]), ("aud", claims["aud"]),
                  ("exp", f"in {human_duration(claims['exp'] - now)}"),
                  ("iat", f"{human_duration(now - claims['iat'])} ago"),
                  ("nonce", "matches" if nonce is not None else "not sent"), ("sub", claims["sub"])]
        for name, detail in checks:
            self.narrator.ok(self.actor, f"{name:<5} {detail}")
        return checks

    # == Steps 6–9 together: what the web app and the CLI call ====================================
    def complete(self, params: dict, pending: PendingLogins, browser: str) -> LoginResult:
        req, code = self.check_callback(params, pending, browser)
        tokens = self.exchange_code(code, req)
        claims = self.validate_id_token(tokens.get("id_token"), req.nonce, req.trace)
        self.narrate_tokens(tokens)
        return LoginResult(tokens, claims, req)

    def narrate_tokens(self, tokens: dict):
        n, a = self.narrator, self.actor
        for name in ("access_token", "id_token", "refresh_token"):
            if tokens.get(name):
                n.value(a, f"{name:<13}", n.token(tokens[name]))
        n.say(a, f"token_type={tokens.get('token_type')} expires_in={tokens.get('expires_in')} "
                 f"scope={tokens.get('scope', '(not echoed)')!r}")

    # == Step 10: access tokens at the protected API ==============================================
    def validate_access_token(self, token: str | None) -> dict:
        """A JWT for our audience is checked locally, then (when the provider offers RFC 7662
        and we hold resource-server credentials) the issuer is asked whether it is still
        active; anything else is asked of /userinfo. Returns what each check said."""
        if not token:
            raise InvalidToken("Send a session cookie or 'Authorization: Bearer <access_token>'.")
        if self.provider.audience and token.count(".") == 2:
            expect = Expect(iss=self.provider.issuer, aud=self.provider.audience,
                            now=self.clock(), leeway=LEEWAY)
            _, claims = verify_jwt(token, algorithms=ID_TOKEN_ALGORITHMS,
                                   key_for_kid=self.jwks.key_for_kid, expect=expect)
            checks = {"local_jwt": LOCAL_JWT_OK, "authorization_server": self.ask_issuer(token)}
            return {"how": "jwt", "claims": claims, "sub": claims.get("sub"),
                    "scope": claims.get("scope", ""), "exp": claims.get("exp"), "checks": checks}
        info = self.userinfo(token)
        return {"how": "userinfo", "claims": info, "sub": info.get("sub"), "scope": None,
                "exp": None, "checks": {"local_jwt": "not a JWT for this API: not checked locally",
                                        "authorization_server": "active (its /userinfo "
                                                                "accepted the token)"}}

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
        status, body = http_json(endpoint, data={"token": token,
                                                 "token_type_hint": "access_token"},
                                 headers={"Authorization": basic_authorization(client_id, secret)},
                                 timeout=self.timeout)
        if status != 200 or not isinstance(body.get("active"), bool):
            raise ProviderBadResponse(f"The introspection endpoint answered HTTP {status} "
                                      "without an 'active' member.")
        return body

    def userinfo(self, access_token: str) -> dict:
        endpoint = self.metadata.get("userinfo_endpoint")
        if not endpoint:
            raise InvalidToken("This provider has no userinfo endpoint to check opaque tokens.")
        status, body = http_json(endpoint, headers={"Authorization": f"Bearer {access_token}"},
                                 timeout=self.timeout)
        if status != 200 or not body.get("sub"):
            raise InvalidToken(f"The provider's userinfo refused the token (HTTP {status}).")
        return body

    # == refresh, revoke, logout ================================================================
    def refresh(self, refresh_token: str, id_claims: dict | None = None) -> dict:
        data, headers = self.with_client_auth({"grant_type": "refresh_token",
                                               "client_id": self.provider.client_id,
                                               "refresh_token": refresh_token})
        tokens = self.post_token(data, headers)
        if tokens.get("id_token"):
            claims = self.validate_id_token(tokens["id_token"], None)
            if id_claims and claims.get("sub") != id_claims.get("sub"):
                raise ClaimMismatch("A refreshed ID token names another user (OIDC Core §12.2).")
        return tokens

    def revoke(self, token: str) -> bool:
        endpoint = self.metadata.get("revocation_endpoint")
        if not endpoint:
            return False
        data, headers = self.with_client_auth({"token": token,
                                               "client_id": self.provider.client_id})
        status, _ = http_json(endpoint, data=data, headers=headers, timeout=self.timeout)
        return status == 200

    def logout_url(self, return_to: str) -> str | None:
        """Auth0's /v2/logout when it is Auth0 (or our stand-in), else RP-Initiated Logout."""
        if self.provider.kind in ("auth0", "embedded"):
            base = self.provider.issuer.rstrip("/") + "/v2/logout"
            return base + "?" + urllib.parse.urlencode({"client_id": self.provider.client_id,
                                                        "returnTo": return_to})
        endpoint = self.metadata.get("end_session_endpoint")
        if not endpoint:
            return None
        # No id_token_hint: a token in a URL ends up in history and logs. RP-Initiated
        # Logout §2 accepts client_id in its place.
        params = {"client_id": self.provider.client_id, "post_logout_redirect_uri": return_to}
        return endpoint + "?" + urllib.parse.urlencode(params)


LOCAL_JWT_OK = "valid: RS256 signature (JWKS key), iss, aud, exp, iat"
CHECK_FAILED = "NOT "       # how a sentence in an API answer's "checks" says that check failed
CHECK_SKIPPED = "not "      # … and that it was not made at all ("not asked: …")


def check_status(said: str) -> str:
    """One sentence of an API answer's "checks": "failed", "not_checked" or "passed"."""
    if said.startswith(CHECK_FAILED):
        return "failed"
    return "not_checked" if said.startswith(CHECK_SKIPPED) else "passed"


def basic_authorization(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded, joined by ':', base64'd."""
    pair = urllib.parse.quote_plus(client_id) + ":" + urllib.parse.quote_plus(secret)
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def human_duration(seconds: float) -> str:
    """9 h 59 min, 42 s … for claims a learner reads."""
    seconds = int(abs(seconds))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or "0 min"


TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")


def describe_claim(name: str, value, now: float) -> str:
    """A claim as a learner reads it: times get a date and "in 9 h 59 min" / "2 min ago"."""
    if name in TIME_CLAIMS and isinstance(value, (int, float)) and not isinstance(value, bool):
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
        delta = value - now
        relative = f"in {human_duration(delta)}" if delta > 0 else f"{human_duration(delta)} ago"
        return f"{value}  ({when}, {relative})"
    return value if isinstance(value, str) else json.dumps(value)


PARAM_NOTES = {
    "response_type": "I want an authorization code",
    "client_id": "which application is asking",
    "redirect_uri": "where to send the browser back; must be registered exactly",
    "scope": "what the app asks to know / do",
    "code_challenge": "the hash; the verifier stays with the app",
    "code_challenge_method": "SHA-256 (never 'plain')",
    "state": "will come back unchanged; proves the callback is ours",
    "nonce": "will be inside the ID token; proves the token is for this login",
    "audience": "which API the access token is for (Auth0)",
}
