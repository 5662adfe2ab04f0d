"""The HTTP log of a login: every hop of both channels, for /walkthrough and /trace.har.

An event subscriber (``core.events.HttpExchange``). The servers report each request as they
received and answered it (the front channel: browser ⇄ app, browser ⇄ authorization
server); the client's transport reports each call it makes (the back channel the browser
never sees: discovery, JWKS, the token request, userinfo, introspection). ``HttpLog`` ties
each hop to one login, and only soundly:

* the app's redirect to the authorization endpoint (GET /login's 302, or the step-through
  lab's) carries the new login's ``state`` (or, with PAR, its ``request_uri``), sent to
  the browser named by the app's browser cookie: that starts the login's log;
* at the authorization server, that ``state`` (or ``request_uri``) on /authorize, and
  ``state`` on the redirect back, names the login; the server's own browser cookie and
  its ``txn`` carry it through the login and consent forms. Those hops are only held
  there: bringing a state proves nothing (anyone can send a login's /authorize link to
  someone else). They join the login when the app's callback, from the browser that
  started it, passed the client's checks with the code the server's redirect carried;
  then only that server browser's hops join, and the code in them is never revealed;
* at the app, the callback's ``state`` names the login if this browser started it; other
  hops of this browser (its pages, Step 10) go to its latest login;
* a back-channel call belongs to the browser request whose thread made it (the token
  request is made while the callback is being answered, userinfo while Step 10 is).

A page or a HAR file only ever shows the asking browser's own logins. Everything is bounded
(the newest ``LOGINS_MAX`` logins, ``ENTRIES_MAX`` hops each, bodies cut at
``core.events.HTTP_BODY_KEPT``), like every table an anonymous request can fill.
Secrets are masked when shown (``Masker``), on a page (``teaching.httplogpage``) or in a
HAR 1.2 file (``har``). Some are never shown even on request: client secrets (they never
reached this log: core.events masks them), the refresh token (it never goes to the
browser) and HttpOnly cookies (a page that showed one would hand it to any script).
"""
from __future__ import annotations

import datetime
import hmac
import http
import json
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from oauthdemo.core.events import HttpExchange
from oauthdemo.core.tables import BoundedTable
from oauthdemo.core.text import MASK, SECRET_NAMES, is_secret_name, mask_secret
from oauthdemo.core.errors import InvalidRequest, NotFound
from oauthdemo.web.httpkit import (BROWSER_ID, Response, error_json, json_response,
                                   parse_cookies)

LOGINS_MAX = 64           # logins whose hops are kept (the oldest is dropped)
BROWSERS_MAX = 1000       # browsers whose latest login is remembered
ENTRIES_MAX = 40          # hops kept per login (a whole login takes about a dozen)
THREADS_MAX = 64          # threads whose back-channel calls wait for their browser request
WAITING_PER_THREAD = 16   # back-channel calls one browser request may make
TXNS_MAX = 1000           # the authorization server's transactions, mapped to their login
LOG_TTL = 8 * 3600        # seconds: no longer than a session lives
# The app's own pages about a login are not hops of it (a log of looking at the log).
TEACHING_PATHS = ("/walkthrough", "/trace.har", "/attacks", "/mistakes", "/static/")
# Calls to the authorization server's APIs are the back channel, told from the client's
# side (as sent); the server's copy of the same call would only repeat it.
SERVER_API_PATHS = ("/.well-known/", "/oauth/", "/userinfo")
CALLBACK_PATH = "/callback"   # the app's redirect_uri (RFC 6749 §3.1.2)


@dataclass
class LoginLog:
    """One login's hops, oldest first; ``browser`` is the app's browser cookie that started it,
    ``server_browser`` the authorization server's cookie of the browser proven to be its own
    (the one whose code came back to the app's callback from ``browser``)."""
    state: str                # the login's state (RFC 6749 §4.1.1): its flow tag
    browser: str
    created: float
    entries: list = field(default_factory=list)
    server_browser: str = ""
    omitted: int = 0          # hops past ENTRIES_MAX, counted, not kept
    key: str = ""             # what it is filed under: its state, or with PAR its request_uri


@dataclass(frozen=True)
class Hop:
    """What correlation reads from one exchange."""
    path: str
    query: dict
    location: dict            # the query of the answer's Location, if any
    cookies: dict             # the request's cookies and the answer's Set-Cookie, merged


def read_hop(e: HttpExchange) -> Hop:
    parts = urllib.parse.urlsplit(e.url)
    location = next((v for k, v in e.response_headers if k.lower() == "location"), "")
    cookies = parse_cookies("; ".join(v for k, v in e.request_headers if k.lower() == "cookie"))
    for name, value in e.response_headers:
        if name.lower() == "set-cookie":
            cookies.update(parse_cookies(value.split(";", 1)[0]))
    return Hop(parts.path, query_params(parts.query),
               query_params(urllib.parse.urlsplit(location).query), cookies)


def query_params(text: str) -> dict:
    """Lenient: these are records of what happened, already answered by the strict parser
    (too many fields to read: no parameters, so the hop names no login)."""
    try:
        return dict(urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=64))
    except ValueError:
        return {}


def authorization_request_key(params: dict) -> str:
    """What names a login in an authorization request (RFC 6749 §4.1.1, with PKCE; or RFC
    9126 §4, a pushed one): its state, or its request_uri. "" if it is no such request."""
    if "client_id" not in params:
        return ""
    if "code_challenge" in params:
        return params.get("state", "")
    return params.get("request_uri", "")


def pushed_state(calls: list, request_uri: str) -> str:
    """RFC 9126 §2.1–2.2: the push carried the authorization request (state among it) and
    its answer named the request_uri. The state of the push answered with this one ("" if
    no such push was seen)."""
    for call in calls:
        try:
            answer = json.loads(call.response_body)
        except (ValueError, RecursionError):
            continue
        if isinstance(answer, dict) and answer.get("request_uri") == request_uri:
            return query_params(call.request_body.decode("utf-8", "replace")).get("state", "")
    return ""


def sent_code(e: HttpExchange, code: str, state: str) -> bool:
    """Did this server hop redirect to the callback with this code and state?"""
    hop = read_hop(e)
    return (same(hop.location.get("code", ""), code)
            and same(hop.location.get("state", ""), state))


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class HttpLog:
    """The subscriber: keeps each login's hops, and answers "this browser's latest login"."""

    def __init__(self, *, app_actor: str, browser_cookie: str, server_actor: str,
                 server_cookie: str, clock=time.time):
        self.app_actor, self.browser_cookie = app_actor, browser_cookie
        self.server_actor, self.server_cookie = server_actor, server_cookie
        self.clock = clock
        self.logins = BoundedTable(LOGINS_MAX)        # state → LoginLog
        self.browsers = BoundedTable(BROWSERS_MAX)    # app browser id → latest state
        self.server_browsers = BoundedTable(BROWSERS_MAX)   # server browser id → latest state
        self.txns = BoundedTable(TXNS_MAX)            # server txn id → state
        self.held = BoundedTable(LOGINS_MAX)          # key → [(server browser, hops)]
        self.pushed = BoundedTable(LOGINS_MAX)        # state → request_uri (RFC 9126 pushes)
        self.waiting = BoundedTable(THREADS_MAX)      # thread → back-channel calls
        self.lock = threading.Lock()

    def __call__(self, event):
        if not isinstance(event, HttpExchange):
            return
        with self.lock:
            self.prune()
            if event.channel == "back":
                self.wait_for_request(event)
            else:
                self.take(event)

    # -- correlation -----------------------------------------------------------------------
    def wait_for_request(self, e: HttpExchange):
        calls = self.waiting.pop(e.thread, [])   # pop + put: the newest thread stays longest
        self.waiting.put(e.thread, (calls + [e])[-WAITING_PER_THREAD:])

    def take(self, e: HttpExchange):
        hop = read_hop(e)
        # Calls made while this request was served belong with it (and only those: a
        # thread that served someone else earlier left calls older than this request).
        made = [c for c in self.waiting.pop(e.thread, []) if c.started >= e.started]
        if e.actor == self.app_actor:
            login = self.app_login(e, hop, made)
            if login is not None:
                for entry in [e, *made]:
                    self.add(login, entry)
                self.own_server_hops(login, e, hop)
        elif e.actor == self.server_actor:
            self.server_hop(hop, [e, *made])

    def app_login(self, e: HttpExchange, hop: Hop, made: list) -> LoginLog | None:
        browser = hop.cookies.get(self.browser_cookie, "")
        if not BROWSER_ID.fullmatch(browser):
            return None
        key = authorization_request_key(hop.location)
        if key:   # the redirect that starts a login (a repeat of it: the same login)
            login = self.logins.get(key)
            if login is not None and same(login.browser, browser):
                return login
            if login is not None:
                return None
            pushed = "code_challenge" not in hop.location    # RFC 9126 §4: request_uri only
            return self.start(key, browser, e.started,
                              pushed_state(made, key) if pushed else key)
        if hop.path.startswith(TEACHING_PATHS):
            return None
        if hop.path == "/logout" and e.method == "POST" and e.status == 303:
            self.drop(browser)    # logged out: the log holds tokens, which end with the session
            return None
        login = self.logins.get(self.key_of(hop.query.get("state", "")))
        if login is not None and same(login.browser, browser):
            return login                  # a callback of one of this browser's logins
        return self.latest(browser)

    def server_hop(self, hop: Hop, entries: list):
        """A hop at the authorization server: held under its login until that login's own
        browser proves it was there (``own_server_hops``). Bringing a login's state proves
        nothing: anyone can send its /authorize link to someone else (finding 1)."""
        browser = hop.cookies.get(self.server_cookie, "")
        if hop.path.startswith(SERVER_API_PATHS) or not browser:
            return
        key = self.server_key(hop, browser)
        login = self.logins.get(key) if key else None
        if login is None:
            return
        if login.server_browser:     # owned: only the browser that proved it adds hops
            if same(login.server_browser, browser):
                for entry in entries:
                    self.add(login, entry)
            return
        held = self.held.pop(key, [])     # pop + put: the newest login stays longest
        self.held.put(key, (held + [(browser, entries)])[-ENTRIES_MAX:])

    def server_key(self, hop: Hop, browser: str) -> str:
        """The login a server hop names: its state (or request_uri) on /authorize, the state
        on the redirect back, else its txn, else this browser's latest state there."""
        txn = hop.query.get("txn") or hop.location.get("txn") or ""
        state = (authorization_request_key(hop.query) if hop.path == "/authorize"
                 else self.key_of(hop.location.get("state", "")))
        key = state if state in self.logins else (self.txns.get(txn, "") or
                                                  self.server_browsers.get(browser, ""))
        if key:
            if txn:
                self.txns.put(txn, key)
            self.server_browsers.pop(browser, None)
            self.server_browsers.put(browser, key)
        return key

    def own_server_hops(self, login: LoginLog, e: HttpExchange, hop: Hop):
        """The app's callback passed the client's checks (a redirect, not a refusal: state
        is this browser's, RFC 6749 §10.12) with the very code the server's redirect
        carried: that server browser was this login's. Its held hops join the log now,
        told after the code was checked (and, in a plain login, redeemed)."""
        code, state = hop.query.get("code", ""), hop.query.get("state", "")
        if hop.path != CALLBACK_PATH or e.status not in (302, 303) or not (code and state):
            return
        if login.server_browser:
            return
        held = self.held.pop(login.key, [])
        owner = next((browser for browser, entries in held
                      if sent_code(entries[0], code, state)), "")
        if not owner:   # not this login's code after all: the hops stay held (finding 5)
            if held:
                self.held.put(login.key, held)
            return
        login.server_browser = owner
        for browser, entries in held:
            if same(browser, owner):
                for entry in entries:
                    self.add(login, entry)

    def start(self, key: str, browser: str, now: float, state: str) -> LoginLog:
        """A new login, filed under ``key``. With PAR (RFC 9126) the redirect carries only
        a request_uri; the state is in the push the app made while answering (review 2,
        finding 5): the callback, which carries only the state, finds the login by it."""
        if state and state != key:
            self.pushed.put(state, key)
        login = LoginLog(state, browser, now, key=key)
        self.logins.put(key, login)
        self.browsers.pop(browser, None)          # the newest browser stays longest
        self.browsers.put(browser, key)
        return login

    def key_of(self, state: str) -> str:
        """The key a login's state is filed under (its request_uri, if it was pushed)."""
        return self.pushed.get(state, state)

    def add(self, login: LoginLog, e: HttpExchange):
        if len(login.entries) >= ENTRIES_MAX:
            login.omitted += 1
        else:
            login.entries.append(e)

    def latest(self, browser: str) -> LoginLog | None:
        login = self.logins.get(self.browsers.get(browser, ""))
        if login is None or self.clock() - login.created > LOG_TTL:
            return None
        return login

    # -- what the pages ask ------------------------------------------------------------------
    def latest_for(self, browser: str) -> LoginLog | None:
        """A copy of this browser's latest login, hops in time order (None: no login yet)."""
        if not BROWSER_ID.fullmatch(browser or ""):
            return None
        with self.lock:
            login = self.latest(browser)
            if login is None:
                return None
            entries = sorted(login.entries, key=lambda e: e.started)
            return LoginLog(login.state, login.browser, login.created, entries,
                            login.server_browser, login.omitted, login.key)

    def forget(self, browser: str):
        """On logout: the log holds tokens, and they must not outlive the session."""
        with self.lock:
            self.drop(browser)

    def drop(self, browser: str):
        """Every login this browser started, not only its latest (review 2, finding 7)."""
        self.browsers.pop(browser, None)
        for key in [key for key, login in self.logins.items() if same(login.browser, browser)]:
            self.forget_login(key)

    def prune(self):
        """LOG_TTL on every write, not only when read: the hops hold tokens, and they are
        kept no longer than a session lives, read or not (review 2, finding 7). Logins are
        filed oldest first."""
        now = self.clock()
        while self.logins:
            key, login = next(iter(self.logins.items()))
            if now - login.created <= LOG_TTL:
                return
            self.forget_login(key)

    def forget_login(self, key: str):
        login = self.logins.pop(key)
        self.held.pop(key, None)
        if self.pushed.get(login.state) == key:
            self.pushed.pop(login.state, None)


# == Masking: what a page or a HAR file shows of each value ===================================
# Values that let someone act as the user or the client (core.text's one table,
# is_secret_name): masked unless revealed on purpose.
# Values no page and no HAR file ever shows, revealed or not, and why.
CLIENT_SECRET = "a client secret: never shown, not even here"
NEVER_SHOWN = {
    "client_secret": CLIENT_SECRET,
    "refresh_token": "the refresh token never reaches the browser, not even on this page",
}
CODE_AT_SERVER = ("a code in the authorization server's redirect: never revealed here (your "
                  "app's callback and token request show the one it received)")
HTTPONLY = "an HttpOnly cookie: no page shows it, so no script on a page could read it"
HIDDEN = f"{MASK} (hidden)"   # a client credential's place: not even its length is told
FIELDS_MAX = 64           # form fields or query parameters read of one hop (as the parser)
# A body that is no form and no JSON (cut at HTTP_BODY_KEPT, or mangled) is shown with every
# secret-named value cut out by pattern, revealed or not: "name": "value" and name=value.
SECRET_PATTERN = re.compile(
    r'(?P<q>"(?:%(n)s)"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|$)|(?P<f>(?<![\w%%])(?:%(n)s)=)[^&\s"]*'
    % {"n": "|".join(sorted(SECRET_NAMES | set(NEVER_SHOWN))) + r"|\w*_token"})


@dataclass(frozen=True)
class Secret:
    """One secret value met in a hop. A revealable one carries its value (for its Reveal);
    one never shown carries only its mask (``value``) and the reason (``why``)."""
    name: str
    value: str
    revealable: bool = True
    why: str = ""


def masked(value: str) -> str:
    """core.text's one mask (the length, never a character), which this page may reveal."""
    return mask_secret(value, "masked")


class Masker:
    """Masks the secrets of one hop (unless ``reveal``) and lists them, for the page's
    per-value reveal. Client credentials are never unmasked, whatever events did before
    (defence in depth: the log should never have had them). ``server_hop``: a hop at the
    authorization server, whose codes are never revealed (finding 1)."""

    def __init__(self, reveal: bool = False, server_hop: bool = False):
        self.reveal, self.server_hop = reveal, server_hop
        self.found: list = []

    def value(self, name: str, value: str) -> str:
        if name in NEVER_SHOWN and value:
            shown = HIDDEN if name == "client_secret" else masked(value)
            return self.hidden(name, shown, NEVER_SHOWN[name])
        if name == "code" and self.server_hop and value:
            return self.hidden(name, masked(value), CODE_AT_SERVER)
        if not is_secret_name(name) or not value:
            return value
        return self.secret(name, value)

    def secret(self, name: str, value: str) -> str:
        self.found.append(Secret(name, value))
        return value if self.reveal else masked(value)

    def hidden(self, name: str, shown: str, why: str) -> str:
        """A value never revealed: its mask, whatever ``reveal`` says."""
        self.found.append(Secret(name, shown, revealable=False, why=why))
        return shown

    def pairs(self, pairs) -> list:
        return [(name, self.value(name, value)) for name, value in pairs]

    def form(self, text: str) -> str | None:
        """A form or query with its secret values masked; None if it is not one to read."""
        try:
            return urllib.parse.urlencode(self.pairs(urllib.parse.parse_qsl(
                text, keep_blank_values=True, max_num_fields=FIELDS_MAX)))
        except ValueError:
            return None

    def url(self, url: str) -> str:
        """The URL with its secret query parameters masked (still a valid URI)."""
        parts = urllib.parse.urlsplit(url)
        if not parts.query:
            return url
        query = self.form(parts.query)
        if query is None:
            query = self.unparsed(parts.query)
        return urllib.parse.urlunsplit(parts._replace(query=query))

    def header(self, name: str, value: str) -> str:
        low = name.lower()
        if low == "authorization":
            scheme, _, credentials = value.partition(" ")
            if scheme.lower() == "basic":   # RFC 7617: base64(client_id:client_secret)
                return f"{scheme} {self.hidden('Authorization: Basic', HIDDEN, CLIENT_SECRET)}"
            return f"{scheme} {self.secret('Authorization: ' + scheme, credentials)}"
        if low == "cookie":
            return "; ".join(f"{k}={self.cookie(k, v)}" for k, v in parse_cookies(value).items())
        if low == "set-cookie":
            pair, sep, attributes = value.partition(";")
            k, _, v = pair.partition("=")
            return f"{k}={self.cookie(k, v) if v else v}{sep}{attributes}"
        if low == "location":
            return self.url(value)
        return value

    def cookie(self, name: str, value: str) -> str:
        return self.hidden("cookie " + name, masked(value), HTTPONLY)

    def headers(self, headers) -> list:
        return [(name, self.header(name, value)) for name, value in headers]

    def body(self, raw: bytes, content_type: str) -> str:
        """The body as text: a form or JSON (whatever its content type says: the client
        parses a token answer as JSON whatever it says) with its secrets masked at any
        depth; anything else with its secret-named values cut out."""
        text = raw.decode("utf-8", "replace")
        kind = content_type.split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            form = self.form(text)
            return form if form is not None else self.unparsed(text)
        return self.json_text(text)

    def json_text(self, text: str) -> str:
        try:
            return json.dumps(self.json_value(json.loads(text)), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            return self.unparsed(text)

    def json_value(self, data, name: str = ""):
        """Every string member named as a secret masked, in objects and arrays at any depth."""
        if isinstance(data, dict):
            return {k: self.json_value(v, k) for k, v in data.items()}
        if isinstance(data, list):
            return [self.json_value(v, name) for v in data]
        return self.value(name, data) if isinstance(data, str) and name else data

    def unparsed(self, text: str) -> str:
        """Text no parser read: each secret-named value cut out, revealed or not (a cut
        token answer still names refresh_token; nothing could say which part is safe)."""
        def cut(match):
            self.found.append(Secret("unparsed", MASK, revealable=False, why=UNPARSED))
            return (match.group("q") + f'"{MASK}"') if match.group("q") else \
                match.group("f") + MASK
        return SECRET_PATTERN.sub(cut, text)


UNPARSED = "a secret in a body that could not be parsed (cut short, or mangled): never shown"


def masker_for(e: HttpExchange, app_actor: str, reveal: bool = False) -> Masker:
    """The masker of one hop: a front-channel hop not at the app is at the server."""
    return Masker(reveal, server_hop=e.channel == "front" and e.actor != app_actor)


def header_value(headers, name: str) -> str:
    return next((v for k, v in headers if k.lower() == name), "")


def who(e: HttpExchange, app_actor: str) -> str:
    """The two ends of a hop, as the walkthrough names them."""
    if e.channel == "back":
        return "your app ⇄ authorization server (back channel)"
    return "browser ⇄ your app" if e.actor == app_actor else f"browser ⇄ {e.actor}"


# == HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) ================================
HAR_CREATOR = {"name": "oauth-pkce-demo", "version": "1.0"}


def har(login: LoginLog, *, reveal: bool, app_actor: str) -> dict:
    """The login's hops as a HAR 1.2 log, for browser devtools and HAR viewers."""
    return {"log": {"version": "1.2", "creator": HAR_CREATOR,
                    "comment": f"One login (flow {login.state[:6]}) of the OAuth 2.0 + PKCE "
                               "demo, both channels. Secrets are "
                               + ("revealed (client secrets never are)." if reveal else
                                  "masked; /trace.har?reveal=1 shows them (client secrets "
                                  "never)."),
                    "entries": [har_entry(e, masker_for(e, app_actor, reveal), app_actor)
                                for e in login.entries]}}


def har_download(log: HttpLog, browser: str, reveal: str) -> Response:
    """GET /trace.har: this browser's latest login, masked unless ``reveal`` is "1" (client
    secrets never); a JSON 404 before its first login."""
    if reveal not in ("0", "1"):
        return error_json(InvalidRequest("reveal is 0 or 1."))
    login = log.latest_for(browser)
    if login is None:
        return error_json(NotFound("No login yet in this browser: start one at /login, then "
                                   "ask again."))
    resp = json_response(har(login, reveal=reveal == "1", app_actor=log.app_actor))
    return resp.add_header("Content-Disposition",
                           f'attachment; filename="{har_filename(login, reveal == "1")}"')


def har_filename(login: LoginLog, reveal: bool) -> str:
    """oauth-login-<flow>.har: only characters a Content-Disposition carries as they are."""
    flow = re.sub(r"[^A-Za-z0-9_-]", "", login.state[:6]) or "pushed"
    return f"oauth-login-{flow}{'-revealed' if reveal else ''}.har"


def har_entry(e: HttpExchange, masker: Masker, app_actor: str) -> dict:
    took = round(e.duration * 1000, 3)
    return {"startedDateTime": iso_time(e.started), "time": took,
            "request": har_request(e, masker), "response": har_response(e, masker),
            "cache": {}, "timings": {"send": 0, "wait": took, "receive": 0},
            "comment": who(e, app_actor)}


def har_request(e: HttpExchange, masker: Masker) -> dict:
    url = masker.url(e.url)
    request = {"method": e.method, "url": url, "httpVersion": "HTTP/1.1", "cookies": [],
               "headers": har_headers(masker.headers(e.request_headers)),
               "queryString": [{"name": k, "value": v} for k, v in urllib.parse.parse_qsl(
                   urllib.parse.urlsplit(url).query, keep_blank_values=True)],
               "headersSize": -1, "bodySize": len(e.request_body)}
    if e.request_body:
        mime = header_value(e.request_headers, "content-type") or "application/octet-stream"
        request["postData"] = {"mimeType": mime, "text": masker.body(e.request_body, mime)}
    return request


def har_response(e: HttpExchange, masker: Masker) -> dict:
    mime = header_value(e.response_headers, "content-type") or "x-unknown"
    content = {"size": e.response_size, "mimeType": mime}
    if e.response_body:
        content["text"] = masker.body(e.response_body, mime)
    elif e.response_size:
        content["comment"] = "An HTML page: not kept (a page can carry tokens in its markup)."
    return {"status": e.status, "statusText": status_text(e.status), "httpVersion": "HTTP/1.1",
            "cookies": [], "headers": har_headers(masker.headers(e.response_headers)),
            "content": content,
            "redirectURL": masker.url(header_value(e.response_headers, "location")),
            "headersSize": -1, "bodySize": e.response_size}


def har_headers(headers) -> list:
    return [{"name": name, "value": value} for name, value in headers]


def status_text(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def iso_time(seconds: float) -> str:
    """ISO 8601 in UTC with milliseconds, as HAR's startedDateTime asks."""
    stamp = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
