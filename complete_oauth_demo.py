#!/usr/bin/env python3
"""The complete OAuth 2.0 + PKCE story, run for real: the client ("your app") at :8091.

Read this file top to bottom as the walkthrough; the steps are ``core.steps.Step``, the
same "Step n of 10" the console and the pages say:

  GET /                  the welcome page (once logged in: your profile)
  Steps 1–3   GET /login      the login starts: PKCE verifier + challenge, state, nonce;
                              302 to the authorization server
  Steps 4–5   (the authorization server's side: oauthdemo/server/)
  Steps 6–9   GET /callback   error? state? iss? code → token exchange → verify the ID token
  Step 10     GET /api/protected   a protected API that accepts the session or a Bearer token

RFC 6749 (OAuth 2.0), RFC 7636 (PKCE), OpenID Connect Core 1.0, RFC 9207, RFC 6750.
With nothing configured it starts its own authorization server (an Auth0 stand-in on
:8092); with AUTH0_* or OIDC_* settings it talks to the real thing. Standard library only.

What happens is told as events (``core.events``) on ``app.events``: the console narrator
is one subscriber, a test's recorder another.
"""
from __future__ import annotations

import json
import secrets
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from oauthdemo.backend import routes as backend
from oauthdemo.web import httpkit
from oauthdemo import cli
from oauthdemo.teaching import walkthrough
from oauthdemo.teaching.httplog import HttpLog
from oauthdemo.teaching.details import api_field_rows, profile_claim_rows
from oauthdemo.teaching.routes import TeachingRoutes
from oauthdemo.server.authorize import AS as AS_ACTOR
from oauthdemo.server.handler import BROWSER_COOKIE as AS_BROWSER_COOKIE
from oauthdemo.teaching import stepmode
from oauthdemo.teaching import forensics
from oauthdemo.core.events import EventBus
from oauthdemo.core.forms import FormTokens
from oauthdemo.core.loopback import LOOPBACK_HOSTS
from oauthdemo.core.errors import DemoError, InvalidToken, OAuth2Error, as_oauth2
from oauthdemo.core.steps import THE_TEN, Step
from oauthdemo.web.html import Markup, fill, partial
from oauthdemo.web.httpkit import Request, Response, json_response, render
from oauthdemo.client.oidc import OIDCClient, new_state
from oauthdemo.client.pending import PENDING_TTL, PendingLogins
from oauthdemo.client.explain import check_status, hint_for, human_duration
from oauthdemo.core.tables import ExpiringTable

APP = "your app"                     # the actor this file speaks as
SESSION_COOKIE = "demo_session"      # which logged-in session this browser holds
BROWSER_COOKIE = "demo_browser"      # binds a pending login (its state) to this browser
BROWSER_COOKIE_AGE = PENDING_TTL     # as long as the login it binds can wait for its callback
SESSIONS_MAX = 1000                  # full: a new login gets a 503; no live session is pushed out
SESSION_TTL = 8 * 3600               # idle time; each use of the session extends it
LOGOUT_FORM = "logout"               # the purpose of the logout form's token (core.forms)
# The home page's "What you will see": the ten steps, from the one table (core.steps).
STEP_LIST = Markup("").join(Markup('<li><span class="step-label">{}</span> {}</li>').format(
    step.label, step.title) for step in THE_TEN)
LOGGED_OUT_COOKIE = "demo_logged_out"   # set by POST /logout: the page it ends on says so
API_VIEW = "/api/protected/view"   # Step 10's answer as a page, for a browser
NO_SESSION_TAG = "Bearer token, no session"   # Step 10 for curl or a lab: no login's flow

API_CHECK_WORDS = {"local_jwt": "checked locally",
                   "authorization_server": "asked the authorization server"}

# Errors that are not a refused login get a heading of their own (a refused login gets
# walkthrough.refused_page); anything else keeps the generic one.
ERROR_HEADINGS = {
    "not_found": "There is no page at this address",
    "temporarily_unavailable": "The demo is busy; try again in a moment",
    "invalid_token": "The access token was not accepted",
}


def app_error_page(err: OAuth2Error, hint: str = "") -> Response:
    """The app's error page: the RFC code in ``data-error``, and the app's navigation."""
    heading = ERROR_HEADINGS.get(err.error, httpkit.GENERIC_ERROR_TITLE)
    card = fill("error.html", heading=heading, error=err.error, description=err.description,
                hint=hint or hint_for(err.error, err.description))
    return render("app_error.html", title=heading, status=err.status_code, page=card)


def api_view(body: dict) -> Response:
    """Step 10's JSON answer as a readable page: one row per field, then the JSON itself."""
    rows = api_field_rows(flat_fields(body))   # expires_at as a date; validated_by explained
    return render("api_view.html", title="The protected API's answer",
                  step=Step.PROTECTED_API.label, message=body.get("message", ""), rows=rows,
                  json=json.dumps(body, indent=2, ensure_ascii=False))


def flat_fields(body: dict, prefix: str = ""):
    """("user.name", "Alice") for each leaf of the answer, in order."""
    for name, value in body.items():
        if isinstance(value, dict):
            yield from flat_fields(value, f"{prefix}{name}.")
        else:
            yield prefix + name, "null" if value is None else value


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

    @property
    def access_token(self) -> str:
        return self.tokens["access_token"]


class DemoApp:
    """The client's state, on the server instance: pending logins and sessions.

    ``settings`` are the program's settings (the mounted backend reads its BACKEND_* values
    from them); ``base_url`` is where the app is served, known once its port is bound.
    """

    def __init__(self, client: OIDCClient, *, scope: str, events: EventBus | None = None,
                 clock=time.time, auth_server=None, base_url: str = "", settings=None):
        self.client = client
        self.scope = scope
        self.events = events or EventBus()
        self.clock = clock
        self.auth_server = auth_server      # the embedded server, when it is in use
        self.base_url = base_url
        self.settings = settings
        self.pending = PendingLogins(clock=clock)
        self.sessions = ExpiringTable(SESSIONS_MAX, "sessions")
        self.lock = threading.Lock()
        self.flows = walkthrough.LatestFlows(clock=clock)   # each browser's latest login
        self.http_log = self.events.subscribe(HttpLog(   # every hop of it, both channels
            app_actor=APP, browser_cookie=BROWSER_COOKIE, server_actor=AS_ACTOR,
            server_cookie=AS_BROWSER_COOKIE, clock=clock))
        self.used_states = forensics.UsedStates()   # finished logins' states: a stale tab
        self.forms = FormTokens()                            # CSRF tokens of our forms
        self._lab = None                                     # the attack lab: see lab
        self._mistakes = None                                # the mistakes gallery
        self._lab_lock = threading.Lock()
        self.backend = backend.mount(self)                   # the mobile backend, built on first use
        self.steps = stepmode.StepThrough(self)              # the step-through lab's logins

    @property
    def lab(self):
        """The attack lab (its codes and results), made on first use with its module and
        the scripted browser it drives: the demo's first page needs none of them."""
        with self._lab_lock:
            if self._lab is None:
                from oauthdemo.teaching.attacks import AttackLab
                self._lab = AttackLab(self)
            return self._lab

    @property
    def mistakes(self):
        """The mistakes gallery (each browser's latest results), made on first use."""
        with self._lab_lock:
            if self._mistakes is None:
                from oauthdemo.teaching.mistakes import MistakesGallery
                self._mistakes = MistakesGallery(self)
            return self._mistakes

    def forensic(self, req: Request, err: OAuth2Error) -> Markup:
        """Why a login was refused, for its error page (teaching.forensics)."""
        return forensics.refused_login(self, req.query, browser_of(req), err)

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag when the app is served over https."""
        return self.base_url.startswith("https://")

    # -- the two cookies: which browser (demo_browser), which session (demo_session) ----------
    def with_browser_cookie(self, resp: Response, browser: str, max_age: int) -> Response:
        return resp.set_cookie(BROWSER_COOKIE, browser, max_age=max_age,
                               secure=self.secure_cookies)

    def with_session_cookie(self, resp: Response, session: Session) -> Response:
        # No Max-Age: the cookie lasts while the browser is open, and the server ends the
        # session after SESSION_TTL without use (each use extends it).
        return resp.set_cookie(SESSION_COOKIE, session.sid, secure=self.secure_cookies)

    def new_session(self, result) -> Session:
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), result.tokens, result.id_claims,
                          result.request.trace, now)
        with self.lock:
            self.sessions.add(session.sid, session, expires=now + SESSION_TTL, now=now)
        self.used_states.add(result.request.state)   # a stale tab's replay, explained later
        return session

    def session_for(self, req: Request) -> Session | None:
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

    def redirect_uri_for(self, req: Request) -> str:
        """The callback on the host the browser is using, so our cookies come back with it."""
        host = req.headers.get("Host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name in LOOPBACK_HOSTS and host.endswith(":" + self.base_url.rsplit(":", 1)[1]):
            return f"http://{host}/callback"
        return self.base_url + "/callback"


def browser_of(req: Request) -> str:
    """This browser's binding id (demo_browser), or "" if it has none of ours."""
    return req.browser_id(BROWSER_COOKIE)


def browser_or_new(req: Request) -> str:
    return browser_of(req) or httpkit.new_browser_id()


class LogoutRoutes:
    """Logging out, mixed into the app's handler: the form, and the POST that ends the
    session here and sends the browser on to the provider's logout (OIDC RP-Initiated)."""

    ROUTES = {("GET", "/logout"): "logout_page", ("POST", "/logout"): "logout"}

    def logout_page(self, req):
        """The navigation's "Log out": the form (with its token) when there is a session."""
        session = self.app.session_for(req)
        if session is None:
            return render("logout.html", title="Log out", heading="You are not logged in",
                          lede="There is nothing to log out of.", card_title="Log in",
                          action=partial("logout_none.html"))
        return render("logout.html", title="Log out", heading="Log out of the demo",
                      lede=f"Logged in as {session.user['name'] or session.user['sub']}.",
                      card_title="End your session",
                      action=partial("logout_form.html", form_token=self.app.forms.issue(
                          LOGOUT_FORM, session.sid)))

    def logout(self, req):
        req.require_same_origin()   # another localhost page must not log you out …
        session = self.app.session_for(req)
        if session:   # … nor a same-site form: it cannot know this session's form token
            self.app.forms.check(req.form(), LOGOUT_FORM, session.sid,
                                 refusal="Log out from the app's own page (its form token is "
                                         "missing or stale).")
        self.app.end_session(req.cookies.get(SESSION_COOKIE, ""))
        self.app.flows.forget(browser_of(req))
        self.events.say(APP, "session deleted; sending the browser to the provider's logout")
        target = self.app.client.logout_url(self.app.base_url + "/") or "/"
        resp = httpkit.redirect(target, 303).delete_cookie(SESSION_COOKIE)
        return resp.set_cookie(LOGGED_OUT_COOKIE, "1", max_age=600, secure=self.app.secure_cookies)


class DemoHandler(TeachingRoutes, LogoutRoutes, httpkit.BaseHandler):
    """The app's routes. Each handler is one step of the walkthrough, named for it; the
    teaching pages (teaching.routes) and logging out (LogoutRoutes) are mixed in.

    The mobile app's backend (/auth/*, /api/me) is mounted here too: the app holds its
    routes (oauthdemo/backend/routes.py) and mobile_backend hands those paths to them.
    """

    routes = {
        ("GET", "/"): "welcome",
        ("GET", "/login"): "step1_login",
        ("GET", "/callback"): "step6_callback",
        ("GET", "/api/protected"): "step10_protected_api",
        ("GET", API_VIEW): "step10_protected_api",
        **TeachingRoutes.ROUTES, **LogoutRoutes.ROUTES,
        **dict.fromkeys(backend.BackendRoutes.ROUTES, "mobile_backend"),
    }
    json_paths = ("/api/", "/auth/")
    actor = APP   # who answers, in the app's HTTP log (teaching.httplog)
    browser_of, browser_or_new = staticmethod(browser_of), staticmethod(browser_or_new)

    @property
    def app(self) -> DemoApp:
        return self.server.app

    @property
    def events(self) -> EventBus:
        return self.app.events

    def mobile_backend(self, req):
        return self.app.backend.handle(req)

    def wants_json(self, target: str) -> bool:
        """APIs answer errors in JSON; Step 10's page for a browser answers with a page."""
        path = urllib.parse.urlsplit(target or "").path
        return super().wants_json(target) and path != API_VIEW

    def render_error(self, err: OAuth2Error, target: str) -> Response:
        resp = super().render_error(err, target)   # its status and headers (Allow, ...)
        if not self.wants_json(target):
            resp.body = app_error_page(err).body
        return resp

    def extra_headers(self, resp):
        # The logout form posts here and is redirected on to the provider's logout page.
        return httpkit.security_headers(f"'self' {httpkit.origin_of(self.app.client.provider.issuer)}")

    # == Before Step 1: the welcome page (or, logged in, the profile) ==========================
    def welcome(self, req):
        session = self.app.session_for(req)
        if session is None:
            # A plain line, no heading: a visit is no login (Step 1 is the click on Log in).
            self.events.say("browser", "GET / — the welcome page; nothing secret exists yet")
            return self.home_page(bool(req.cookies.get(LOGGED_OUT_COOKIE)))
        self.events.say("browser", "GET / with the session cookie")
        self.events.say(APP, f"shows the profile of {session.user['name'] or session.user['sub']} "
                             "from the verified ID token")
        return self.profile_page(session)

    def home_page(self, logged_out: bool) -> Response:
        """The welcome page; just after a logout (its cookie), it says so, once."""
        page = render("home.html", title="OAuth 2.0 + PKCE, step by step",
                      notice=partial("logged_out_notice.html") if logged_out else "",
                      step=Step.LOGIN.label, steps=STEP_LIST,
                      provider=self.app.client.provider.label,
                      issuer=self.app.client.provider.issuer)
        return page.delete_cookie(LOGGED_OUT_COOKIE) if logged_out else page

    def profile_page(self, session: Session) -> Response:
        claims, now = session.id_claims, self.app.clock()
        rows = profile_claim_rows(claims, now)   # marked: checked (and why) or only present
        expires = session.tokens.get("expires_in")
        return render("profile.html", title="You are logged in",
                      step=Step.ID_TOKEN.label, api_step=Step.PROTECTED_API.label,
                      name=claims.get("name") or claims.get("sub"), email=claims.get("email", ""),
                      claims=rows, access_token=session.access_token,
                      expires=human_duration(expires) if expires else "unknown",
                      api_url=self.app.base_url + "/api/protected",
                      has_refresh="yes" if session.tokens.get("refresh_token") else "no",
                      form_token=self.app.forms.issue(LOGOUT_FORM, session.sid))

    # == Steps 1–3: the login starts; PKCE secrets; the redirect ===============================
    def step1_login(self, req):
        browser, state = browser_or_new(req), new_state()   # Step 1 carries the login's tag
        self.events.step(APP, Step.LOGIN, flow=state[:6],
                         context="the user clicks “Start OAuth Login (PKCE)”")
        self.events.say("browser", "GET /login")
        auth = self.app.client.begin(self.app.redirect_uri_for(req), browser=browser,
                                     scope=self.app.scope, state=state)
        self.app.pending.add(auth)
        self.app.flows.remember(browser, auth)
        if req.query.get("intercept"):   # the attack lab's link: this login's code goes there
            self.app.lab.intercept(auth.state, req.query["intercept"])
        resp = self.app.steps.redirect_or_pause(req, auth)   # ?mode=step: pause at /step first
        return self.app.with_browser_cookie(resp, browser, BROWSER_COOKIE_AGE)

    # == Steps 6–9: the callback, the exchange, the ID token ==================================
    def step6_callback(self, req):
        browser = browser_of(req)
        try:
            if self.app.lab.intercepts(req.query.get("state")):
                self.app.lab.keep_code(req.query, browser)   # state checked; code not redeemed
                return httpkit.redirect("/attacks#codes", 303)
            if self.app.steps.owns(req.query.get("state"), browser):   # the step-through lab
                return self.app.steps.callback_arrived(req.query, browser)
            result = self.app.client.complete(req.query, self.app.pending, browser)
        except DemoError as caught:
            return self.login_refused(as_oauth2(caught))
        return self.logged_in(result)

    def login_refused(self, err: OAuth2Error) -> Response:
        self.events.check(APP, f"login refused: {err.error}: {err.description}", ok=False)
        req = Request(self, self.command, *self.split_target())   # this callback, again
        step = self.app.flows.refused(browser_of(req), req.query.get("state"), err)
        return walkthrough.refused_page(err, step, hint_for(err.error, err.description),
                                        self.app.forensic(req, err))

    def logged_in(self, result) -> Response:
        session = self.app.new_session(result)
        who = result.id_claims.get("name") or result.id_claims["sub"]
        self.events.check(APP, f"logged in {who}; tokens kept on the server, the browser gets "
                               "a session cookie")
        resp = httpkit.redirect("/", 303)   # 303: a reload of the next page cannot resend the code
        return self.app.with_session_cookie(resp, session)

    # == Step 10: the protected API ===========================================================
    def step10_protected_api(self, req):
        session = self.app.session_for(req)
        self.events.step(APP, Step.PROTECTED_API, flow=session.trace.get("flow", "")
                         if session else NO_SESSION_TAG)
        token = self.presented_token(req, session)
        checked = self.check_access_token(token, session)
        self.events.check(APP, f"access token accepted for sub={checked['sub']}")
        body = self.protected_body(checked, session, token)
        return api_view(body) if req.path == API_VIEW else json_response(body)

    def presented_token(self, req: Request, session: Session | None) -> str | None:
        """RFC 6750 §2.1: a Bearer header wins; a browser's session lends its own token."""
        bearer = req.bearer_token()
        if bearer:
            self.events.say(APP, "Authorization: Bearer …")
            return bearer
        self.events.say(APP, "session cookie → the session's access token" if session
                        else "no token at all")
        return session.access_token if session else None

    def check_access_token(self, token: str | None, session: Session | None) -> dict:
        try:
            checked = self.app.client.validate_access_token(token)
        except DemoError as caught:
            err = as_oauth2(caught)
            self.report_api_checks(session, token, err.details.get("checks"))
            self.events.check(APP, f"{err.status_code} {err.error}: {err.description}", ok=False)
            if err.status_code >= 500 or isinstance(err, InvalidToken):
                if err is caught:
                    raise           # a provider fault is not the token's (no 401)
                raise err from caught
            raise InvalidToken(err.description) from caught
        self.report_api_checks(session, token, checked["checks"])
        return checked

    def report_api_checks(self, session: Session | None, token: str | None, checks):
        """What the local JWT check and the authorization server each said, on the console and
        (for the session's own token) in the walkthrough's Step 10."""
        for name, said in (checks or {}).items():
            line, status = f"{API_CHECK_WORDS[name]}: {said}", check_status(said)
            if status == "not_checked":
                self.events.say(APP, line)
            else:
                self.events.check(APP, line, ok=(status == "passed"))
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
        scope = checked["scope"] or (session.tokens.get("scope") if session else None)
        return {"message": f"Hello {user.get('name') or user['sub']}: this API accepted your "
                           "access token.",
                "user": user, "scope": scope, "expires_at": expires_at,
                "validated_by": checked["how"], "checks": checked["checks"]}

    def user_from_provider(self, checked: dict, token: str) -> dict:
        info = checked["claims"] if checked["how"] == "userinfo" else None
        if info is None:
            try:
                info = self.app.client.userinfo(token)
            except DemoError:
                info = {}
        return {"sub": checked["sub"], "name": info.get("name"), "email": info.get("email")}


def main(argv=None) -> int:
    return cli.main(argv, DemoApp, DemoHandler)


if __name__ == "__main__":
    sys.exit(main())
