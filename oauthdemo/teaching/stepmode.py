"""The step-through lab: a real login that pauses at every hop the app controls.

``GET /login?mode=step`` starts an ordinary login (Steps 1–3: verifier, challenge, state,
nonce, and a pending login bound to this browser) and then waits, three times:

  1. before the redirect to the authorization endpoint (RFC 6749 §4.1.1, RFC 7636 §4.3);
  2. when the callback has arrived and its state was checked, before the token request
     (RFC 6749 §4.1.3, RFC 7636 §4.5);
  3. before the call to the protected API (RFC 6750 §2.1).

At each pause the learner sees the exact request, may edit it and sends it. Nothing is
relaxed for the lab: the callback goes through the client's one ``check_callback`` (state,
this browser, iss), the token request through its ``post_token`` and ``validate_id_token``,
the API call over HTTP to the app's own strict API. Each pause is bound to this browser and
this login (``core.forms.FormTokens`` on every form); the tokens stay on the server.

A refused token request leaves the code unused (the server checks before it marks, and a
code stays single use on its own clock): restoring the original values and resending works
until the code expires, and then the page says so and offers a new login.
"""
from __future__ import annotations

import hmac
import re
import threading
import urllib.parse
from dataclasses import dataclass, field, replace

from oauthdemo.client.oidc import narrate_token_request, token_request_for_trace
from oauthdemo.client.pending import PENDING_TTL, AuthRequest, LoginResult
from oauthdemo.core.errors import DemoError, InvalidRequest, OAuth2Error, as_oauth2
from oauthdemo.core.steps import Step
from oauthdemo.core.tables import ExpiringTable
from oauthdemo.server.authorize import CODE_TTL   # RFC 6749 §4.1.2: 10 minutes at most
from oauthdemo.teaching import forensics, steppage
from oauthdemo.web import httpkit

APP = "your app"
ROUTES = (("GET", "/step"), ("POST", "/step/send"))
STEP_LOGINS_MAX = 1000         # one step-through per browser; full: a new one gets a 503
STEP_TTL = 3 * PENDING_TTL     # a pause outlives the code it holds: the page can say it expired
VALUE_MAX = 2048               # characters per edited value
FORM_PURPOSE = "step-"         # + the pause: each pause's form has a token of its own
TOKEN_FIELDS = ("code", "code_verifier", "redirect_uri", "client_id")   # what Step 7 sends
# RFC 7230 §3.2.6 field content: visible ASCII, so an edited token cannot split the header.
HEADER_VALUE = re.compile(r"[\x21-\x7e]+")


@dataclass
class Answer:
    """What the server really said to the last send."""
    status: int
    error: str = ""        # the RFC error code; "" when the request was accepted
    summary: str = ""


@dataclass(frozen=True)
class StepLogin:
    """One browser's step-through: the login, where it waits, and what was sent. Frozen: a
    change is a replace() stored in its place (StepThrough.save), so a page being drawn
    never sees a half-changed one."""
    browser: str
    auth: AuthRequest
    stage: str = "authorize"                           # a key of steppage.PAUSES
    original: dict = field(default_factory=dict)       # the app's own values at this pause
    draft: dict = field(default_factory=dict)          # what the learner sent last
    code: str = ""
    received: float = 0.0                              # when the callback brought the code
    answer: Answer | None = None
    diagnosis: object = None
    expired: bool = False
    sid: str = ""                                      # the session, once the login is done
    until: float = 0.0                                 # this pause waits until then
    # One send at a time: a double click must not redeem the code twice (which would
    # revoke the tokens the first send got, RFC 6749 §4.1.2).
    sending: threading.Lock = field(default_factory=threading.Lock, repr=False)


def diagnose(app, login: StepLogin, err: OAuth2Error, age: float):
    """The error forensics (teaching/forensics.py): what the refusal most likely means. The
    embedded server knows the truth (read-only, after the refusal); another provider's
    refusal is explained from what the app itself sent and remembers."""
    sent = {**login.draft, "code_challenge": login.auth.challenge, "code_age": age}
    truth = None
    if app.auth_server is not None and own_code(login):
        truth = app.auth_server.inspect.truth(code=login.draft.get("code"),
                                              client_id=login.draft.get("client_id"),
                                              verifier=login.draft.get("code_verifier"),
                                              redirect_uri=login.draft.get("redirect_uri"))
    return forensics.diagnose(sent, err, truth)


def own_code(login: StepLogin) -> bool:
    """Is the code sent this login's own? The server's records of any other code (someone
    else's, typed in) are not this learner's to read: exists, used, its redirect_uri and
    challenge would all be told. Those refusals are explained from what the app sent."""
    code = login.draft.get("code") or ""
    return bool(login.code and code) and hmac.compare_digest(code.encode(), login.code.encode())


class StepThrough:
    """The app's step-through logins, one per browser, bounded and expiring."""

    def __init__(self, app):
        self.app = app
        self.table = ExpiringTable(STEP_LOGINS_MAX, "step-through logins")
        self.lock = threading.Lock()

    @property
    def events(self):
        return self.app.events

    def current(self, browser: str) -> StepLogin | None:
        with self.lock:
            return self.table.get(browser, self.app.clock()) if browser else None

    def keep(self, login: StepLogin, stage: str, original: dict, **changes) -> StepLogin:
        """Move the login to its next pause; the pause waits STEP_TTL from now."""
        fresh = {"answer": None, "diagnosis": None, "expired": False, **changes}
        return self.save(replace(login, stage=stage, original=original, draft=dict(original),
                                 until=self.app.clock() + STEP_TTL, **fresh))

    def save(self, login: StepLogin) -> StepLogin:
        """A changed login (a replace()) in the place of the one it changes, same expiry."""
        with self.lock:
            self.table.add(login.browser, login, expires=login.until, now=self.app.clock())
        return login

    # == Pause 1: before the redirect (Step 3) =================================================
    def redirect_or_pause(self, req, auth: AuthRequest) -> httpkit.Response:
        """A normal login redirects now; ``mode=step`` waits on /step instead."""
        if req.query.get("mode") != "step":
            return httpkit.redirect(auth.url, 302)
        self.keep(StepLogin(auth.browser, auth), "authorize", dict(auth.trace["authorize_params"]))
        self.events.say(APP, "step-through: pauses before the redirect; the request waits "
                             "for you at /step")
        return httpkit.redirect("/step", 303)

    def send_authorize(self, login: StepLogin, values: dict) -> httpkit.Response:
        if self.app.pending.peek(login.auth.state) is None:   # expired, or its callback came
            return httpkit.redirect("/step", 303)
        self.save(replace(login, draft=values))
        params = {k: v for k, v in values.items() if v}      # an emptied field is left out
        self.narrate_edits("the authorization request", login.original, values)
        self.events.say("browser", f"303 → {self.app.client.metadata['authorization_endpoint']}?…")
        url = self.app.client.metadata["authorization_endpoint"] + "?" + \
            urllib.parse.urlencode(params)
        return httpkit.redirect(url, 303)

    # == Pause 2: the callback arrived, before the token request (Step 7) ======================
    def owns(self, state: str | None, browser: str) -> bool:
        """Is this callback the one of this browser's step-through login?"""
        login = self.current(browser)
        return bool(login and state and login.stage == "authorize" and
                    hmac.compare_digest(login.auth.state.encode(), state.encode()))

    def callback_arrived(self, query: dict, browser: str) -> httpkit.Response:
        """The client's own callback checks (error, state, this browser, iss), then a pause."""
        auth, code = self.app.client.check_callback(query, self.app.pending, browser)
        login = self.current(browser) or StepLogin(browser, auth)   # it may just have expired
        self.keep(login, "token", {"code": code, "code_verifier": auth.verifier,
                                   "redirect_uri": auth.redirect_uri,
                                   "client_id": self.app.client.provider.client_id},
                  auth=auth, code=code, received=self.app.clock())
        self.events.say(APP, "step-through: pauses before Step 7; the token request waits "
                             "for you at /step")
        return httpkit.redirect("/step", 303)

    def send_token(self, login: StepLogin, values: dict) -> httpkit.Response:
        """Step 7 as edited, through the client's one token path; Step 9 as always."""
        client, auth = self.app.client, login.auth
        data, headers = client.token_request_body(values["code"], values["redirect_uri"],
                                                  values["code_verifier"])
        data["client_id"] = values["client_id"]
        data = {k: v for k, v in data.items() if v}          # an emptied field is left out
        login = self.save(replace(login, draft=values))
        self.events.step(APP, Step.TOKEN_REQUEST, flow=auth.flow,
                         context="sent from the step-through page")
        self.narrate_edits("the token request", login.original, values)
        shown = token_request_for_trace(data, headers)
        narrate_token_request(self.events, APP, client.metadata["token_endpoint"], shown)
        auth.trace["token_request"] = shown
        try:
            tokens = client.post_token(data, headers)
            claims = client.validate_id_token(tokens.get("id_token"), auth.nonce, auth.trace,
                                              flow=auth.flow)
        except DemoError as caught:
            return self.token_refused(login, as_oauth2(caught))
        auth.trace["token_response"] = tokens
        client.narrate_tokens(tokens)
        return self.logged_in(login, LoginResult(tokens, claims, auth))

    def token_refused(self, login: StepLogin, err: OAuth2Error) -> httpkit.Response:
        """The real answer, its likely cause, and whether the code can still be used."""
        age = self.app.clock() - login.received
        found = diagnose(self.app, login, err, age)
        login = self.save(replace(
            login, answer=Answer(err.status_code, err.error, err.description), diagnosis=found,
            expired=err.error == "invalid_grant" and (age >= CODE_TTL or
                                                      found.rule == "code.expired")))
        forensics.narrate(self.events, APP, login.diagnosis)
        if login.expired:
            self.events.say(APP, f"the code arrived {int(age)} s ago: it has expired "
                                 "(RFC 6749 §4.1.2); only a new login helps")
        return httpkit.redirect("/step#answer", 303)

    def logged_in(self, login: StepLogin, result: LoginResult) -> httpkit.Response:
        session = self.app.new_session(result)
        who = result.id_claims.get("name") or result.id_claims["sub"]
        self.events.check(APP, f"logged in {who}; tokens kept on the server, the browser gets "
                               "a session cookie")
        self.keep(login, "api", {"bearer": session.access_token}, sid=session.sid,
                  answer=Answer(200, "", "Tokens issued; the ID token passed every check."))
        self.events.say(APP, "step-through: pauses before Step 10; the API call waits for you "
                             "at /step")
        return self.app.with_session_cookie(httpkit.redirect("/step#answer", 303), session)

    # == Pause 3: before the API call (Step 10) ================================================
    def send_api(self, login: StepLogin, values: dict) -> httpkit.Response:
        """RFC 6750 §2.1: the token in the Authorization header, to the app's own API."""
        token, url = values["bearer"], self.app.base_url + "/api/protected"
        if token and not HEADER_VALUE.fullmatch(token):
            raise InvalidRequest("A Bearer token is visible ASCII characters, no spaces "
                                 "(RFC 6750 §2.1).")
        self.narrate_edits("the API call", login.original, values)
        self.events.say(APP, f"GET {url} with Authorization: Bearer …")
        try:
            status, body = self.app.client.transport.get(
                url, {"Authorization": f"Bearer {token}"} if token else {})
        except DemoError as caught:
            err = as_oauth2(caught)
            status, body = err.status_code, {"error": err.error,
                                             "error_description": err.description}
        error = "" if status == 200 else str(body.get("error") or "unknown")
        self.save(replace(login, draft=values, stage="done" if status == 200 else login.stage,
                          answer=Answer(status, error, str(body.get("message") or
                                                           body.get("error_description") or ""))))
        return httpkit.redirect("/step#answer", 303)

    # == The page and the one POST =============================================================
    def handle(self, req, browser: str) -> httpkit.Response:
        """GET /step shows where this browser's login waits; POST /step/send sends it."""
        login = self.current(browser)
        if req.method != "POST":
            return self.page(login, bool(req.query.get("original")))
        req.require_same_origin()
        form = req.form()
        if login is None or not login.sending.acquire(blocking=False):
            raise InvalidRequest("No step-through login is waiting here, or its request is "
                                 "being sent already; reload /step.", status_code=409)
        try:
            return self.send(login, form, browser)
        finally:
            login.sending.release()

    def send(self, login: StepLogin, form: dict, browser: str) -> httpkit.Response:
        """The pause the form was made for, from this browser and this login, as edited."""
        if form.get("pause") != login.stage or login.stage == "done":
            raise InvalidRequest("This pause is over (the login moved on, ended or expired); "
                                 "reload /step.", status_code=409)
        self.app.forms.check(form, FORM_PURPOSE + login.stage, browser, login.auth.state,
                             refusal="Send from the step-through page itself (its form token "
                                     "is missing or stale).")
        values = edited_values(form, login.original)
        send = {"authorize": self.send_authorize, "token": self.send_token,
                "api": self.send_api}[login.stage]
        return send(login, values)

    def page(self, login: StepLogin | None, original: bool) -> httpkit.Response:
        if login is None or not self.still_on(login):
            return steppage.nothing_to_step()
        values = dict(login.original if original else login.draft)
        return steppage.pause_page(
            login.stage, target=self.target(login.stage), rows=self.rows(login.stage, values),
            values=values, answer=login.answer, diagnosis=login.diagnosis,
            expired=login.expired, form_token=self.app.forms.issue(
                FORM_PURPOSE + login.stage, login.browser, login.auth.state))

    def still_on(self, login: StepLogin) -> bool:
        """Pause 1 needs its pending login; pauses 3 and after, the session it made."""
        if login.stage == "authorize":
            return self.app.pending.peek(login.auth.state) is not None
        if login.stage in ("api", "done"):
            with self.app.lock:
                return self.app.sessions.get(login.sid, self.app.clock()) is not None
        return True

    def target(self, stage: str) -> str:
        meta = self.app.client.metadata
        return {"authorize": meta["authorization_endpoint"], "token": meta["token_endpoint"]
                }.get(stage, self.app.base_url + "/api/protected")

    @staticmethod
    def rows(stage: str, values: dict) -> list:
        if stage == "token":
            return [steppage.field_row("grant_type", "authorization_code", editable=False)] + [
                steppage.field_row(k, values[k], help_key="token_redirect_uri"
                                   if k == "redirect_uri" else "") for k in TOKEN_FIELDS]
        return [steppage.field_row(k, v) for k, v in values.items()] if stage != "done" else []

    def narrate_edits(self, what: str, original: dict, sent: dict):
        """The console says what the learner changed (names only: values may be secrets)."""
        changed = [k for k in original if sent.get(k) != original[k]]
        self.events.say(APP, f"the learner sends {what}" + (
            f", edited: {', '.join(changed)}" if changed else ", as the app built it"))


def edited_values(form: dict, original: dict) -> dict:
    """The pause's own fields, in order; anything else in the form is ignored."""
    values = {}
    for name in original:
        value = str(form.get("p_" + name, ""))
        if len(value) > VALUE_MAX:
            raise InvalidRequest(f"{name} is longer than {VALUE_MAX} characters.")
        values[name] = value
    return values
