"""The teaching pages: this browser's own login as a sequence diagram, and the attack lab.

The walkthrough page draws RFC 6749 §4.1 (the authorization code grant) with RFC 7636
(PKCE), RFC 9207 (iss) and OpenID Connect Core 1.0 §3.1.3.7 (ID token validation) as
ten numbered arrows, the same ten steps the console narrates (``core.steps.Step``). Each
arrow opens that step with the real values of this browser's latest login: they come from
the login's ``trace`` (filled by oidc as each step runs) and, when the embedded server is
in use, from that server's own records (the challenge it stored, its PKCE check).

This module finds the login a page is about (``FlowView``) and assembles the two pages;
``teaching.diagram`` draws the arrows, ``teaching.details`` the step panels and
``teaching.labpage`` the attack cards. Nothing here checks anything; it shows what the
checks did. Every value is escaped (``web.html.Markup``); the pages need no inline script
or style, so they work under the strict CSP.
"""
from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property

from oauthdemo.core.steps import STEP_COUNT, Step
from oauthdemo.core.tables import BoundedTable
from oauthdemo.web.html import Markup, partial
from oauthdemo.web.httpkit import Response, render

FLOWS_MAX = 1000          # browsers whose latest login is remembered (oldest evicted)
FLOW_TTL = 8 * 3600       # no longer than a session lives


class LatestFlows:
    """Each browser's most recent login (its AuthRequest), for /walkthrough.

    Keyed by the demo_browser cookie, so a page only ever shows its own browser's flow;
    bounded and expiring, because any visitor can add an entry by opening /login.
    """

    def __init__(self, limit: int = FLOWS_MAX, ttl: int = FLOW_TTL, clock=time.time):
        self.ttl, self.clock = ttl, clock
        self.table = BoundedTable(limit)
        self.lock = threading.Lock()

    def remember(self, browser: str, auth):
        with self.lock:
            self.table.pop(browser, None)     # a new login moves this browser to the newest end
            self.table.put(browser, auth)

    def forget(self, browser: str):
        """On logout: the trace holds the tokens, and they must not outlive the session."""
        with self.lock:
            self.table.pop(browser, None)

    def refused(self, browser: str, state: str | None, err) -> int:
        """The app refused a callback (``err``, an OAuth2Error): note on this browser's latest
        login where and why, for the walkthrough to draw. Returns that step's number.

        ``own``: the callback carried this login's own state (the server did Steps 4–5 for
        it). A finished login is left as it was (a replayed callback does not undo it), and
        a refusal of this login's own callback is not replaced by a stranger's."""
        auth = self.latest(browser)
        if auth is None:
            return Step.CALLBACK.number
        trace = auth.trace
        step = failed_step(trace, err.error)
        own = bool(state) and hmac.compare_digest(state.encode(), auth.state.encode())
        earlier = trace.get("failure")
        if "id_claims" not in trace and not (earlier and earlier["own"] and not own):
            trace["failure"] = {"step": step, "error": err.error, "own": own,
                                "description": err.description or ""}
        return step

    def latest(self, browser: str):
        with self.lock:
            auth = self.table.get(browser) if browser else None
        if auth is not None and self.clock() - auth.created > self.ttl:
            return None
        return auth


@dataclass
class FlowView:
    """What the page knows about one login: its trace, and what the servers recorded.
    The server's records are read once per page, the first time a panel asks."""
    trace: dict
    state: str
    tokens: dict | None      # the live session's tokens (None once logged out)
    now: float
    auth: object | None      # the embedded AuthorizationServer, when in use
    metadata: dict
    http_steps: dict = field(default_factory=dict)   # step number → its hops in the HTTP log

    @property
    def params(self) -> dict:
        return self.trace.get("authorize_params", {})

    @cached_property
    def transaction(self):
        return server_transaction(self)

    @cached_property
    def code_record(self):
        return server_code_record(self)

    @cached_property
    def pkce(self) -> dict | None:
        return pkce_entry(self)

    @cached_property
    def base(self) -> frozenset:
        return reached_steps(self)

    @cached_property
    def failure(self) -> dict | None:
        """Where the app refused this login ({step, error, own, description}), unless the
        login has since passed that step (a stray callback refused mid-login)."""
        failure = self.trace.get("failure")
        return failure if failure and failure["step"] not in self.base else None

    @cached_property
    def reached(self) -> frozenset:
        """The steps this login went through; refused at its own callback or later, every
        step before the refusal happened."""
        if self.failure and self.failure["own"]:
            return self.base | frozenset(range(1, self.failure["step"]))
        return self.base


def find_flow(app, browser: str, session) -> FlowView | None:
    """This browser's latest login, else the one its session came from."""
    auth_req = app.flows.latest(browser)
    trace = auth_req.trace if auth_req is not None else (session.trace if session else None)
    if not trace or "authorize_params" not in trace:
        return None
    tokens = session.tokens if session is not None and session.trace is trace else None
    return FlowView(trace, trace["authorize_params"]["state"], tokens, app.clock(),
                    app.auth_server, app.client.metadata)


def failed_step(trace: dict, error: str) -> int:
    """The step a refusal belongs to, from how far the login's trace got."""
    if "token_response" in trace:
        return Step.ID_TOKEN.number            # the ID token failed validation
    if "token_request" in trace:               # the token endpoint refused the code
        return Step.PKCE_CHECK.number if error == "invalid_grant" else Step.TOKEN_REQUEST.number
    return Step.CALLBACK.number                # denied, unknown state, wrong iss


def reached_steps(view: FlowView) -> frozenset:
    """The numbers of the steps this login has been through."""
    t, done = view.trace, {1, 2, 3}
    if "callback" in t:
        done |= {4, 5, 6}
    elif view.transaction is not None:
        done |= {4, 5} if view.transaction.user else {4}
    if "token_request" in t:
        done.add(7)
    if "token_response" in t or (view.pkce and view.pkce.match):
        done.add(8)
    if "id_claims" in t:
        done.add(9)
    if view.tokens is not None:
        done.add(10)
    return frozenset(done)


# -- what the embedded server recorded (read only) ------------------------------------------

def server_transaction(view: FlowView):
    """The embedded server's stored request for this login, while it waits for the user."""
    if view.auth is None:
        return None
    return view.auth.inspect.transaction_for_state(view.state)


def server_code_record(view: FlowView):
    code = view.trace.get("callback", {}).get("code")
    if view.auth is None or not code:
        return None
    return view.auth.inspect.code_record(code)


def pkce_entry(view: FlowView) -> dict | None:
    if view.auth is None:
        return None
    return view.auth.inspect.pkce_record(view.trace.get("challenge"))


# == the walkthrough page ========================================================================

def walkthrough_page(app, browser: str, session) -> Response:
    # The diagram's modules are imported when the page is first asked for, not at start-up:
    # the demo's first page does not need them (bench/coldstart.py measures that start).
    from oauthdemo.teaching import devicediagram, diagram, httplogpage
    view, login = find_flow(app, browser, session), app.http_log.latest_for(browser)
    if view is not None and login is not None and login.state == view.state:
        view.http_steps = httplogpage.logged_steps(login, app.http_log.app_actor)
    headline, lede = flow_status(view)
    provider = app.client.provider
    start = ("Start OAuth Login (PKCE)" if view is None or not (10 in view.reached or view.failure)
             else "Log in again (a fresh flow)")
    return render("walkthrough.html", title="Your OAuth flow, step by step",
                  headline=headline, lede=lede, progress=diagram.progress(view),
                  diagram=diagram.diagram(view, provider.kind, app.client),
                  details=diagram.step_panels(view, opening_step(view)),
                  start_label=start, provider=provider.label, flow=flow_label(view),
                  device=devicediagram.device_section(app.auth_server),
                  http_log=httplogpage.http_log_section(login, app.http_log.app_actor))


def flow_status(view: FlowView | None) -> tuple:
    """(headline, lede) for the top of the page."""
    if view is None:
        return ("No login yet in this browser",
                "Every grey arrow below is a step still to come. Start a login and they light "
                "up, one by one, with the real values of your flow.")
    claims = view.trace.get("id_claims") or {}
    if view.failure:
        step = Step.numbered(view.failure["step"])
        return (f"Your login was refused at {step.label}",
                f"The app refused it with {view.failure['error']}: the arrow marked ✘ shows "
                "where, and its panel says what that means. Start a fresh login whenever you like.")
    if 10 in view.reached:
        return ("Your login, as it happened",
                f"Logged in as {claims.get('name') or claims.get('sub')}. These are the ten "
                "steps that just happened, with the exact values that went over the wire.")
    if 9 in view.reached:
        return ("Your login, as it happened",
                "This login finished; its session has since ended, so the tokens are no "
                "longer held. The values below are what happened.")
    return ("Your login, in progress",
            f"Reached step {max(view.reached)} of {STEP_COUNT}. Finish logging in at the "
            "authorization server and the remaining arrows light up.")


def opening_step(view: FlowView | None) -> Step:
    """The step shown first: the latest one reached; for a finished login, the PKCE secrets."""
    if view is None:
        return Step.LOGIN
    if view.failure:
        return Step.numbered(view.failure["step"])
    if 10 in view.reached:
        return Step.PKCE_SECRETS
    return Step.numbered(max(view.reached))


def flow_label(view: FlowView | None) -> Markup:
    """The flow tag the console prints beside this login's steps."""
    if view is None:
        return Markup("no login yet")
    return Markup('flow <span class="flow">{}</span>').format(view.state[:6])


def refused_page(err, step: int, hint: str = "", forensic: Markup = Markup("")) -> Response:
    """The app's page for a refused login: what happened, in words for this error code, and
    a link to the walkthrough's step where it stopped (the RFC code in ``data-error``)."""
    from oauthdemo.teaching import details
    title, meaning = details.failure_words(err.error)
    at = Step.numbered(step)
    card = partial("walk_refused.html", title=title, step=at.label, step_title=at.title,
                   meaning=meaning, error=err.error, description=err.description or "",
                   hint=hint, n=step, links=details.failure_links(err.error),
                   forensic=forensic)
    return render("app_error.html", title=title, status=err.status_code, page=card)


# == the attack lab page =========================================================================

def attack_lab_page(app, browser: str) -> Response:
    from oauthdemo.teaching import attacks, labpage   # on first use, like the diagram above
    lab = app.lab
    results = lab.results_for(browser)
    token = lab.form_token(browser)
    cards = Markup("").join(labpage.attack_card(spec, results.get(spec.letter), token)
                            for spec in attacks.ATTACKS.values())
    provider = app.client.provider
    count, count_lower = labpage.count_words()
    return render("attacks.html", title="Attack lab · OAuth 2.0 + PKCE",
                  provider=provider.label, issuer=provider.issuer, cards=cards,
                  count=count, count_lower=count_lower,
                  form_token=token, scoreboard=labpage.scoreboard(results),
                  summary=labpage.summary(results),
                  code_source=labpage.code_source(lab, browser))
