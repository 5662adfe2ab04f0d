"""The embedded authorization server: an Auth0 stand-in on its own port and origin.

RFC 6749 (OAuth 2.0: §4.1 authorization code grant, §5.2 errors, §6 refresh),
RFC 7636 (PKCE, §4.4–4.6), OpenID Connect Core 1.0 (ID token, nonce, UserInfo),
RFC 9207 (the ``iss`` authorization response parameter), RFC 7009 (revocation),
RFC 7662 (token introspection, for the app's protected API), RFC 8252 §7.3 (loopback
redirects for native apps, any port), and the OAuth 2.0 Security BCP (RFC 9700 §4.14:
refresh token rotation with reuse detection).

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
import re
import secrets
import threading
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass

import pkce

from oauthdemo.core import paths
from oauthdemo.core.loopback import is_loopback_callback
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.web import httpkit
from oauthdemo.core.errors import (AccessDenied, ConfigError, DemoError, JoseError, FatalAuthorizeError, InvalidClient, InvalidGrant,
                     InvalidRequest, InvalidScope, InvalidToken, MissingCodeChallenge,
                     MissingCodeVerifier, OAuth2Error, RevokedToken, TableFull,
                     UnsupportedChallengeMethod, UnknownKey, UnsupportedGrantType,
                     UnsupportedResponseType)
from oauthdemo.web.html import Markup, esc
from oauthdemo.web.httpkit import Response, json_response, origin_of, render
from oauthdemo.core.claims import Expect, verify_jwt
from oauthdemo.core.jose import encode_jwt, jwks_document, verify_jws
from oauthdemo.teaching.narrator import Narrator
from oauthdemo.core.tables import BoundedTable, ExpiringTable

CODE_TTL = 600                 # RFC 6749 §4.1.2: a maximum lifetime of 10 minutes
TXN_TTL = 600                  # an authorization request waiting for the user
# Tables anyone can fill (a public client, one click) refuse new entries when full, with
# a 503; they never evict, so a flood cannot push out a victim's request or a revocation.
TXN_MAX = 2000                 # authorization requests waiting for their user
CODES_MAX = 5000               # issued codes, kept until they expire (reuse detection)
ACCESS_TOKEN_TTL = 86400       # Auth0's default for API access tokens
ID_TOKEN_TTL = 36000           # Auth0's default ID token lifetime (10 hours)
GRANT_TTL = 30 * 86400         # a grant, and so each of its refresh tokens, lives this long
GRANTS_MAX = 20000
REVOKED_MAX = 50000            # single revoked access tokens, each kept until its own exp
PKCE_LOG_MAX = 500             # the teaching pages' records of Step 8 (display only)
# A refresh token is <grant id>.<generation>.<HMAC of both>: the MAC makes it unforgeable,
# the generation tells the current token from every rotated one (RFC 9700 §4.14.2).
REFRESH_TOKEN = re.compile(r"([A-Za-z0-9_-]{16})\.([0-9]{1,9})\.([A-Za-z0-9_-]{43})")
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
    can_introspect: bool = False      # a resource server: may ask RFC 7662 about tokens

    def accepts_redirect(self, uri: str) -> bool:
        if uri in self.redirect_uris:   # exact string match (RFC 6749 §3.1.2.3)
            return True
        return self.loopback_any_port and is_loopback_callback(uri)


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
    grant_id: str | None = None


@dataclass
class Grant:
    """One user's consent to one client, and every token descended from its code.

    Access tokens carry the grant id (claim ``grant_id``) and refresh tokens are built
    from it, so revoking the grant kills all of them at once, for as long as they would
    have lived. A rotation bumps ``generation``: any older refresh token of this grant is
    a stale copy (reuse), however many rotations ago it was current.
    """
    grant_id: str
    client_id: str
    user: str
    scope: str
    audience: str | None
    nonce: str | None
    auth_time: float
    expires: int
    generation: int = 0
    revoked: bool = False


class AuthorizationServer:
    """The state of the embedded server; the handler below is only its HTTP face."""

    def __init__(self, keys, *, narrator: Narrator | None = None, clock=time.time,
                 web_client_id: str = "demo-web-app", native_client_id: str = "demo-cli",
                 backend_client_id: str = "demo-backend", backend_secret: str | None = None,
                 resource_client_id: str = "demo-api", audience: str = DEFAULT_AUDIENCE):
        self.keys = keys
        self.narrator = narrator or Narrator()
        self.clock = clock
        self.audience = audience
        self.issuer = ""
        self.lock = threading.RLock()
        self.txns = ExpiringTable(TXN_MAX, "authorization requests waiting for a user")
        self.codes = ExpiringTable(CODES_MAX, "authorization codes")
        self.grants = ExpiringTable(GRANTS_MAX, "grants")
        self.revoked_jtis = ExpiringTable(REVOKED_MAX, "revoked access tokens")
        self.pkce_log = BoundedTable(PKCE_LOG_MAX)
        self.refresh_key = secrets.token_bytes(32)   # MACs refresh tokens; never leaves memory
        ids = (web_client_id, native_client_id, backend_client_id, resource_client_id)
        if len(set(ids)) != len(ids):   # one would silently replace another
            raise ConfigError("The embedded server's client ids must all differ: "
                              + ", ".join(ids) + ".")
        self.clients = {
            web_client_id: Client(web_client_id, "Walkthrough web app (public, PKCE)"),
            native_client_id: Client(native_client_id, "CLI login (native, loopback)",
                                     loopback_any_port=True),
            backend_client_id: Client(backend_client_id, "Mobile backend (confidential)",
                                      secret=backend_secret or secrets.token_urlsafe(32),
                                      loopback_any_port=True),
            resource_client_id: Client(resource_client_id, "Protected API (resource server)",
                                       secret=secrets.token_urlsafe(32), can_introspect=True),
        }
        self.web_client_id = web_client_id
        self.resource_client_id = resource_client_id
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
            "introspection_endpoint": self.url("/oauth/introspect"),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic",
                                                              "client_secret_post"],
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
        """Drop what has expired, so memory holds only what can still be used."""
        now = self.now()
        with self.lock:
            for table in (self.txns, self.codes, self.grants, self.revoked_jtis):
                table.prune(now)

    # -- read-only records for the teaching pages ----------------------------------------
    def transaction_for_state(self, state: str):
        """The stored request of the login with this state, while it waits for its user."""
        with self.lock:
            return next((t for t in self.txns.values(self.now()) if t.state == state), None)

    def code_record(self, code: str):
        with self.lock:
            return self.codes.get(token_hash(code), self.now())

    def pkce_record(self, challenge: str):
        with self.lock:
            return self.pkce_log.get(challenge)

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
            self.txns.add(txn.txn_id, txn, expires=txn.created + TXN_TTL, now=txn.created)
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
            txn = self.txns.get(form.get("txn", ""), self.now())
        if txn is None:
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
            self.txns.pop(txn.txn_id, self.now())
        if not allow:
            self.narrator.fail("authorization server", "the user pressed Deny: "
                                                       "redirecting with error=access_denied")
            err = AccessDenied("The user denied the consent request.")
            return add_query(txn.redirect_uri, err.redirect_query(txn.state, self.issuer))
        try:
            code = self.issue_code(txn)
        except TableFull as err:   # RFC 6749 §4.1.2.1: the client hears it on its redirect
            self.narrator.fail("authorization server", f"{err.error}: {err.description}")
            return add_query(txn.redirect_uri, err.redirect_query(txn.state, self.issuer))
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
            self.codes.add(token_hash(code), record, expires=record.created + CODE_TTL,
                           now=record.created)
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
        now = self.now()
        with self.lock:
            record = self.codes.get(token_hash(code), now)
            self.check_code(record, client, params)
            self.check_pkce(record, params.get("code_verifier"))
            # Without offline_access there is no refresh token: the grant then lives only as
            # long as its access token, so one-off logins do not fill the table for 30 days.
            lifetime = GRANT_TTL if "offline_access" in record.scope.split() else ACCESS_TOKEN_TTL
            grant = Grant(secrets.token_urlsafe(12), record.client_id, record.user, record.scope,
                          record.audience, record.nonce, record.auth_time,
                          expires=int(now) + lifetime)
            self.grants.add(grant.grant_id, grant, expires=grant.expires, now=now)
            record.used, record.grant_id = True, grant.grant_id
        return self.issue_tokens(grant, include_refresh="offline_access" in record.scope)

    def check_code(self, record, client: Client, params: dict):
        """RFC 6749 §4.1.3, in order: known, same client, unused, unexpired, same redirect_uri."""
        if record is None:
            raise InvalidGrant("Invalid authorization code.")
        # The client first: whoever else holds a copy of a used code (a log, a proxy) must
        # not be able to revoke the real client's tokens by presenting it.
        if record.client_id != client.client_id:
            raise InvalidGrant("This code was issued to another client.")
        if record.used:
            # §4.1.2: a code used twice means someone has a copy; revoke what it gave.
            self.revoke_grant(record.grant_id, "authorization code reused")
            raise InvalidGrant("Authorization code has already been used; the tokens it "
                               "issued have been revoked.")
        if self.now() - record.created > CODE_TTL:
            raise InvalidGrant("Authorization code has expired.")
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
        """RFC 6749 §6 with rotation (RFC 9700 §4.14.2): each refresh token works once."""
        token = params.get("refresh_token")
        if not token:
            raise InvalidRequest("refresh_token is required.")
        grant_id, generation = self.parse_refresh_token(token)
        with self.lock:
            grant = self.grants.get(grant_id, self.now())
            if grant is None or grant.revoked:
                raise InvalidGrant("Unknown or revoked refresh token.")
            if grant.client_id != client.client_id:   # before reuse: only its client may revoke
                raise InvalidGrant("This refresh token was issued to another client.")
            if generation != grant.generation:
                self.revoke_grant(grant_id, f"refresh token {grant.generation - generation} "
                                            "rotation(s) old presented again")
                raise InvalidGrant("Refresh token reuse detected; the whole grant is revoked.")
            grant.generation += 1   # under the lock: of two racing uses, one is the reuse
        self.narrator.say("authorization server", "refresh token rotated: the old one is now "
                                                  "dead; presenting it again revokes the grant")
        return self.issue_tokens(grant, include_refresh=True)

    def parse_refresh_token(self, token: str) -> tuple:
        """(grant id, generation) of a refresh token this server made; anything else is refused."""
        match = REFRESH_TOKEN.fullmatch(token)
        if match is None or not hmac.compare_digest(
                match.group(3), self.refresh_mac(f"{match.group(1)}.{match.group(2)}")):
            raise InvalidGrant("Unknown or revoked refresh token.")
        return match.group(1), int(match.group(2))

    def refresh_mac(self, body: str) -> str:
        digest = hmac.new(self.refresh_key, body.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def refresh_token_for(self, grant: Grant) -> str:
        body = f"{grant.grant_id}.{grant.generation}"
        return f"{body}.{self.refresh_mac(body)}"

    def issue_tokens(self, grant: Grant, include_refresh: bool) -> dict:
        user = DEMO_USERS[grant.user]
        now = int(self.now())
        key = self.keys.current()
        body = {"access_token": encode_jwt(self.access_token_claims(grant, user, now), key,
                                           headers={"typ": "at+jwt"}),
                "id_token": encode_jwt(self.id_token_claims(grant, user, now), key),
                "token_type": "Bearer", "expires_in": ACCESS_TOKEN_TTL, "scope": grant.scope}
        with self.lock:
            # A replay may have revoked the grant while we were signing: the access token
            # just made carries its grant_id, so it is dead already; say so instead.
            if grant.revoked:
                raise InvalidGrant("This grant was revoked while its tokens were issued.")
            if include_refresh:
                body["refresh_token"] = self.refresh_token_for(grant)
        return body

    def access_token_claims(self, grant: Grant, user: dict, now: int) -> dict:
        """RFC 9068-style claims; ``grant_id`` (ours) ties the token to its grant, and exp never
        outlives the grant, so the grant's record is there for the token's whole life."""
        aud = [grant.audience, self.url("/userinfo")] if grant.audience else self.url("/userinfo")
        return {"iss": self.issuer, "sub": user["sub"], "aud": aud, "azp": grant.client_id,
                "scope": grant.scope, "iat": now, "exp": min(now + ACCESS_TOKEN_TTL, grant.expires),
                "jti": secrets.token_urlsafe(12), "grant_id": grant.grant_id}

    def id_token_claims(self, grant: Grant, user: dict, now: int) -> dict:
        """OIDC Core §2: who logged in, for whom (aud), when, and the client's nonce."""
        claims = {"iss": self.issuer, "sub": user["sub"], "aud": grant.client_id,
                  "iat": now, "exp": now + ID_TOKEN_TTL, "auth_time": int(grant.auth_time)}
        if grant.nonce:
            claims["nonce"] = grant.nonce
        claims.update(self.profile_claims(user, grant.scope))
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

    def revoke_grant(self, grant_id: str | None, why: str):
        """Every access and refresh token of one grant stops working now, until it expires."""
        with self.lock:
            grant = self.grants.get(grant_id, self.now()) if grant_id else None
            if grant is None or grant.revoked:
                return
            grant.revoked = True   # kept (not deleted) until grant.expires: tokens check it
        self.narrator.fail("authorization server", f"{why}: revoked grant {grant_id[:6]}…, "
                                                   "every access and refresh token it issued")

    # == /userinfo, /oauth/revoke, /oauth/introspect =======================================
    def verify_access_token(self, token: str | None) -> dict:
        if not token:
            raise InvalidToken("A Bearer access token is required.")
        _, claims = verify_jwt(token, algorithms=TOKEN_ALGORITHMS, key_for_kid=self.key_for_kid,
                               expect=Expect(iss=self.issuer, aud=self.url("/userinfo"),
                                             now=self.now()))
        self.check_not_revoked(claims)
        return claims

    def check_not_revoked(self, claims: dict):
        """What only the issuer knows: a signature and an exp cannot say "revoked"."""
        grant_id, jti, now = claims.get("grant_id"), claims.get("jti"), self.now()
        with self.lock:
            grant = self.grants.get(grant_id, now) if isinstance(grant_id, str) else None
            single = isinstance(jti, str) and self.revoked_jtis.get(jti, now) is not None
        if grant is None or grant.revoked:
            raise RevokedToken("The access token's grant has been revoked, or is unknown here.")
        if single:
            raise RevokedToken("The access token has been revoked.")

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
        if looks_like_refresh_token(token):
            try:
                grant_id, _ = self.parse_refresh_token(token)
            except InvalidGrant:
                return
            with self.lock:
                grant = self.grants.get(grant_id, self.now())
            if grant is not None and grant.client_id == client.client_id:
                self.revoke_grant(grant_id, "revocation request")
            return
        try:
            # Only the signature matters here: is this one of our tokens, and whose?
            _, claims = verify_jws(token, algorithms=TOKEN_ALGORITHMS,
                                   key_for_kid=self.key_for_kid)
        except JoseError:
            return
        if claims.get("azp") == client.client_id and isinstance(claims.get("jti"), str):
            self.revoke_access_token(claims)

    def revoke_access_token(self, claims: dict):
        """One access token, remembered until its own exp. If that table is full, the whole
        grant goes instead: a revocation is never forgotten to make room."""
        now = self.now()
        try:
            with self.lock:
                self.revoked_jtis.add(claims["jti"], True, expires=claims.get("exp", now), now=now)
        except TableFull:
            self.revoke_grant(claims.get("grant_id"), "revocation table full, so the whole grant")
            return
        self.narrator.fail("authorization server", "revocation request: that access token is "
                                                   "dead until its exp")

    def introspect(self, caller: Client, token: str) -> dict:
        """RFC 7662 §2.2: is this token active right now? Only the issuer can say "revoked"."""
        if not caller.can_introspect:
            raise InvalidClient("Only a resource server may introspect tokens (RFC 7662 §2.1).")
        answer = self.introspect_refresh(token) if looks_like_refresh_token(token) else None
        if answer is None:
            answer = self.introspect_access(token)
        self.narrator.say("authorization server",
                          f"introspection by {caller.client_id}: token is "
                          f"{'active' if answer['active'] else 'NOT active (revoked, expired or unknown)'}")
        return answer

    def introspect_access(self, token: str) -> dict:
        try:
            claims = self.verify_access_token(token)
        except DemoError:   # invalid, revoked, expired, not ours: all simply "not active"
            return {"active": False}   # §2.2: no reason why; the caller needs none
        return {"active": True, "token_type": "Bearer", "client_id": claims.get("azp"),
                **{k: claims[k] for k in ("scope", "sub", "aud", "iss", "exp", "iat", "jti")
                   if k in claims}}

    def introspect_refresh(self, token: str) -> dict | None:
        try:
            grant_id, generation = self.parse_refresh_token(token)
        except InvalidGrant:
            return None
        with self.lock:
            grant = self.grants.get(grant_id, self.now())
        if grant is None or grant.revoked or generation != grant.generation:
            return {"active": False}
        return {"active": True, "client_id": grant.client_id, "scope": grant.scope,
                "sub": DEMO_USERS[grant.user]["sub"], "exp": grant.expires, "iss": self.issuer}


def looks_like_refresh_token(token: str) -> bool:
    """Which kind of token a revocation or introspection request carries (RFC 7009 §2.1 lets
    the server tell); whether it is genuine is parse_refresh_token's MAC check."""
    return REFRESH_TOKEN.fullmatch(token) is not None


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
        ("POST", "/oauth/introspect"): "introspect",
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

    def introspect(self, req):
        """RFC 7662 §2.1: a resource server authenticates, then asks about one token."""
        params = req.form_or_json()
        caller = self.auth.authenticate_client(params, req.headers.get("Authorization"))
        if not params.get("token"):
            raise InvalidRequest("token is required.")
        return json_response(self.auth.introspect(caller, params["token"]))

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


def start_embedded(cfg, narrator, clock, keys=None):
    """The Auth0 stand-in on its own port; its key is generated in the background."""
    if keys is None:
        keys = SigningKeyStore(cache_dir=paths.user_cache_dir())
        keys.start()
    auth = AuthorizationServer(keys, narrator=narrator, clock=clock, **cfg.embedded)
    server = httpkit.bind(AuthServerHandler, cfg.host, cfg.idp_port, auth,
                  "embedded authorization server", "--idp-port", cfg.public_host)
    auth.set_issuer(httpkit.server_url(server))
    return auth, server
