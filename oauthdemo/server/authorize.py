"""The authorization endpoint: Steps 4 and 5 of the walkthrough, on the server's side.

RFC 6749 §4.1.1–4.1.2 (the authorization request and response; §4.1.2.1 errors: a bad
client_id or redirect_uri is shown, never redirected to), §3.1.2.3 (exact redirect_uri),
§3.3 (scope), RFC 7636 §4.4 (the server stores the S256 challenge with the request),
OpenID Connect Core §3.1.2.3–3.1.2.4 (authentication, then consent) and RFC 9207 §2 (the
``iss`` parameter on the response). The login and consent forms carry a form token bound
to this browser and this request (``core.forms``), so another site cannot submit them.
"""
from __future__ import annotations

import hmac
import secrets
import urllib.parse
from dataclasses import dataclass, replace

import pkce

from oauthdemo.core.records import Record
from oauthdemo.core.errors import (AccessDenied, FatalAuthorizeError, InvalidRequest,
                                   InvalidScope, InvalidTarget, MissingCodeChallenge,
                                   OAuth2Error, TableFull, UnsupportedChallengeMethod,
                                   UnsupportedResponseType)
from oauthdemo.core.events import CodeIssued, EventBus
from oauthdemo.core.forms import FormTokens
from oauthdemo.core.steps import Step
from oauthdemo.server.clients import Client
from oauthdemo.server.store import CodeRecord
from oauthdemo.server.users import DEMO_USERS

AS, IDP = "authorization server", "identity provider"
CODE_TTL = 600                 # RFC 6749 §4.1.2: a maximum lifetime of 10 minutes
TXN_TTL = 600                  # an authorization request waiting for the user
SUPPORTED_SCOPES = ("openid", "profile", "email", "offline_access")
FORM_PURPOSE = "authorize"     # the form token of the login and consent forms
CROSS_SITE = "Cross-site request refused: this form was not opened in this browser."
EXPIRED = "This login request has expired or is unknown. Start again from the app."
# The browser binding of a login request (``Transaction.browser``), for the code flow's
# pages and the device flow's alike; distinct from the app's cookies: cookies ignore the port.
BROWSER_COOKIE = "as_browser"


@dataclass
class Transaction(Record):   # immutable: see core.records
    """Step 4: what the server remembers about one authorization request."""
    txn_id: str
    client: Client
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    challenge: str
    audience: str | None
    browser: str                   # the as_browser cookie of the browser that asked
    created: float
    expires: float
    user: str | None = None
    auth_time: float | None = None
    # RFC 8628 §3.3: set on a device login only (the code the user typed at /activate).
    # On the request itself, not in a side table: nothing can leave a device login that
    # looks like a code flow's request, and the two consent pages tell them apart by it.
    user_code: str | None = None


def check_consent(txn: Transaction, *, device: bool) -> None:
    """The one rule before any consent answer, the code flow's and the device's: the user
    has logged in to this very request first (OIDC Core §3.1.2.3–3.1.2.4: authentication,
    then consent), and it is answered on its own flow's page (a device login never yields
    an authorization code; a code flow's request never approves a device)."""
    if txn.user is None:
        raise InvalidRequest("Log in before giving consent.")
    if (txn.user_code is not None) != device:
        raise InvalidRequest("This login request is answered on another consent page.")


def check_audience(params: dict, known: str) -> str | None:
    """The API the tokens are for (``audience``, RFC 8707's ``resource``): none, or the one
    registered here. One check for /authorize, the device grant and client credentials.

    An unknown one is RFC 8707 §2's ``invalid_target`` (400) everywhere. Auth0 answers
    ``access_denied`` "Service not found" at /authorize; we keep the registered code, since
    nobody denied anything: the request named an API that does not exist, and a client
    reading ``access_denied`` would tell its user they had refused."""
    audience = params.get("audience") or None
    if audience and audience != known:
        raise InvalidTarget(f"Unknown audience (no such API here): {audience}")
    return audience


def add_query(uri: str, query: str) -> str:
    """Append parameters to a redirect URI, keeping any query it already has (RFC 6749 §3.1.2)."""
    return uri + ("&" if "?" in uri else "?") + query


def flow_tag(state: str | None) -> str | None:
    """The first characters of state: lets a learner match lines of one login."""
    return state[:6] if state else None


class AuthorizeEndpoint:
    """/authorize, the login form and the consent form; answers are redirect locations."""

    def __init__(self, clients, store, issuer, *, audience: str, clock,
                 events: EventBus | None = None, forms: FormTokens | None = None):
        self.clients, self.store, self.issuer = clients, store, issuer
        self.audience = audience
        self.clock = clock
        self.events = events or EventBus()
        self.forms = forms or FormTokens()
        # Flow tags whose Steps 4 and 5 are not narrated: the attack lab's own set-up logins,
        # which it sums up in one line instead of replaying them.
        self.quiet_flows: set = set()

    def narrates(self, txn) -> bool:
        return flow_tag(txn.state) not in self.quiet_flows

    # -- the request (RFC 6749 §4.1.1) -------------------------------------------------
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

    def check_request(self, params: dict) -> tuple:
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
        audience = check_audience(params, self.audience)
        return challenge, allowed_scope(params.get("scope", "")), audience

    def store_request(self, client, redirect_uri: str, params: dict, checked: tuple,
                      browser: str) -> Transaction:
        """Step 4: keep the challenge (and state, nonce, scope) until the user has answered.
        ``checked`` is what ``check_request`` returned: (challenge, scope, audience)."""
        challenge, scope, audience = checked
        now = self.clock()
        txn = Transaction(secrets.token_urlsafe(16), client, redirect_uri, scope,
                          params.get("state"), params.get("nonce"), challenge, audience,
                          browser, created=now, expires=now + TXN_TTL)
        self.store.add_transaction(txn)
        self.narrate_stored(txn)
        return txn

    def narrate_stored(self, txn: Transaction):
        e = self.events
        if not self.narrates(txn):
            return
        e.step(AS, Step.CHALLENGE_STORED, flow=flow_tag(txn.state))
        e.say(AS, f"client_id={txn.client.client_id} is registered; "
                  f"redirect_uri matches exactly: {txn.redirect_uri}")
        e.show(AS, "stored code_challenge", txn.challenge,
               "method S256; kept until the code is redeemed")
        e.say(AS, f"scope={txn.scope!r}  state and nonce kept to echo back")
        e.say(AS, "shows the login page (one click per demo user)")

    def error_location(self, redirect_uri: str, err: OAuth2Error, state: str | None) -> str:
        """RFC 6749 §4.1.2.1: once the client is known, errors travel back on its redirect."""
        self.events.check(AS, f"{err.error}: {err.description} → back to the client", ok=False)
        return add_query(redirect_uri, err.redirect_query(state, self.issuer.identifier))

    # -- the forms: login, then consent (OIDC Core §3.1.2.3–3.1.2.4) ----------------------
    def form_token(self, txn: Transaction) -> str:
        return self.forms.issue(FORM_PURPOSE, txn.browser, txn.txn_id)

    def find_transaction(self, form: dict, browser: str) -> Transaction:
        """The request a login or consent form answers. Its form token must be the one
        issued to this browser for this request: a form posted from another site, or
        from another browser, is refused (CSRF)."""
        txn = self.store.transaction(form.get("txn", ""))
        if txn is None:
            raise InvalidRequest(EXPIRED)
        self.forms.check(form, FORM_PURPOSE, browser, txn.txn_id, refusal=CROSS_SITE)
        return txn

    def awaiting_consent(self, txn_id: str, browser: str) -> Transaction:
        """The consent page (a GET after the login form's 303): shown only to the browser
        that logged in to this request, until it is answered. Its form's POST is then
        checked by find_transaction (the form token), exactly as before."""
        txn = self.store.transaction(txn_id)
        if txn is None or txn.user is None:
            raise InvalidRequest(EXPIRED)
        if not browser or not hmac.compare_digest(txn.browser.encode(), browser.encode()):
            raise InvalidRequest(CROSS_SITE, status_code=403)
        return txn

    def log_in(self, txn: Transaction, username: str) -> Transaction:
        """Step 5: one click stands for a whole login at the identity provider."""
        user = DEMO_USERS.get(username)
        if user is None:
            raise InvalidRequest("Unknown demo user.")
        txn = replace(txn, user=username, auth_time=self.clock())
        self.store.replace_transaction(txn)
        if not self.narrates(txn):
            return txn
        if not txn.user_code:   # a device login's heading (Device step 4) is already told
            self.events.step(AS, Step.AUTHENTICATION, flow=flow_tag(txn.state))
        self.events.say(IDP, f"{user['connection']}: {user['name']} <{user['email']}> "
                             "authenticated (one click in this demo)")
        self.events.say(AS, f"user sub={user['sub']}; asking for consent to "
                            f"scope {txn.scope!r}")
        return txn

    def finish(self, txn: Transaction, allow: bool) -> str:
        """Consent given or refused: the URL the browser is sent back to (303)."""
        check_consent(txn, device=False)
        if self.store.take_transaction(txn.txn_id) is None:   # answered meanwhile: one code
            raise InvalidRequest(EXPIRED)
        if not allow:
            self.events.check(AS, "the user pressed Deny: redirecting with "
                                  "error=access_denied", ok=False)
            err = AccessDenied("The user denied the consent request.")
            return add_query(txn.redirect_uri, err.redirect_query(txn.state,
                                                                  self.issuer.identifier))
        if self.narrates(txn):      # a lab set-up's consent is in its one summary line
            self.events.check(AS, f"the user pressed Allow: {txn.client.client_id} may have "
                                  f"scope {txn.scope}", ok=True)
        try:
            code = self.issue_code(txn)
        except TableFull as err:   # RFC 6749 §4.1.2.1: the client hears it on its redirect
            self.events.check(AS, f"{err.error}: {err.description}", ok=False)
            return add_query(txn.redirect_uri, err.redirect_query(txn.state,
                                                                  self.issuer.identifier))
        return add_query(txn.redirect_uri, urllib.parse.urlencode(self.response(txn, code)))

    def response(self, txn: Transaction, code: str) -> dict:
        """RFC 6749 §4.1.2: the code and the client's state; RFC 9207 §2: who issued it."""
        query = {"code": code}
        if txn.state is not None:
            query["state"] = txn.state
        query["iss"] = self.issuer.identifier
        return query

    def issue_code(self, txn: Transaction) -> str:
        """A one-time code bound to the request's client, redirect_uri and challenge."""
        code, now = secrets.token_urlsafe(32), self.clock()
        record = CodeRecord(txn.client.client_id, txn.redirect_uri, txn.challenge, txn.scope,
                            txn.nonce, txn.audience, txn.user, txn.auth_time, created=now,
                            expires=now + CODE_TTL, flow=flow_tag(txn.state) or "")
        self.store.add_code(code, record)
        if self.narrates(txn):
            self.events.emit(CodeIssued(AS, code, txn.challenge, CODE_TTL))
        return code


def allowed_scope(requested: str) -> str:
    """RFC 6749 §3.3: the scopes this server knows, in order, each once; none is an error."""
    scopes = [s for s in requested.split() if s in SUPPORTED_SCOPES]
    if not scopes:
        raise InvalidScope("Request at least one of: " + " ".join(SUPPORTED_SCOPES))
    return " ".join(dict.fromkeys(scopes))
