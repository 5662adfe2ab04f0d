"""The mistakes gallery: the common ways a client gets the code flow wrong, each run for real.

Attacks (``teaching.attacks``) are someone else's doing; these mistakes are your own. Each
one makes the request a buggy client makes (RFC 7636 §4.2 encodings, §4.5 the verifier;
RFC 6749 §3.1.2.3 the exact redirect_uri, §4.1.2 single-use codes, §10.12 state; RFC 7519
§4.1.6 iat), sends it to the embedded server's real endpoints (or the app's real checks),
and shows what came back with the forensic explanation (``teaching.forensics``), which
reads the server's truth (``auth.inspect.truth``). Nothing is relaxed for the gallery.

The set-up logins come from the attack lab's machinery (``AttackLab.scripted_login``), so
the gallery runs only against the embedded server, which alone can tell the truth.
"""
from __future__ import annotations

import base64
import json
import secrets
import threading
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass

import pkce

from oauthdemo.client.oidc import OIDCClient
from oauthdemo.client.transport import http_json
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.errors import DemoError, InvalidRequest, ProviderBadResponse, as_oauth2
from oauthdemo.core.events import EventBus
from oauthdemo.core.jose import decode_unverified
from oauthdemo.core.tables import BoundedTable
from oauthdemo.teaching import forensics
from oauthdemo.teaching.attacks import VICTIM_USER, shown_fields
from oauthdemo.teaching.fragments import NOTHING, pre_lines
from oauthdemo.web.html import Markup, partial
from oauthdemo.web.httpkit import Response, redirect, render

ACTOR = "your app"            # the mistakes are the app's own: it speaks, as in a login
FORM_PURPOSE = "mistakes"     # what the gallery's form tokens are for
BROWSERS_MAX = 500            # browsers whose results are remembered
SKEW = 3600                   # the "clock an hour behind" mistake


@dataclass(frozen=True)
class Mistake:
    key: str
    title: str
    does: str      # what the buggy client does
    rule: str      # the forensic rule that should name it


MISTAKES = OrderedDict((m.key, m) for m in (
    Mistake("hex", "Hex digest instead of the 32 bytes",
            "The app sends code_challenge = SHA-256(verifier) as 64 hex characters.",
            "pkce.hex_digest"),
    Mistake("base64", "Standard base64 with padding",
            "The app encodes the challenge with standard base64: + / and = padding.",
            "pkce.standard_base64"),
    Mistake("challenge", "The challenge sent as the verifier",
            "At the token request the app sends the challenge where the verifier belongs.",
            "pkce.challenge_as_verifier"),
    Mistake("other", "A verifier from another login",
            "Two logins at once; the app redeems the first code with the second login's "
            "verifier.", "pkce.other_login"),
    Mistake("host", "redirect_uri: localhost vs 127.0.0.1",
            "The token request names the same callback on the other loopback host name.",
            "redirect_uri.host"),
    Mistake("slash", "redirect_uri: a trailing slash",
            "The token request's redirect_uri ends in / where Step 3's did not.",
            "redirect_uri.trailing_slash"),
    Mistake("twice", "The code redeemed twice (React StrictMode)",
            "The callback handler runs twice: the second run redeems the same code again.",
            "code.redeemed"),
    Mistake("stale", "A stale tab: the callback replayed",
            "The login finished; a stale tab reloads its callback URL with the used state.",
            "state.stale_tab"),
    Mistake("clock", "A clock an hour behind",
            "The app's machine clock is an hour slow, so the ID token's iat is 'in the "
            "future'.", "clock.iat_future"),
))


class MistakesGallery:
    """Each browser's latest results; the runs themselves are the functions below."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.results = BoundedTable(BROWSERS_MAX)

    @property
    def embedded(self) -> bool:
        return self.app.auth_server is not None

    @property
    def client(self):
        return self.app.client

    def quiet_client(self, clock=None) -> OIDCClient:
        """The app's client on a silent bus (set-up steps are one line, not Steps 2–9)."""
        c = self.client
        return OIDCClient(c.provider, c.metadata, transport=c.transport, events=EventBus(),
                          clock=clock or c.clock, actor=ACTOR)

    def say(self, text: str, ok: bool | None = None):
        if ok is None:
            self.app.events.say(ACTOR, text)
        else:
            self.app.events.check(ACTOR, text, ok=ok)

    def form_token(self, browser: str) -> str:
        return self.app.forms.issue(FORM_PURPOSE, browser)

    def check_post(self, browser: str, form: dict):
        self.app.forms.check(form, FORM_PURPOSE, browser,
                             refusal="The gallery's form token is missing or stale: reload "
                                     "/mistakes and press the button again.")

    def run(self, key: str, browser: str) -> dict:
        spec = MISTAKES.get(key)
        if spec is None:
            raise InvalidRequest("Unknown mistake: choose one of " + ", ".join(MISTAKES) + ".")
        self.say(f"mistake “{spec.title}”: {spec.does}")
        try:
            result = RUNNERS[key](self) if self.embedded else not_run(
                "The gallery runs against the embedded server, which knows the truth.")
        except DemoError as err:
            result = not_run(f"It could not run: {err.description}")
        result.update(key=key, title=spec.title)
        self.narrate(result)
        with self.lock:
            self.results.put(browser, {**self.results.get(browser, {}), key: result})
        return result

    def handle(self, req, browser: str) -> Response:
        """GET /mistakes (the page, the browser cookie set) or POST /mistakes/run."""
        if req.method == "POST":
            req.require_same_origin()
            return self.run_from_form(req.form(), browser)
        page = gallery_page(self.app, self, browser)
        return self.app.with_browser_cookie(page, browser, self.app.lab.cookie_age)

    def run_from_form(self, form: dict, browser: str) -> Response:
        """POST /mistakes/run (same origin checked by the handler): the form token, then one
        mistake; a 303 back to its card, so a reload cannot run it again."""
        self.check_post(browser, form)
        key = str(form.get("mistake", ""))
        self.run(key, browser)
        return redirect(f"/mistakes#mistake-{key}", 303)

    def narrate(self, result: dict):
        if not result.get("ran"):
            return self.say(result["why"], ok=False)
        self.say(f"{result['request']} answered HTTP {result['status']}: "
                 f"{result['body'].get('error')}", ok=False)
        forensics.narrate(self.app.events, ACTOR, result["diagnosis"])

    def results_for(self, browser: str) -> dict:
        with self.lock:
            return dict(self.results.get(browser, {}))

    def set_up_login(self, browser: str = "", pending: bool = False):
        """A login the gallery drives at the embedded server as Alice, its Steps 4–5 told to
        nobody (the attack lab's quiet flows): (AuthRequest, code from the callback)."""
        req = self.quiet_client().begin(self.app.base_url + "/callback",
                                        browser=browser or "mistakes", scope=self.app.scope)
        if pending:
            self.app.pending.add(req)
        with self.app.lab.quiet_at_server(req):
            callback = ScriptedBrowser().login_at_provider(req.url, user=VICTIM_USER)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query)).get("code")
        if not code:
            raise ProviderBadResponse("The gallery's set-up login came back without a code.")
        self.say(f"set-up: a login as {VICTIM_USER} (Steps 1–6 as usual, not told again)")
        return req, code

    def redeem(self, req, code: str, what: str) -> dict:
        """A set-up redemption, as the app makes it: one line, Steps 7 and 8 not told again."""
        self.say(f"set-up: {what} (Steps 7 and 8 as usual, not told again)")
        with self.app.lab.quiet_at_server(req):
            return self.quiet_client().exchange_code(code, req)


# == the runs ====================================================================================

def wrong_challenge(gallery: MistakesGallery, encode) -> dict:
    """/authorize with the challenge encoded wrongly; the server refuses it (RFC 7636 §4.4.1)."""
    req = gallery.quiet_client().begin(gallery.app.base_url + "/callback",
                                       browser="mistakes", scope=gallery.app.scope)
    digest = pkce.s256_digest(req.verifier)
    params = gallery.client.authorize_params(req, {"code_challenge": encode(digest)})
    url = gallery.client.metadata["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)
    page = ScriptedBrowser().get(url)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.location or "").query))
    body = {k: query[k] for k in ("error", "error_description") if k in query}
    sent = {"code_challenge": params["code_challenge"], "code_verifier": req.verifier}
    return ran("GET /authorize", [f"code_challenge={params['code_challenge']}",
                                  "code_challenge_method=S256"],
               page.status, body, forensics.diagnose(sent, body or {"error": "invalid_request"}))


def token_mistake(gallery: MistakesGallery, req, code: str, change: dict) -> dict:
    """The app's token request with ``change`` applied, to the real token endpoint."""
    data, headers = gallery.client.token_request_body(code, req.redirect_uri, req.verifier)
    data.update(change)
    endpoint = gallery.client.metadata["token_endpoint"]
    status, body = http_json(endpoint, data=data, headers=headers, timeout=gallery.client.timeout)
    truth = gallery.app.auth_server.inspect.truth(
        code=code, client_id=data.get("client_id"), verifier=data.get("code_verifier"))
    sent = {**data, "code_challenge": req.challenge}
    shown = [f"{k}={v}" for k, v in shown_fields(data).items()]
    return ran(f"POST {endpoint}", shown, status, shown_fields(body),
               forensics.diagnose(sent, body, truth))


def mistake_hex(gallery) -> dict:
    return wrong_challenge(gallery, lambda digest: digest.hex())


def mistake_base64(gallery) -> dict:
    return wrong_challenge(gallery, lambda digest: base64.b64encode(digest).decode("ascii"))


def mistake_challenge(gallery) -> dict:
    req, code = gallery.set_up_login()
    return token_mistake(gallery, req, code, {"code_verifier": req.challenge})


def mistake_other(gallery) -> dict:
    req, code = gallery.set_up_login()
    other, _ = gallery.set_up_login()
    return token_mistake(gallery, req, code, {"code_verifier": other.verifier})


def mistake_host(gallery) -> dict:
    req, code = gallery.set_up_login()
    return token_mistake(gallery, req, code, {"redirect_uri": other_loopback(req.redirect_uri)})


def mistake_slash(gallery) -> dict:
    req, code = gallery.set_up_login()
    return token_mistake(gallery, req, code, {"redirect_uri": req.redirect_uri + "/"})


def mistake_twice(gallery) -> dict:
    req, code = gallery.set_up_login()
    gallery.redeem(req, code, "the callback's first run redeems the code")
    return token_mistake(gallery, req, code, {})


def mistake_stale(gallery) -> dict:
    """The app's own state check (client.pending), twice with one callback."""
    browser = "mistakes-" + secrets.token_urlsafe(12)
    req, code = gallery.set_up_login(browser, pending=True)
    params = {"code": code, "state": req.state, "iss": gallery.client.provider.issuer}
    with gallery.app.lab.quiet_at_server(req):
        done = gallery.quiet_client().complete(params, gallery.app.pending, browser)
    gallery.say("set-up: the login finished in this tab; now the tab is reloaded")
    try:
        gallery.quiet_client().complete(params, gallery.app.pending, browser)
    except DemoError as err:
        answer = as_oauth2(err)
        sent = {"state": params["state"], "state_used": True}
        return ran("GET /callback (the app's state check)", [f"state={params['state'][:10]}…"],
                   answer.status_code, answer.to_dict(), forensics.diagnose(sent, answer))
    finally:
        give_back(gallery.client, done.tokens)
    return not_run("The replayed callback was accepted: the state check needs fixing.")


def mistake_clock(gallery) -> dict:
    """A real ID token, checked by the app's own check on a clock an hour slow."""
    req, code = gallery.set_up_login()
    tokens = gallery.redeem(req, code, "the code is redeemed for a real ID token")
    slow = gallery.quiet_client(clock=lambda: gallery.client.clock() - SKEW)
    try:
        slow.validate_id_token(tokens.get("id_token"), req.nonce)
    except DemoError as err:
        answer = as_oauth2(err)
        claims = _claims(tokens["id_token"])
        sent = {"iat": claims.get("iat"), "now": slow.clock()}
        return ran("the app's ID token check (Step 9)", ["id_token=… (real, just issued)"],
                   answer.status_code, answer.to_dict(), forensics.diagnose(sent, answer))
    finally:
        gallery.client.revoke(tokens.get("access_token", ""))
    return not_run("The ID token passed on a slow clock: the iat check needs fixing.")


# == helpers and results ===========================================================================

def give_back(client, tokens: dict):
    """A set-up login's grant ends now (RFC 7009 §2.1: revoking its refresh token revokes
    the grant), not in 30 days: a lab keeps nothing alive."""
    for name in ("refresh_token", "access_token"):
        if tokens.get(name):
            client.revoke(tokens[name])


def _claims(id_token: str) -> dict:
    """The claims, read only to show iat (the real check has run and refused)."""
    return decode_unverified(id_token)[1]


def other_loopback(uri: str) -> str:
    """The same callback on the other loopback name: localhost ⇄ 127.0.0.1."""
    parts = urllib.parse.urlsplit(uri)
    host = "127.0.0.1" if parts.hostname == "localhost" else "localhost"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def ran(request: str, sent: list, status: int, body: dict, diagnosis) -> dict:
    return {"ran": True, "request": request, "sent": sent, "status": status, "body": body,
            "diagnosis": diagnosis}


def not_run(why: str) -> dict:
    return {"ran": False, "why": why}


# == the page ====================================================================================

def gallery_page(app, gallery: MistakesGallery, browser: str) -> Response:
    """GET /mistakes: one card per mistake, each with its latest result in this browser."""
    results, token = gallery.results_for(browser), gallery.form_token(browser)
    cards = NOTHING.join(partial("mistake_card.html", key=m.key, title=m.title, does=m.does,
                                 form_token=token, outcome=result_html(results.get(m.key)))
                         for m in MISTAKES.values())
    provider = app.client.provider
    return render("mistakes.html", title="Mistakes gallery · OAuth 2.0 + PKCE",
                  provider=provider.label, issuer=provider.issuer, cards=cards)


def result_html(result: dict | None) -> Markup:
    if result is None:
        return partial("mistake_not_run.html", why="Not run yet.")
    if not result["ran"]:
        return partial("mistake_not_run.html", why=result["why"])
    body = json.dumps(result["body"], indent=2, ensure_ascii=False)
    # A 303 has no body: the error rides in the redirect's query (RFC 6749 §4.1.2.1).
    in_query = 300 <= result["status"] < 400
    return partial("mistake_result.html", error=result["body"].get("error", ""),
                   status=result["status"], request=result["request"],
                   answer_in="query" if in_query else "body",
                   how=f"HTTP {result['status']}" + (", error in the redirect's query"
                                                    if in_query else ""),
                   answer_label="The redirect's query, as JSON" if in_query
                   else "The server's answer (JSON body)",
                   sent=pre_lines(result["sent"]), answer=pre_lines([body], "response"),
                   forensic=forensics.forensic_html(result["diagnosis"]))


RUNNERS = {"hex": mistake_hex, "base64": mistake_base64, "challenge": mistake_challenge,
           "other": mistake_other, "host": mistake_host, "slash": mistake_slash,
           "twice": mistake_twice, "stale": mistake_stale, "clock": mistake_clock}
