"""The embedded authorization server: an Auth0 stand-in on its own port and origin.

RFC 6749 (OAuth 2.0: §4.1 authorization code grant, §5.2 errors, §6 refresh),
RFC 7636 (PKCE, §4.4–4.6), OpenID Connect Core 1.0 (ID token, nonce, UserInfo),
RFC 9207 (the ``iss`` authorization response parameter), RFC 7009 (revocation),
RFC 8252 §7.3 (loopback redirects for native apps, any port), and OAuth 2.0 Security
BCP (refresh token rotation with reuse detection).

It uses Auth0's paths (/authorize, /oauth/token, /userinfo, /.well-known/jwks.json,
/oauth/revoke, /v2/logout) and its status codes, so the client code that talks to it
is exactly the code that talks to a real tenant. It narrates its own side of the
story as "authorization server": Chapter 4 (storing the challenge), Chapter 5
(authentication) and Chapter 8 (recomputing SHA-256 of the verifier).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass, field

import pkce

from . import httpkit
from .errors import (AccessDenied, FatalAuthorizeError, InvalidClient, InvalidGrant,
                     InvalidRequest, InvalidScope, InvalidToken, MissingCodeChallenge,
                     MissingCodeVerifier, OAuth2Error, UnsupportedChallengeMethod,
                     UnknownKey, UnsupportedGrantType, UnsupportedResponseType)
from .httpkit import Markup, Response, esc, json_response, origin_of, render
from .jwtkit import check_time, encode_jwt, jwks_document, verify_jwt
from .narrator import Narrator

CODE_TTL = 600                 # RFC 6749 §4.1.2: a maximum lifetime of 10 minutes
TXN_TTL = 600                  # an authorization request waiting for the user
TXN_MAX = 2000                 # stored requests; the oldest go first (unauthenticated input)
CODES_MAX = 5000
ACCESS_TOKEN_TTL = 86400       # Auth0's default for API access tokens
ID_TOKEN_TTL = 36000           # Auth0's default ID token lifetime (10 hours)
REFRESH_TOKEN_TTL = 30 * 86400
REFRESH_MAX = 20000
FAMILIES_MAX = 20000           # grants remembered; anyone can make one (public client, 1 click)
FAMILY_TOKENS_MAX = 50         # access-token ids and refresh tokens remembered per grant
REVOKED_MAX = 50000            # revoked access-token ids (each is also dead at its exp)
PKCE_LOG_MAX = 500
SUPPORTED_SCOPES = ("openid", "profile", "email", "offline_access")
DEFAULT_AUDIENCE = "urn:oauth-pkce-demo:api"   # the one API registered here, as in Auth0
TOKEN_ALGORITHMS = ["RS256"]
BROWSER_COOKIE = "as_browser"  # distinct from the app's cookies: cookies ignore the port

DEMO_USERS = OrderedDict([
    ("alice", {"sub": "google-oauth2|108204268033311374519", "name": "Alice Example",
               "email": "alice@example.com", "email_verified": True,
               "connection": "Google", "button": "Continue with Google"}),
    ("bob", {"sub": "github|5821930", "name": "Bob Builder", "email": "bob@example.org",
             "email_verified": True, "connection": "GitHub", "button": "Continue with GitHub"}),
    ("carol", {"sub": "auth0|6560c5bd2f1e4b0a9c3d7e11", "name": "Carol Password",
               "email": "carol@example.net", "email_verified": False,
               "connection": "Username-Password", "button": "Log in as Carol (password user)"}),
])


@dataclass
class Client:
    """A registered application. Public clients have no secret and must use PKCE."""
    client_id: str
    name: str
    redirect_uris: tuple = ()
    logout_urls: tuple = ()
    secret: str | None = None
    loopback_any_port: bool = False   # RFC 8252 §7.3, for native (CLI / mobile) clients

    def accepts_redirect(self, uri: str) -> bool:
        if uri in self.redirect_uris:
            return True
        return self.loopback_any_port and is_loopback_callback(uri)


def is_loopback_callback(uri: str) -> bool:
    """RFC 8252 §7.3: http on a loopback host, any port, path /callback, nothing else."""
    try:
        parts = urllib.parse.urlsplit(uri)
        port = parts.port
    except ValueError:
        return False
    host = parts.netloc.rsplit(":", 1)[0] if port else parts.netloc
    return (parts.scheme == "http" and host in httpkit.LOOPBACK_HOSTS and parts.path == "/callback"
            and not parts.query and not parts.fragment and "@" not in parts.netloc)


def add_query(uri: str, query: str) -> str:
    """Append parameters to a redirect URI, keeping any query it already has (RFC 6749 §3.1.2)."""
    return uri + ("&" if "?" in uri else "?") + query


def token_hash(token: str) -> str:
    """Refresh tokens and codes are looked up by hash: a leaked table leaks no tokens."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Transaction:
    """Chapter 4: what the server remembers about one authorization request."""
    txn_id: str
    client: Client
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    challenge: str
    audience: str | None
    browser: str
    csrf: str
    created: float
    user: str | None = None
    auth_time: float | None = None


@dataclass
class CodeRecord:
    """Chapter 5: an issued authorization code and the challenge it is bound to."""
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    nonce: str | None
    audience: str | None
    user: str
    auth_time: float
    created: float
    used: bool = False
    family: str | None = None


@dataclass
class Family:
    """Every token descended from one code: revoked together on code or refresh reuse."""
    client_id: str
    user: str
    scope: str
    audience: str | None
    nonce: str | None
    auth_time: float
    jtis: list = field(default_factory=list)
    refresh_hashes: list = field(default_factory=list)
    revoked: bool = False


class BoundedTable(OrderedDict):
    """An insertion-ordered dict that drops its oldest entries past ``limit``."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def put(self, key, value):
        self[key] = value
        while len(self) > self.limit:
            self.popitem(last=False)


class AuthorizationServer:
    """The state of the embedded server; the handler below is only its HTTP face."""

    def __init__(self, keys, *, narrator: Narrator | None = None, clock=time.time,
                 web_client_id: str = "demo-web-app", native_client_id: str = "demo-cli",
                 backend_client_id: str = "demo-backend", backend_secret: str | None = None,
                 audience: str = DEFAULT_AUDIENCE):
        self.keys = keys
        self.narrator = narrator or Narrator()
        self.clock = clock
        self.audience = audience
        self.issuer = ""
        self.lock = threading.RLock()
        self.txns = BoundedTable(TXN_MAX)
        self.codes = BoundedTable(CODES_MAX)
        self.refresh = BoundedTable(REFRESH_MAX)
        self.families = BoundedTable(FAMILIES_MAX)
        self.revoked_jtis = BoundedTable(REVOKED_MAX)
        self.pkce_log = BoundedTable(PKCE_LOG_MAX)
        self.clients = {
            web_client_id: Client(web_client_id, "Walkthrough web app (public, PKCE)"),
            native_client_id: Client(native_client_id, "CLI login (native, loopback)",
                                     loopback_any_port=True),
            backend_client_id: Client(backend_client_id, "Mobile backend (confidential)",
                                      secret=backend_secret or secrets.token_urlsafe(32),
                                      loopback_any_port=True),
        }
        self.web_client_id = web_client_id
        self.native_client_id = native_client_id
        self.backend_client_id = backend_client_id

    # -- set-up ------------------------------------------------------------------------
    def set_issuer(self, base_url: str):
        self.issuer = base_url.rstrip("/") + "/"   # trailing slash, exactly as Auth0

    def register_web_app(self, app_base_urls):
        """The public client's callback follows whatever port the app is on."""
        bases = [u.rstrip("/") for u in app_base_urls]
        client = self.clients[self.web_client_id]
        client.redirect_uris = tuple(f"{b}/callback" for b in bases)
        client.logout_urls = tuple(f"{b}/" for b in bases) + tuple(bases)

    def url(self, path: str) -> str:
        return self.issuer.rstrip("/") + path

    def now(self) -> float:
        return self.clock()

    def metadata(self) -> dict:
        """OpenID Connect Discovery 1.0 §3 / RFC 8414: what a client needs to know."""
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url("/authorize"),
            "token_endpoint": self.url("/oauth/token"),
            "userinfo_endpoint": self.url("/userinfo"),
            "jwks_uri": self.url("/.well-known/jwks.json"),
            "revocation_endpoint": self.url("/oauth/revoke"),
            "end_session_endpoint": self.url("/oidc/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post",
                                                      "client_secret_basic"],
            "scopes_supported": list(SUPPORTED_SCOPES),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
                                 "name", "email", "email_verified"],
            "authorization_response_iss_parameter_supported": True,
        }

    def prune(self):
        """Drop expired requests and codes, so memory holds only what can still be used."""
        now = self.now()
        with self.lock:
            for table, ttl in ((self.txns, TXN_TTL), (self.codes, CODE_TTL)):
                while table:
                    key, rec = next(iter(table.items()))
                    if now - rec.created <= ttl:
                        break
                    table.popitem(last=False)

    # == /authorize: Chapters 4 and 5 ====================================================
    def check_client_and_redirect(self, params: dict) -> tuple:
        """RFC 6749 §4.1.2.1: a bad client_id or redirect_uri is shown, never redirected to."""
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            raise FatalAuthorizeError("Unknown client_id: this application is not registered.")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or not client.accepts_redirect(redirect_uri):
            raise FatalAuthorizeError(
                "redirect_uri is not registered for this client. The server will not "
                "redirect to an unregistered address (that would hand codes to an attacker).")
        return client, redirect_uri

    def check_authorization_request(self, params: dict) -> tuple:
        """The checks after the client is known; failures go back on the redirect."""
        if params.get("response_type") != "code":
            raise UnsupportedResponseType("Only response_type=code is supported.")
        challenge = params.get("code_challenge")
        if not challenge:
            raise MissingCodeChallenge()
        if params.get("code_challenge_method") != "S256":
            raise UnsupportedChallengeMethod()
        if not pkce.is_well_formed_challenge(challenge):
            raise InvalidRequest("code_challenge must be 43 base64url characters (S256).")
        if params.get("prompt") == "none":
            raise OAuth2Error("The user must log in.", error="login_required")
        audience = params.get("audience") or None
        if audience and audience != self.audience:
            raise AccessDenied(f"Service not found: {audience}")
        return challenge, self.allowed_scope(params.get("scope", "")), audience

    def allowed_scope(self, requested: str) -> str:
        scopes = [s for s in requested.split() if s in SUPPORTED_SCOPES]
        if not scopes:
            raise InvalidScope("Request at least one of: " + " ".join(SUPPORTED_SCOPES))
        return " ".join(dict.fromkeys(scopes))

    def store_transaction(self, client, redirect_uri, params, challenge, scope, audience,
                          browser) -> Transaction:
        txn = Transaction(secrets.token_urlsafe(16), client, redirect_uri, scope,
                          params.get("state"), params.get("nonce"), challenge, audience,
                          browser, secrets.token_urlsafe(32), self.now())
        with self.lock:
            self.txns.put(txn.txn_id, txn)
        self.narrate_stored(txn)
        return txn

    def narrate_stored(self, txn: Transaction):
        n = self.narrator
        n.step(4, "The authorization server stores the challenge", flow=flow_tag(txn.state))
        n.say("authorization server", f"client_id={txn.client.client_id} is registered; "
                                      f"redirect_uri matches exactly: {txn.redirect_uri}")
        n.value("authorization server", "stored code_challenge", txn.challenge,
                "method S256; kept until the code is redeemed")
        n.say("authorization server", f"scope={txn.scope!r}  state and nonce kept to echo back")
        n.say("authorization server", "shows the login page (one click per demo user)")

    def find_transaction(self, form: dict, browser: str) -> Transaction:
        """CSRF check for the login and consent forms: the form's token and this browser's
        cookie must both match what the server stored for the request."""
        with self.lock:
            txn = self.txns.get(form.get("txn", ""))
        if txn is None or self.now() - txn.created > TXN_TTL:
            raise InvalidRequest("This login request has expired or is unknown. "
                                 "Start again from the app.", status_code=400)
        csrf_ok = hmac.compare_digest(form.get("csrf", "").encode(), txn.csrf.encode())
        browser_ok = hmac.compare_digest(browser.encode(), txn.browser.encode())
        if not (csrf_ok and browser_ok):
            raise InvalidRequest("Cross-site request refused: this form was not opened in "
                                 "this browser.", status_code=403)
        return txn

    def authenticate(self, txn: Transaction, username: str):
        user = DEMO_USERS.get(username)
        if user is None:
            raise InvalidRequest("Unknown demo user.")
        txn.user, txn.auth_time = username, self.now()
        n = self.narrator
        n.step(5, "Authentication", flow=flow_tag(txn.state))
        n.say("identity provider", f"{user['connection']}: {user['name']} <{user['email']}> "
                                   "authenticated (one click in this demo)")
        n.say("authorization server", f"user sub={user['sub']}; asking for consent to "
                                      f"scope {txn.scope!r}")

    def finish_transaction(self, txn: Transaction, allow: bool) -> str:
        """Consent given or refused: the URL the browser is sent back to (303)."""
        with self.lock:
            self.txns.pop(txn.txn_id, None)
        if not allow:
            self.narrator.fail("authorization server", "the user pressed Deny: "
                                                       "redirecting with error=access_denied")
            err = AccessDenied("The user denied the consent request.")
            return add_query(txn.redirect_uri, err.redirect_query(txn.state, self.issuer))
        code = self.issue_code(txn)
        query = {"code": code}
        if txn.state is not None:
            query["state"] = txn.state
        query["iss"] = self.issuer
        return add_query(txn.redirect_uri, urllib.parse.urlencode(query))

    def issue_code(self, txn: Transaction) -> str:
        code = secrets.token_urlsafe(32)
        record = CodeRecord(txn.client.client_id, txn.redirect_uri, txn.challenge, txn.scope,
                            txn.nonce, txn.audience, txn.user, txn.auth_time, self.now())
        with self.lock:
            self.codes.put(token_hash(code), record)
        self.narrator.say("authorization server",
                          f"issued code {self.narrator.token(code)} bound to challenge "
                          f"{txn.challenge[:10]}…, valid {CODE_TTL // 60} min, single use")
        return code

    # == /oauth/token: Chapters 7 and 8 ===================================================
    def authenticate_client(self, params: dict, authorization: str | None) -> Client:
        """RFC 6749 §2.3: secrets by client_secret_basic or client_secret_post."""
        client_id, secret = params.get("client_id"), params.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            client_id, secret = parse_basic(authorization)
        client = self.clients.get(client_id or "")
        if client is None:
            raise InvalidClient("Unknown client_id.")
        if client.secret is None:
            if secret:
                raise InvalidClient("This is a public client: it has no secret to send.")
            return client
        if not secret or not hmac.compare_digest(secret.encode(), client.secret.encode()):
            raise InvalidClient("Client authentication failed (wrong or missing secret).")
        return client

    def token_request(self, params: dict, authorization: str | None) -> dict:
        client = self.authenticate_client(params, authorization)
        grant = params.get("grant_type")
        if grant == "authorization_code":
            return self.redeem_code(client, params)
        if grant == "refresh_token":
            return self.redeem_refresh_token(client, params)
        raise UnsupportedGrantType(f"grant_type {grant!r} is not supported.")

    def redeem_code(self, client: Client, params: dict) -> dict:
        code = params.get("code")
        if not code:
            raise InvalidRequest("code is required.")
        with self.lock:
            record = self.codes.get(token_hash(code))
            self.check_code(record, client, params)
            self.check_pkce(record, params.get("code_verifier"))
            record.used = True
            record.family = secrets.token_urlsafe(12)
            self.families.put(record.family, Family(record.client_id, record.user, record.scope,
                                                  record.audience, record.nonce,
                                                  record.auth_time))
        return self.issue_tokens(record.family, include_refresh="offline_access" in record.scope)

    def check_code(self, record, client: Client, params: dict):
        """RFC 6749 §4.1.3, in order: known, unused, unexpired, same client, same redirect_uri."""
        if record is None:
            raise InvalidGrant("Invalid authorization code.")
        if record.used:
            # §4.1.2: a code used twice means someone has a copy; revoke what it gave.
            self.revoke_family(record.family, "authorization code reused")
            raise InvalidGrant("Authorization code has already been used; the tokens it "
                               "issued have been revoked.")
        if self.now() - record.created > CODE_TTL:
            raise InvalidGrant("Authorization code has expired.")
        if record.client_id != client.client_id:
            raise InvalidGrant("This code was issued to another client.")
        if params.get("redirect_uri") != record.redirect_uri:
            raise InvalidGrant("redirect_uri does not match the one used in the "
                               "authorization request.")

    def check_pkce(self, record: CodeRecord, verifier: str | None):
        """RFC 7636 §4.6: recompute BASE64URL(SHA256(verifier)) and compare with the stored one."""
        n = self.narrator
        if not verifier:
            n.fail("authorization server", "token request without code_verifier: refused")
            raise MissingCodeVerifier()
        if not pkce.is_well_formed_verifier(verifier):
            n.fail("authorization server", "code_verifier is not 43–128 unreserved characters")
            raise InvalidRequest("code_verifier is malformed (RFC 7636 §4.1).")
        recomputed = pkce.make_challenge(verifier)
        ok = pkce.verify(verifier, record.challenge)
        self.log_pkce_check(record.challenge, verifier, recomputed, ok)
        if not ok:
            raise InvalidGrant("Failed to verify code_verifier (PKCE).")

    def log_pkce_check(self, stored: str, verifier: str, recomputed: str, ok: bool):
        n = self.narrator
        n.step(8, "The authorization server's PKCE check")
        n.value("authorization server", "received code_verifier", verifier)
        n.value("authorization server", "SHA256 → base64url", recomputed)
        n.value("authorization server", "stored code_challenge", stored)
        if ok:
            n.ok("authorization server", "they match (hmac.compare_digest): only the client "
                                         "that made the challenge can know this verifier")
        else:
            n.fail("authorization server", "they differ: this is not the client that started "
                                           "the login → invalid_grant")
        with self.lock:
            self.pkce_log.put(stored, {"stored_challenge": stored, "verifier": verifier,
                                       "recomputed": recomputed, "match": ok,
                                       "at": self.now()})

    def redeem_refresh_token(self, client: Client, params: dict) -> dict:
        """RFC 6749 §6 with rotation (Security BCP §4.14): each refresh token works once."""
        token = params.get("refresh_token")
        if not token:
            raise InvalidRequest("refresh_token is required.")
        with self.lock:
            rec = self.refresh.get(token_hash(token))
            if rec is None:
                raise InvalidGrant("Unknown or revoked refresh token.")
            family = self.families.get(rec["family"])
            if family is None or family.revoked:
                raise InvalidGrant("Unknown or revoked refresh token.")
            if not rec["active"]:
                self.revoke_family(rec["family"], "rotated refresh token presented again")
                raise InvalidGrant("Refresh token reuse detected; the whole family is revoked.")
            if family.client_id != client.client_id:
                raise InvalidGrant("This refresh token was issued to another client.")
            if self.now() > rec["exp"]:
                raise InvalidGrant("Refresh token has expired.")
            rec["active"] = False
        self.narrator.say("authorization server", "refresh token rotated: the old one is now "
                                                  "dead; presenting it again revokes the family")
        return self.issue_tokens(rec["family"], include_refresh=True)

    def issue_tokens(self, family_id: str, include_refresh: bool) -> dict:
        family = self.families.get(family_id)
        if family is None:
            raise InvalidGrant("This grant is no longer known to the server.")
        user = DEMO_USERS[family.user]
        now = int(self.now())
        key = self.keys.current()
        access, jti = self.access_token_claims(family, user, now)
        body = {"access_token": encode_jwt(access, key, headers={"typ": "at+jwt"}),
                "id_token": encode_jwt(self.id_token_claims(family, user, now), key),
                "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL, "scope": family.scope}
        with self.lock:
            if family.revoked:   # a replay revoked the grant while we were signing
                self.revoked_jtis.put(jti, now + ACCESS_TOKEN_TTL)
                raise InvalidGrant("This grant was revoked while its tokens were issued.")
            family.jtis = [(j, exp) for j, exp in family.jtis if exp > now][-FAMILY_TOKENS_MAX:]
            family.jtis.append((jti, now + ACCESS_TOKEN_TTL))
            if include_refresh:
                body["refresh_token"] = self.new_refresh_token(family_id, family, now)
        return body

    def access_token_claims(self, family: Family, user: dict, now: int) -> tuple:
        jti = secrets.token_urlsafe(12)
        aud = [family.audience, self.url("/userinfo")] if family.audience else self.url("/userinfo")
        return ({"iss": self.issuer, "sub": user["sub"], "aud": aud, "azp": family.client_id,
                 "scope": family.scope, "iat": now, "exp": now + ACCESS_TOKEN_TTL,
                 "jti": jti}, jti)

    def id_token_claims(self, family: Family, user: dict, now: int) -> dict:
        """OIDC Core §2: who logged in, for whom (aud), when, and the client's nonce."""
        claims = {"iss": self.issuer, "sub": user["sub"], "aud": family.client_id,
                  "iat": now, "exp": now + ID_TOKEN_TTL, "auth_time": int(family.auth_time)}
        if family.nonce:
            claims["nonce"] = family.nonce
        claims.update(self.profile_claims(user, family.scope))
        return claims

    @staticmethod
    def profile_claims(user: dict, scope: str) -> dict:
        scopes = scope.split()
        claims = {}
        if "profile" in scopes:
            claims["name"] = user["name"]
        if "email" in scopes:
            claims.update(email=user["email"], email_verified=user["email_verified"])
        return claims

    def new_refresh_token(self, family_id: str, family: Family, now: int) -> str:
        token = secrets.token_urlsafe(48)
        digest = token_hash(token)
        self.refresh.put(digest, {"family": family_id, "active": True,
                                  "exp": now + REFRESH_TOKEN_TTL})
        family.refresh_hashes.append(digest)
        while len(family.refresh_hashes) > FAMILY_TOKENS_MAX:   # the oldest rotated ones go
            self.refresh.pop(family.refresh_hashes.pop(0), None)
        return token

    def revoke_family(self, family_id: str | None, why: str):
        """Every access and refresh token descended from one code stops working now."""
        with self.lock:
            family = self.families.get(family_id) if family_id else None
            if family is None or family.revoked:
                return
            family.revoked = True
            for jti, exp in family.jtis:
                self.revoked_jtis.put(jti, exp)
            for digest in family.refresh_hashes:
                self.refresh.pop(digest, None)
        self.narrator.fail("authorization server", f"{why}: revoked {len(family.jtis)} access "
                                                   f"token(s) and every refresh token of that grant")

    # == /userinfo, /oauth/revoke ==========================================================
    def verify_access_token(self, token: str | None) -> dict:
        if not token:
            raise InvalidToken("A Bearer access token is required.")
        _, claims = verify_jwt(token, algorithms=TOKEN_ALGORITHMS, key_for_kid=self.key_for_kid)
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if claims.get("iss") != self.issuer or self.url("/userinfo") not in auds:
            raise InvalidToken("This token was not issued for this server's /userinfo.")
        check_time(claims, now=self.now())
        if claims.get("jti") in self.revoked_jtis:
            raise InvalidToken("The access token has been revoked.")
        return claims

    def key_for_kid(self, kid):
        for key in self.keys.public_keys():
            if key.kid == kid:
                return key
        raise UnknownKey("No key of this server has that kid.")

    def userinfo(self, token: str | None) -> dict:
        claims = self.verify_access_token(token)
        user = next(u for u in DEMO_USERS.values() if u["sub"] == claims["sub"])
        return {"sub": user["sub"], **self.profile_claims(user, claims.get("scope", ""))}

    def revoke(self, client: Client, token: str):
        """RFC 7009 §2.2: answer 200 whether or not the token was known."""
        with self.lock:
            rec = self.refresh.get(token_hash(token))
            family = self.families.get(rec["family"]) if rec is not None else None
            if family is not None and family.client_id == client.client_id:
                self.revoke_family(rec["family"], "revocation request")
                return
        try:
            _, claims = verify_jwt(token, algorithms=TOKEN_ALGORITHMS,
                                   key_for_kid=self.key_for_kid)
        except OAuth2Error:
            return
        if claims.get("azp") == client.client_id and "jti" in claims:
            with self.lock:
                self.revoked_jtis.put(claims["jti"], claims.get("exp", self.now()))


def parse_basic(header: str) -> tuple:
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded, then base64'd."""
    try:
        raw = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as err:
        raise InvalidClient("Malformed Basic authorization header.") from err
    client_id, sep, secret = raw.partition(":")
    if not sep:
        raise InvalidClient("Malformed Basic authorization header.")
    return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)


def flow_tag(state: str | None) -> str | None:
    """The first characters of state: lets a learner match lines of one login."""
    return state[:6] if state else None


class AuthServerHandler(httpkit.BaseHandler):
    """HTTP face of ``AuthorizationServer``: parses, calls, renders. No decisions here."""

    routes = {
        ("GET", "/"): "home",
        ("GET", "/.well-known/openid-configuration"): "discovery",
        ("GET", "/.well-known/jwks.json"): "jwks",
        ("GET", "/authorize"): "authorize",
        ("POST", "/authorize/login"): "login",
        ("POST", "/authorize/consent"): "consent",
        ("POST", "/oauth/token"): "token",
        ("GET", "/userinfo"): "userinfo",
        ("POST", "/userinfo"): "userinfo",
        ("POST", "/oauth/revoke"): "revoke",
        ("GET", "/v2/logout"): "logout_auth0",
        ("GET", "/oidc/logout"): "logout_oidc",
    }
    json_paths = ("/.well-known/", "/oauth/", "/userinfo")

    @property
    def auth(self) -> AuthorizationServer:
        return self.server.app

    def extra_headers(self, resp):
        return httpkit.security_headers(getattr(resp, "form_action", "'self'"))

    # -- pages ---------------------------------------------------------------------------
    def home(self, req):
        rows = Markup("".join(f"<li><code>{esc(u)}</code></li>" for u in
                              self.auth.metadata().values() if str(u).startswith("http")))
        return render("as_home.html", title="Embedded authorization server",
                      issuer=self.auth.issuer, endpoints=rows)

    def discovery(self, req):
        return json_response(self.auth.metadata())

    def jwks(self, req):
        return json_response(jwks_document(self.auth.keys.public_keys()))

    def browser_id(self, req, resp: Response | None = None) -> str:
        browser = req.browser_id(BROWSER_COOKIE)
        if not browser and resp is not None:
            browser = httpkit.new_browser_id()
            resp.set_cookie(BROWSER_COOKIE, browser, max_age=TXN_TTL)
        return browser

    def authorize(self, req):
        self.auth.prune()
        client, redirect_uri = self.auth.check_client_and_redirect(req.query)
        state = req.query.get("state")
        try:
            challenge, scope, audience = self.auth.check_authorization_request(req.query)
        except OAuth2Error as err:
            return self.error_redirect(redirect_uri, err, state)
        resp = Response()
        browser = self.browser_id(req, resp)
        txn = self.auth.store_transaction(client, redirect_uri, req.query, challenge, scope,
                                          audience, browser)
        page = self.login_page(txn)
        page.headers += resp.headers
        return page

    def error_redirect(self, redirect_uri: str, err: OAuth2Error, state):
        self.auth.narrator.fail("authorization server",
                                f"{err.error}: {err.description} → back to the client")
        return httpkit.redirect(add_query(redirect_uri, err.redirect_query(state, self.auth.issuer)),
                                303)

    def login_page(self, txn: Transaction) -> Response:
        buttons = Markup("".join(
            f'<form method="post" action="/authorize/login" class="idp-form">'
            f'<input type="hidden" name="txn" value="{esc(txn.txn_id)}">'
            f'<input type="hidden" name="csrf" value="{esc(txn.csrf)}">'
            f'<input type="hidden" name="user" value="{esc(name)}">'
            f'<button type="submit" class="idp idp-{esc(u["connection"].lower())}">'
            f'{esc(u["button"])}<small>as {esc(u["name"])} · {esc(u["email"])}</small>'
            f'</button></form>' for name, u in DEMO_USERS.items()))
        return render("as_login.html", title="Log in · embedded authorization server",
                      client_name=txn.client.name, client_id=txn.client.client_id,
                      buttons=buttons, challenge=txn.challenge, issuer=self.auth.issuer)

    def login(self, req):
        form = req.form()
        txn = self.auth.find_transaction(form, req.browser_id(BROWSER_COOKIE))
        self.auth.authenticate(txn, form.get("user", ""))
        user = DEMO_USERS[txn.user]
        scopes = Markup("".join(f"<li><code>{esc(s)}</code> {esc(SCOPE_TEXT.get(s, ''))}</li>"
                                for s in txn.scope.split()))
        resp = render("as_consent.html", title="Authorize · embedded authorization server",
                      client_name=txn.client.name, user_name=user["name"],
                      user_email=user["email"], scopes=scopes, txn=txn.txn_id,
                      csrf=txn.csrf, redirect_uri=txn.redirect_uri)
        resp.form_action = f"'self' {origin_of(txn.redirect_uri)}"
        return resp

    def consent(self, req):
        form = req.form()
        txn = self.auth.find_transaction(form, req.browser_id(BROWSER_COOKIE))
        if txn.user is None:
            raise InvalidRequest("Log in before giving consent.")
        location = self.auth.finish_transaction(txn, form.get("decision") == "allow")
        resp = httpkit.redirect(location, 303)
        resp.form_action = f"'self' {origin_of(txn.redirect_uri)}"
        return resp

    # -- APIs ------------------------------------------------------------------------------
    def token(self, req):
        tokens = self.auth.token_request(req.form_or_json(), req.headers.get("Authorization"))
        return json_response(tokens)

    def userinfo(self, req):
        return json_response(self.auth.userinfo(req.bearer_token()))

    def revoke(self, req):
        params = req.form_or_json()
        client = self.auth.authenticate_client(params, req.headers.get("Authorization"))
        if not params.get("token"):
            raise InvalidRequest("token is required.")
        self.auth.revoke(client, params["token"])
        return json_response({})

    def logout_auth0(self, req):
        """Auth0's /v2/logout: returnTo must be one of the client's allowed logout URLs."""
        return_to = req.query.get("returnTo")
        client = self.auth.clients.get(req.query.get("client_id", ""))
        resp = render("as_logged_out.html", title="Logged out")
        if return_to:
            if client is None or return_to not in client.logout_urls:
                raise InvalidRequest("returnTo is not an allowed logout URL for this client.")
            resp = httpkit.redirect(return_to, 302)
        return resp.delete_cookie(BROWSER_COOKIE)

    def logout_oidc(self, req):
        """OpenID Connect RP-Initiated Logout 1.0 §2–3."""
        target = req.query.get("post_logout_redirect_uri")
        client = self.auth.clients.get(req.query.get("client_id", ""))
        if target:
            if client is None or target not in client.logout_urls:
                raise InvalidRequest("post_logout_redirect_uri is not registered.")
            state = req.query.get("state")
            if state:
                target = add_query(target, urllib.parse.urlencode({"state": state}))
            return httpkit.redirect(target, 302).delete_cookie(BROWSER_COOKIE)
        return render("as_logged_out.html", title="Logged out").delete_cookie(BROWSER_COOKIE)


SCOPE_TEXT = {
    "openid": "prove who you are to the app (an ID token)",
    "profile": "your name",
    "email": "your email address and whether it is verified",
    "offline_access": "stay signed in (a refresh token)",
}


def start(keys, *, host: str = "127.0.0.1", port: int = 8092, narrator=None, clock=time.time,
          **client_settings) -> tuple:
    """Bind the embedded server and begin serving. Returns (AuthorizationServer, http server)."""
    auth = AuthorizationServer(keys, narrator=narrator, clock=clock, **client_settings)
    server, _ = httpkit.start_server(AuthServerHandler, host, port, auth)
    auth.set_issuer(httpkit.server_url(server))
    return auth, server
