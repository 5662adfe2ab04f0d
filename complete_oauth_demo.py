#!/usr/bin/env python3
"""The complete OAuth 2.0 + PKCE story, run for real: the client ("your app") at :8091.

Read this file top to bottom as the walkthrough:

  Chapter 1   GET /           the welcome page
  Chapter 2–3 GET /login      PKCE verifier + challenge, state, nonce; 302 to the server
  Chapter 4–5 (the authorization server's side: oauthdemo/authserver.py)
  Chapter 6–9 GET /callback   error? state? iss? code → token exchange → verify ID token
  Chapter 10  GET /api/protected   a protected API that accepts the session or a Bearer token

RFC 6749 (OAuth 2.0), RFC 7636 (PKCE), OpenID Connect Core 1.0, RFC 9207, RFC 6750.
With nothing configured it starts its own authorization server (an Auth0 stand-in on
:8092); with AUTH0_* or OIDC_* settings it talks to the real thing. Standard library only.
"""
from __future__ import annotations

import secrets
import sys
import threading
import time
from dataclasses import dataclass, field

from oauthdemo.teaching import attacks
from oauthdemo.backend import service as backend
from oauthdemo.web import httpkit
from oauthdemo import cli
from oauthdemo.teaching import walkthrough
from oauthdemo.core.forms import FormTokens
from oauthdemo.core.loopback import LOOPBACK_HOSTS
from oauthdemo.core.errors import DemoError, InvalidToken, as_oauth2
from oauthdemo.web.html import Markup, esc
from oauthdemo.web.httpkit import Response, json_response, render
from oauthdemo.client.oidc import (OIDCClient, PendingLogins, check_status, describe_claim,
                                   human_duration)
from oauthdemo.core.tables import ExpiringTable

SESSION_COOKIE = "demo_session"      # which logged-in session this browser holds
BROWSER_COOKIE = "demo_browser"      # binds a pending login (its state) to this browser
SESSIONS_MAX = 1000                  # full: a new login gets a 503; no live session is pushed out
SESSION_TTL = 8 * 3600               # idle time; each use of the session extends it
LOGOUT_FORM = "logout"               # the purpose of the logout form's token (core.forms)

API_CHECK_WORDS = {"local_jwt": "checked locally",
                   "authorization_server": "asked the authorization server"}

ERROR_HINTS = {
    "access_denied": "You (or the server) pressed Deny. Nothing was shared; start again "
                     "whenever you like.",
    "invalid_state": "State protects against login CSRF: a callback is accepted only once, "
                     "only in the browser that started the login, and only for 10 minutes.",
    "invalid_grant": "The code was refused: it may have been used already, expired, or the "
                     "PKCE verifier did not match the challenge.",
    "invalid_request": "Check that the redirect URI registered with the provider is exactly "
                       "this app's /callback (scheme, host, port and path).",
}


@dataclass
class Session:
    """A logged-in browser: the tokens stay here on the server, never in a URL or page JS."""
    sid: str
    tokens: dict
    id_claims: dict
    trace: dict
    created: float = field(default_factory=time.time)

    @property
    def user(self) -> dict:
        c = self.id_claims
        return {"sub": c.get("sub"), "name": c.get("name"), "email": c.get("email")}


class DemoApp:
    """The client's state, on the server instance: pending logins and sessions."""

    def __init__(self, client: OIDCClient, *, scope: str, narrator, clock=time.time,
                 auth_server=None):
        self.client = client
        self.scope = scope
        self.narrator = narrator
        self.clock = clock
        self.auth_server = auth_server      # the embedded server, when it is in use
        self.pending = PendingLogins(clock=clock)
        self.sessions = ExpiringTable(SESSIONS_MAX, "sessions")
        self.lock = threading.Lock()
        self.base_url = ""
        self.flows = walkthrough.LatestFlows(clock=clock)   # each browser's latest login
        self.forms = FormTokens()                            # CSRF tokens of our forms
        self.lab = attacks.AttackLab(self)                   # the attack lab's codes, results

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag when the app is served over https."""
        return self.base_url.startswith("https://")

    def new_session(self, result) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), result.tokens, result.id_claims,
                          result.request.trace, now)
        with self.lock:
            self.sessions.add(session.sid, session, expires=now + SESSION_TTL, now=now)
        return session

    def session_for(self, req) -> Session | None:
        """The live session of this browser's cookie; using it keeps it alive."""
        sid, now = req.cookies.get(SESSION_COOKIE, ""), self.clock()
        with self.lock:
            session = self.sessions.get(sid, now)
            if session is not None:
                self.sessions.extend(sid, now + SESSION_TTL)
        return session

    def end_session(self, sid: str) -> Session | None:
        with self.lock:
            return self.sessions.pop(sid, self.clock())

    def redirect_uri_for(self, req) -> str:
        """The callback on the host the browser is using, so our cookies come back with it."""
        host = req.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name in LOOPBACK_HOSTS and host.endswith(":" + self.base_url.rsplit(":", 1)[1]):
            return f"http://{host}/callback"
        return self.base_url + "/callback"


class DemoHandler(backend.BackendRoutes, httpkit.BaseHandler):
    """The app's routes. Each handler is one chapter of the walkthrough.

    The mobile app's backend (/auth/*, /api/me) is mounted here too: oauthdemo/backend.py.
    """

    routes = {
        ("GET", "/"): "chapter1_home",
        ("GET", "/login"): "chapter2_login",
        ("GET", "/callback"): "chapter6_callback",
        ("GET", "/api/protected"): "chapter10_protected_api",
        ("POST", "/logout"): "logout",
        ("GET", "/walkthrough"): "walkthrough_page",
        ("GET", "/attacks"): "attack_lab_page",
        ("POST", "/attacks/run"): "attack_lab_run",
        **backend.BackendRoutes.backend_routes,
    }
    json_paths = ("/api/", "/auth/")

    @property
    def app(self) -> DemoApp:
        return self.server.app

    def extra_headers(self, resp):
        # The logout form posts here and is redirected on to the provider's logout page.
        return httpkit.security_headers(f"'self' {httpkit.origin_of(self.app.client.provider.issuer)}")

    # == Chapter 1: the welcome page ==========================================================
    def chapter1_home(self, req):
        session = self.app.session_for(req)
        n = self.app.narrator
        if session is None:
            n.step(1, "Home")
            n.say("browser", "GET / — the user opens the app")
            return render("home.html", title="OAuth 2.0 + PKCE, step by step",
                          provider=self.app.client.provider.label,
                          issuer=self.app.client.provider.issuer)
        n.say("browser", "GET / with the session cookie")
        n.say("your app", f"shows the profile of {session.user['name'] or session.user['sub']} "
                          "from the verified ID token")
        return self.profile_page(session)

    def profile_page(self, session: Session) -> Response:
        claims = session.id_claims
        now = self.app.clock()
        rows = Markup("".join(f"<tr><th>{esc(k)}</th><td><code class=\"wrap\">"
                              f"{esc(describe_claim(k, v, now))}</code></td></tr>"
                              for k, v in claims.items()))
        expires = session.tokens.get("expires_in")
        return render("profile.html", title="You are logged in",
                      name=claims.get("name") or claims.get("sub"), email=claims.get("email", ""),
                      claims=rows, access_token=session.tokens["access_token"],
                      expires=human_duration(expires) if expires else "unknown",
                      api_url=self.app.base_url + "/api/protected",
                      has_refresh="yes" if session.tokens.get("refresh_token") else "no",
                      form_token=self.app.forms.issue(LOGOUT_FORM, session.sid))

    # == Chapters 2–3: PKCE secrets, then the redirect ========================================
    def chapter2_login(self, req):
        browser = req.browser_id(BROWSER_COOKIE) or httpkit.new_browser_id()
        n = self.app.narrator
        n.step(1, "The user clicks “Start OAuth Login (PKCE)”")
        n.say("browser", "GET /login")
        auth = self.app.client.begin(self.app.redirect_uri_for(req), browser=browser,
                                     scope=self.app.scope)
        self.app.pending.add(auth)
        self.app.flows.remember(browser, auth)
        if req.query.get("intercept") == attacks.INTERCEPT_FLAG:
            self.app.lab.intercept(auth.state)   # this login's code goes to the attack lab
        resp = httpkit.redirect(auth.url, 302)
        return resp.set_cookie(BROWSER_COOKIE, browser, max_age=600,
                               secure=self.app.secure_cookies)

    # == Chapters 6–9: the callback, the exchange, the ID token ===============================
    def chapter6_callback(self, req):
        browser = req.browser_id(BROWSER_COOKIE)
        try:
            if self.app.lab.intercepts(req.query.get("state")):
                self.app.lab.keep_code(req.query, browser)   # state checked; code not redeemed
                return httpkit.redirect("/attacks#codes", 303)
            result = self.app.client.complete(req.query, self.app.pending, browser)
        except DemoError as caught:
            err = as_oauth2(caught)
            self.app.narrator.fail("your app", f"login refused: {err.error}: {err.description}")
            return httpkit.error_page(err, ERROR_HINTS.get(err.error, ""))
        session = self.app.new_session(result)
        self.app.narrator.ok("your app", f"logged in {result.id_claims.get('name') or result.id_claims['sub']}"
                                         "; tokens kept on the server, the browser gets a "
                                         "session cookie")
        resp = httpkit.redirect("/", 303)   # 303: a reload of the next page cannot resend the code
        # No Max-Age: the cookie lasts while the browser is open, and the server ends the
        # session after SESSION_TTL without use (each use extends it).
        return resp.set_cookie(SESSION_COOKIE, session.sid, secure=self.app.secure_cookies)

    # == Chapter 10: the protected API ========================================================
    def chapter10_protected_api(self, req):
        n = self.app.narrator
        n.step(10, "The protected API call")
        session = self.app.session_for(req)
        bearer = req.bearer_token()
        token = bearer or (session.tokens["access_token"] if session else None)
        n.say("your app", "Authorization: Bearer …" if bearer else
              ("session cookie → the session's access token" if session else "no token at all"))
        try:
            checked = self.app.client.validate_access_token(token)
        except DemoError as caught:
            err = as_oauth2(caught)
            self.report_api_checks(session, token, err.details.get("checks"))
            n.fail("your app", f"{err.status_code} {err.error}: {err.description}")
            if err.status_code >= 500 or isinstance(err, InvalidToken):
                raise err from caught   # a provider fault is not the token's (no 401)
            raise InvalidToken(err.description) from caught
        self.report_api_checks(session, token, checked["checks"])
        n.ok("your app", f"access token accepted for sub={checked['sub']}")
        return json_response(self.protected_body(checked, session, token))

    def report_api_checks(self, session: Session | None, token: str | None, checks):
        """What the local JWT check and the authorization server each said, on the console and
        (for the session's own token) in the walkthrough's Step 10."""
        for name, said in (checks or {}).items():
            status = check_status(said)
            narrate = {"passed": self.app.narrator.ok, "failed": self.app.narrator.fail,
                       "not_checked": self.app.narrator.say}[status]
            narrate("your app", f"{API_CHECK_WORDS[name]}: {said}")
        if session is not None and checks and token == session.tokens.get("access_token"):
            session.trace["api_checks"] = dict(checks)

    def protected_body(self, checked: dict, session: Session | None, token: str) -> dict:
        if session is not None and session.user["sub"] == checked["sub"]:
            user = session.user
        else:
            user = self.user_from_provider(checked, token)
        expires_at = checked["exp"]
        if expires_at is None and session is not None and session.tokens.get("expires_in"):
            expires_at = int(session.created + int(session.tokens["expires_in"]))
        return {"message": f"Hello {user.get('name') or user['sub']}: this API accepted your "
                           "access token.",
                "user": user, "scope": checked["scope"] or (session.tokens.get("scope") if session else None),
                "expires_at": expires_at, "validated_by": checked["how"],
                "checks": checked["checks"]}

    def user_from_provider(self, checked: dict, token: str) -> dict:
        info = checked["claims"] if checked["how"] == "userinfo" else None
        if info is None:
            try:
                info = self.app.client.userinfo(token)
            except DemoError:
                info = {}
        return {"sub": checked["sub"], "name": info.get("name"), "email": info.get("email")}

    # == The teaching pages: the flow as a picture, and the attack lab ========================
    def walkthrough_page(self, req):
        return walkthrough.walkthrough_page(self.app, req.browser_id(BROWSER_COOKIE),
                                            self.app.session_for(req))

    def attack_lab_page(self, req):
        browser = req.browser_id(BROWSER_COOKIE) or httpkit.new_browser_id()
        page = walkthrough.attack_lab_page(self.app, browser)
        return page.set_cookie(BROWSER_COOKIE, browser, max_age=attacks.LAB_COOKIE_AGE,
                               secure=self.app.secure_cookies)

    def attack_lab_run(self, req):
        req.require_same_origin()
        browser, form = req.browser_id(BROWSER_COOKIE), req.form()
        self.app.lab.check_post(browser, form)
        session = self.app.session_for(req)
        fragment = self.app.lab.run_from_form(form, browser, session.tokens if session else None)
        return httpkit.redirect(f"/attacks#{fragment}", 303)

    # == Logging out ===========================================================================
    def logout(self, req):
        req.require_same_origin()   # another localhost page must not log you out …
        session = self.app.session_for(req)
        if session:   # … nor a same-site form: it cannot know this session's form token
            self.app.forms.check(req.form(), LOGOUT_FORM, session.sid,
                                 refusal="Log out from the app's own page (its form token is "
                                         "missing or stale).")
        self.app.end_session(req.cookies.get(SESSION_COOKIE, ""))
        self.app.flows.forget(req.browser_id(BROWSER_COOKIE))
        self.app.narrator.say("your app", "session deleted; sending the browser to the "
                                          "provider's logout")
        target = self.app.client.logout_url(self.app.base_url + "/") or "/"
        return httpkit.redirect(target, 303).delete_cookie(SESSION_COOKIE)


def main(argv=None) -> int:
    return cli.main(argv, DemoApp, DemoHandler)


if __name__ == "__main__":
    sys.exit(main())
