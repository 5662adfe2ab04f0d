"""The HTTP toolkit every server in the demo shares (RFC 9110 semantics, RFC 6265 cookies).

The authorization server, the walkthrough app, the backend and the CLI's one-shot
callback server all stand on ``BaseHandler``. That is where the rules that keep a
small server alive under hostile input live, once:

* a routes table maps (method, path) to a function returning a ``Response``, a record
  with declared fields (status, body, headers, content type, CSP form-action, static);
* every error is an ``OAuth2Error`` rendered as JSON (APIs) or an escaped page
  (browsers) whose card carries the RFC code in ``data-error``, never a traceback;
* bodies are bounded, query strings are parsed strictly (bad percent-encoding,
  invalid UTF-8 and repeated parameters are refused, RFC 6749 §3.1);
* each connection has a timeout and each request a deadline, so idle or slow clients
  cannot pin threads (the connection cap and the accept loop are ``web.server``'s);
* a server answers only to its own names on its own port (``allowed_hosts``: DNS
  rebinding), and Origin is checked against its own origins, never against Host;
* the Cookie header is bounded and parsed in one linear pass; JSON nested too deep is
  a 400; a header carrying a control character is never written (a 500 instead);
* every page carries a strict Content-Security-Policy, frame-ancestors 'none',
  Referrer-Policy no-referrer and Cache-Control no-store.

Routes import this one module: the serving side (``DemoHTTPServer``, ``bind``,
``start_server``, ``server_url``) is re-exported from ``web.server``.
"""
from __future__ import annotations

import json
import re
import secrets
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from oauthdemo.core.events import HttpExchange, kept_body
from oauthdemo.core.errors import (DemoError, InvalidRequest, MethodNotAllowed, NotFound,
                                   OAuth2Error, RequestTooLarge, ServerError, as_oauth2)
from oauthdemo.web.html import TEMPLATE_DIR, fill
from oauthdemo.web.server import (ACCEPT_BACKOFF, MAX_CONNECTIONS, DemoHTTPServer,
                                  allowed_hosts, allowed_origins, bind, server_url,
                                  start_server)

__all__ = [
    # records and answers
    "Response", "MethodNotAllowedOn", "json_response", "error_json", "error_page",
    "error_response", "redirect", "render", "static_file", "security_headers",
    "origin_of", "new_browser_id",
    # parsing
    "Request", "parse_params", "parse_cookies", "header_fields_safe",
    # the handler
    "BaseHandler",
    # serving (web.server)
    "DemoHTTPServer", "start_server", "bind", "server_url", "allowed_hosts",
    "allowed_origins", "ACCEPT_BACKOFF", "MAX_CONNECTIONS",
    # limits
    "MAX_BODY", "MAX_PARAMS", "CONNECTION_TIMEOUT", "REQUEST_DEADLINE", "COOKIE_MAX",
]

HTML = "text/html; charset=utf-8"
JSON = "application/json"
SELF = "'self'"                        # CSP form-action: our own origin only
STATIC_FILES = {"/static/app.css": "text/css; charset=utf-8",
                "/static/app.js": "text/javascript; charset=utf-8"}
STATIC_HEADERS = [("Cache-Control", "max-age=300"), ("X-Content-Type-Options", "nosniff")]
MAX_BODY = 64 * 1024          # bytes; a token request is a few hundred
MAX_PARAMS = 64               # parameters in one query string or form
CONNECTION_TIMEOUT = 10       # seconds a client may take to send its request
REQUEST_DEADLINE = 30         # seconds for a whole request, however slowly it trickles in
BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# A browser id is ours only if it looks exactly like one we made: a cookie is the client's
# input, and echoing an arbitrary one back into Set-Cookie would let it inject headers.
BROWSER_ID = re.compile(r"[A-Za-z0-9_-]{32}")
COOKIE_VALUE = re.compile(r"[A-Za-z0-9_.~-]*")
DECIMAL = re.compile(r"[0-9]{1,12}")   # ASCII only: str.isdigit() also accepts "²", which int() refuses
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")   # RFC 9110 §5.6.2: header and cookie names
# RFC 6265 §4.2: the Cookie header. Bounded before it is parsed (a browser sends at most a
# few KB to a demo), and parsed by parse_cookies, never SimpleCookie (CVE-2024-7592).
COOKIE_MAX = 8 * 1024         # bytes, all Cookie headers together
# RFC 9110 §5.5: what we put on the wire. CR or LF in a header would end it early and let
# whatever follows become headers (or a whole response) of someone else's choosing.
HEADER_VALUE = re.compile(r"[\x20-\x7e]*")   # visible ASCII and space: no control at all
JSON_TOO_DEEP = "The JSON body is nested too deeply."
INTERNAL_ERROR = "Internal error; see the server console."


# == What a route returns =====================================================================

@dataclass
class Response:
    """What a route returns: status, headers, body. The handler does the sending.

    ``form_action`` is the CSP form-action of a page: where its forms, and the redirects
    that follow them, may go (our own origin unless a page posts to a client).
    ``static`` marks one of our own CSS/JS files: cacheable, without the page headers.
    """

    status: int = 200
    body: bytes = b""
    headers: list = field(default_factory=list)
    content_type: str = HTML
    form_action: str = SELF
    static: bool = False

    def __post_init__(self):
        self.headers = list(self.headers or [])   # a copy: a caller's list is never shared

    def add_header(self, name: str, value: str) -> "Response":
        self.headers.append((name, value))
        return self

    def set_cookie(self, name: str, value: str, *, max_age: int | None = None,
                   secure: bool = False, path: str = "/") -> "Response":
        """RFC 6265bis: HttpOnly (no script can read it), SameSite=Lax (not sent on
        cross-site POSTs), Secure under https. Only values we made are ever set."""
        if not COOKIE_VALUE.fullmatch(value):
            raise ValueError("cookie values are restricted to URL-safe characters")
        parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if secure:
            parts.append("Secure")
        return self.add_header("Set-Cookie", "; ".join(parts))

    def delete_cookie(self, name: str, path: str = "/") -> "Response":
        return self.set_cookie(name, "", max_age=0, path=path)


class MethodNotAllowedOn(MethodNotAllowed):
    """A path we serve, asked with a method it does not take. RFC 9110 §15.5.6: the 405
    carries an Allow header listing the methods it does take."""

    allow: tuple = ()

    def __init__(self, method: str, path: str, allow: tuple):
        super().__init__(f"{method} is not allowed on {path}.")
        self.allow = tuple(allow)


def json_response(obj, status: int = 200, headers=None) -> Response:
    body = json.dumps(obj, indent=2).encode("utf-8")
    return Response(status, body, headers, JSON)


def error_json(err: OAuth2Error) -> Response:
    """RFC 6749 §5.2: {error, error_description}, never cached; 401s carry a challenge."""
    resp = Response(err.status_code, err.to_json(), content_type=JSON)
    if err.status_code == 401:
        resp.add_header("WWW-Authenticate", err.www_authenticate())
    return resp


GENERIC_ERROR_TITLE = "Something went wrong"


def error_page(err: OAuth2Error, hint: str = "") -> Response:
    """The escaped error page; its card says the RFC code in ``data-error`` for machines."""
    return render("error.html", title=GENERIC_ERROR_TITLE, status=err.status_code,
                  heading=GENERIC_ERROR_TITLE, error=err.error, description=err.description,
                  hint=hint)


def error_response(err: OAuth2Error, *, as_json: bool) -> Response:
    """Any error as an answer: JSON for APIs, a page for browsers, with the headers its
    status calls for."""
    resp = error_json(err) if as_json else error_page(err)
    if isinstance(err, MethodNotAllowedOn):
        resp.add_header("Allow", ", ".join(err.allow))   # RFC 9110 §15.5.6
    return add_retry_after(resp, err)


def add_retry_after(resp: Response, err: OAuth2Error | None) -> Response:
    """RFC 9110 §10.2.3: an error that knows when to come back (a 503, a 429) says so."""
    if err is not None and err.retry_after:
        resp.add_header("Retry-After", str(err.retry_after))
    return resp


def body_headers(resp: Response) -> list:
    return [("Content-Type", resp.content_type), ("Content-Length", str(len(resp.body)))]


def redirect(location: str, status: int = 302, *, form_action: str = SELF) -> Response:
    return Response(status, b"", [("Location", location)], form_action=form_action)


def new_browser_id() -> str:
    return secrets.token_urlsafe(24)   # 32 characters, 192 bits


def render(template: str, /, *, title: str, status: int = 200, form_action: str = SELF,
           **values) -> Response:
    """Fill templates/<template> and wrap it in the one layout. Every value is escaped."""
    page = fill("layout.html", title=title, content=fill(template, **values))
    return Response(status, page.encode("utf-8"), form_action=form_action)


def static_file(path: str) -> Response:
    """One of STATIC_FILES (the only paths ever read from disk: no path comes from a URL)."""
    body = (TEMPLATE_DIR / "static" / Path(path).name).read_bytes()
    return Response(200, body, content_type=STATIC_FILES[path], static=True)


def origin_of(url: str) -> str:
    """scheme://host:port of a URL: what CSP form-action and cookies care about."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers(form_action: str = SELF) -> list:
    """Headers on every response: what a page may load, and who may frame it.

    No inline script or style is allowed at all (our CSS and JS are same-origin
    files), so an injected <script> would not run even if escaping failed somewhere.
    """
    csp = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           f"connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; "
           "base-uri 'none'")
    return [("Content-Security-Policy", csp), ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
            ("Cache-Control", "no-store"), ("Pragma", "no-cache")]


# == What a request carries ===================================================================
def parse_params(text: str, refusal: str = "The parameters are not valid UTF-8.") -> dict:
    """Strictly parse a query string or form body into {name: value}.

    RFC 6749 §3.1: parameters MUST NOT be included more than once, so a repeated name
    is an error rather than "first one wins" (which lets a proxy and a server
    disagree about what was asked).
    """
    if not text:
        return {}
    if BAD_PERCENT.search(text):
        raise InvalidRequest("Malformed percent-encoding in the request.")
    try:
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                                       encoding="utf-8", errors="strict",
                                       max_num_fields=MAX_PARAMS)
    except ValueError as err:   # invalid UTF-8 once unquoted, or more than MAX_PARAMS
        raise InvalidRequest(refusal) from err
    params = {}
    for name, value in pairs:
        if name in params:
            raise InvalidRequest(f"Parameter '{name}' appears more than once.")
        params[name] = value
    return params


def parse_cookies(header: str) -> dict:
    """RFC 6265 §5.4 ``name=value; name=value`` into {name: value}, in one linear pass.

    SimpleCookie is quadratic on some inputs before Python 3.11.10 / 3.12.6 (CVE-2024-7592).
    Pieces that are not name=value are skipped: other apps on localhost share our cookies
    (cookies ignore the port) and their odd ones must not break ours. A name sent twice is
    dropped: the second one can only come from another path or another localhost port,
    and since we cannot tell which is ours, we trust neither (first-wins or last-wins
    would let another local app choose our browser id: a fixed id defeats state binding).
    """
    cookies, repeated = {}, set()
    for piece in header.split(";"):
        name, eq, value = piece.partition("=")
        name, value = name.strip(" \t"), value.strip(" \t")
        if not eq or not TOKEN.fullmatch(name):
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name in cookies:
            repeated.add(name)
        cookies[name] = value
    return {k: v for k, v in cookies.items() if k not in repeated}


def header_fields_safe(fields: list) -> bool:
    """Every (name, value) a token and visible ASCII: nothing can end a header early."""
    return all(isinstance(name, str) and isinstance(value, str) and TOKEN.fullmatch(name)
               and HEADER_VALUE.fullmatch(value) for name, value in fields)


def check_utf8(data) -> None:
    """RFC 8259 §8.1: JSON text is UTF-8. A "\\ud800" escape parses to a lone surrogate,
    which no UTF-8 can carry: refuse it here, not with a 500 when a handler encodes it."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidRequest("The JSON body has a string that is not valid Unicode "
                             "(a lone surrogate escape such as \\ud800).") from err
    except RecursionError as err:
        raise InvalidRequest(JSON_TOO_DEEP) from err


class Request:
    """One parsed request: what a route function receives."""

    def __init__(self, handler: "BaseHandler", method: str, path: str, query: dict):
        self.handler = handler
        self.method = method
        self.path = path
        self.query = query
        self.headers = handler.headers
        self._body: bytes | None = None   # read on first use: most routes take no body

    @property
    def cookies(self) -> dict:
        # BaseHandler.check_cookie_size has bounded these before any route could ask.
        return parse_cookies("; ".join(self.headers.get_all("Cookie") or []))

    def browser_id(self, cookie: str) -> str:
        """The browser-binding cookie's value if it is one we could have made, else ""."""
        value = self.cookies.get(cookie, "")
        return value if BROWSER_ID.fullmatch(value) else ""

    def require_same_origin(self):
        """A state-changing POST must come from our own pages. SameSite=Lax is not enough
        here: every localhost port is the same *site*, so only Origin tells them apart.

        Under Referrer-Policy no-referrer a browser sends ``Origin: null`` even for our own
        forms, so "null" proves nothing either way: such forms also carry a token."""
        origin = self.headers.get("Origin")
        if origin in (None, "null"):
            return
        # Our own origins, from the server's own names and port: the Host header is the
        # client's word, and under DNS rebinding the attacker's page would match it.
        if origin.strip().lower() not in allowed_origins(self.handler.server):
            raise InvalidRequest("Cross-origin request refused.", status_code=403)

    def body(self) -> bytes:
        if self._body is None:
            self._body = self.handler.read_body()
        return self._body

    def form(self) -> dict:
        refusal = "The form body is not valid UTF-8 / urlencoded data."
        try:
            text = self.body().decode("utf-8")
        except UnicodeDecodeError as err:
            raise InvalidRequest(refusal) from err
        return parse_params(text, refusal)

    def json(self) -> dict:
        try:
            data = json.loads(self.body().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise InvalidRequest("The body is not valid JSON.") from err
        except RecursionError as err:   # "[" * 60000: the parser recurses once per level
            raise InvalidRequest(JSON_TOO_DEEP) from err
        if not isinstance(data, dict):
            raise InvalidRequest("The JSON body must be an object.")
        check_utf8(data)
        return data

    def form_or_json(self) -> dict:
        """Auth0's token endpoint takes both; so do ours."""
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype == JSON:
            data = self.json()
            try:   # re-encoding a member nested just under the parser's limit can exceed it
                return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
            except RecursionError as err:
                raise InvalidRequest(JSON_TOO_DEEP) from err
        return self.form()

    def bearer_token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None


# == The HTTP log's view of a request (teaching.httplog subscribes) =========================
def exchange_of(handler: "BaseHandler", resp: Response, headers: list,
                started: tuple) -> HttpExchange:
    """The request as the handler received it and the answer it is about to send."""
    return HttpExchange(handler.actor, "front", handler.command, request_url(handler),
                        tuple(handler.headers.items()), handler.body_kept, resp.status,
                        tuple(headers), kept_body(resp.body, resp.content_type),
                        len(resp.body), started[0], time.perf_counter() - started[1],
                        threading.get_ident())


def request_url(handler: "BaseHandler") -> str:
    """The URL the client asked for, on the name it used when that name is ours."""
    base = server_url(handler.server)
    host = (handler.headers.get("Host") or "").strip().lower()
    if host not in allowed_hosts(handler.server):
        return base + handler.path
    return f"{base.split(':', 1)[0]}://{host}{handler.path}"


# == The handler ==============================================================================
class BaseHandler(BaseHTTPRequestHandler):
    """A thin handler: parse, look up the route, call it, send what it returns.

    Subclasses set ``routes = {("GET", "/path"): "method_name"}`` and, if some paths are
    APIs, ``json_paths`` (prefixes whose errors are JSON rather than pages).
    """

    server_version = "oauth-pkce-demo"
    timeout = CONNECTION_TIMEOUT  # StreamRequestHandler applies it to the socket
    default_request_version = "HTTP/1.0"  # no HTTP/0.9: every reply carries a status line
    routes: dict = {}
    json_paths: tuple = ()
    request_deadline = REQUEST_DEADLINE
    # Per request, set by setup() and dispatch(); declared here because http.server may
    # answer a malformed request before either has run.
    deadline: threading.Timer | None = None
    body_read: bool = False
    body_kept: bytes = b""    # the start of the request body, for the HTTP log
    started: tuple = ()       # (wall clock, perf counter) when dispatch began, for the log
    # Who answers here, in the HTTP log ("your app", "authorization server").
    actor: str = "server"

    def setup(self):
        super().setup()
        # The socket timeout bounds each read; this bounds the whole request, so a client
        # that sends one byte just inside every timeout (slowloris) still loses its thread.
        self.deadline = threading.Timer(self.request_deadline, self._drop_slow_client)
        self.deadline.daemon = True
        self.deadline.start()

    def _drop_slow_client(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def stop_deadline(self):
        """The whole request is in: slow work from here on is ours, not the client's."""
        if self.deadline is not None:
            self.deadline.cancel()

    def finish(self):
        self.stop_deadline()
        super().finish()

    def version_string(self) -> str:
        """The Server header names the demo, not the Python version it runs on."""
        return self.server_version

    # -- dispatch -------------------------------------------------------------------
    def __getattr__(self, name):
        # Every method, even one we never heard of, reaches dispatch and gets a 405
        # from the routes table rather than http.server's 501.
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    def dispatch(self):
        method = self.command
        if not self._body_unread():
            self.stop_deadline()   # no body to wait for: the request is complete
        self.body_read, self.body_kept = False, b""
        self.started = (time.time(), time.perf_counter())
        try:
            resp = self.answer(method)
        except DemoError as err:   # the HTTP boundary: a JOSE failure is invalid_token here
            resp = self.render_error(as_oauth2(err), self.path)
        except Exception:  # a bug: say so on the console, never in the response
            traceback.print_exc(file=sys.stderr)
            resp = self.render_error(ServerError(INTERNAL_ERROR), self.path)
        self.send(resp, head_only=(method == "HEAD"))

    def answer(self, method: str) -> Response:
        """The checks every request passes, in order, then its route."""
        self.check_host()
        self.check_framing()
        self.check_cookie_size()
        path, query = self.split_target()
        return self.route(method, path, query)

    def check_host(self):
        """DNS rebinding: a page on rebind.attacker.example whose name is then made to resolve
        to 127.0.0.1 reaches this port while the browser believes it is still talking to the
        attacker's origin, so the same-origin policy lets that page read every answer. The
        browser still says which name it used, in Host: we answer only to our own names on
        our own port (RFC 9110 §15.5.20, 421 Misdirected Request), before any routing.

        HTTP/1.1 requires exactly one Host (RFC 9112 §3.2). HTTP/1.0 may omit it: no browser
        does, and rebinding needs a browser, so such a request names nothing to refuse."""
        hosts = self.headers.get_all("Host") or []
        if not hosts and self.request_version == "HTTP/1.0":
            return
        if len(hosts) != 1:
            raise InvalidRequest("Send exactly one Host header (RFC 9112 §3.2).")
        if hosts[0].strip().lower() not in allowed_hosts(self.server):
            raise InvalidRequest(f"This server answers only to its own names "
                                 f"({server_url(self.server)}, 127.0.0.1, [::1] on that port); "
                                 "any other Host is refused (DNS rebinding). The app and the "
                                 "embedded server also answer to OAUTH_PUBLIC_HOST if set.",
                                 status_code=421)

    def check_cookie_size(self):
        """Bounded before anything parses it: no cookie we set comes near the limit."""
        if sum(len(v) for v in self.headers.get_all("Cookie") or []) > COOKIE_MAX:
            self.close_connection = True
            raise InvalidRequest(f"Cookie headers are limited to {COOKIE_MAX} bytes; "
                                 "clear this site's cookies.")

    def check_framing(self):
        """RFC 9112 §6.3: a Content-Length that is not one decimal number leaves the end of
        the body unknowable (bytes after it could be read as a second, smuggled request), so
        it is a 400 and the connection closes. An oversized body is refused unread."""
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not lengths:
            return
        if len(lengths) > 1 or not DECIMAL.fullmatch(next(iter(lengths))):
            self.close_connection = True
            raise InvalidRequest("Content-Length must be one non-negative decimal integer.")
        if int(next(iter(lengths))) > MAX_BODY:
            self.close_connection = True
            raise RequestTooLarge(f"Bodies are limited to {MAX_BODY} bytes.")

    def split_target(self) -> tuple:
        """The request target as (path, query): ASCII, strictly percent-decoded, UTF-8."""
        if not self.path.isascii():
            # RFC 3986 §2.1: other bytes must be percent-encoded; guessing a charset for
            # raw ones would let two parsers read two different values.
            raise InvalidRequest("The request target must be ASCII; percent-encode other bytes.")
        parts = urllib.parse.urlsplit(self.path)
        try:
            path = urllib.parse.unquote(parts.path, errors="strict")
        except UnicodeDecodeError as err:
            raise InvalidRequest("The path is not valid UTF-8.") from err
        if BAD_PERCENT.search(parts.path):
            raise InvalidRequest("Malformed percent-encoding in the path.")
        return path, parse_params(parts.query, "The query string is not valid UTF-8.")

    def route(self, method: str, path: str, query: dict) -> Response:
        if path in STATIC_FILES and method in ("GET", "HEAD"):
            return static_file(path)
        lookup = "GET" if method == "HEAD" else method
        name = self.routes.get((lookup, path))
        if name is None:
            raise self.no_route(method, path)
        return getattr(self, name)(Request(self, method, path, query))

    def no_route(self, method: str, path: str) -> OAuth2Error:
        """404 for a path we do not serve; 405 (with Allow) for a method it does not take."""
        allowed = sorted({m for (m, p) in self.routes if p == path})
        if not allowed:
            return NotFound(f"Nothing at {path}.")
        return MethodNotAllowedOn(method, path, allowed + (["HEAD"] if "GET" in allowed else []))

    # -- input ------------------------------------------------------------------------
    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise InvalidRequest("Chunked request bodies are not accepted; send Content-Length.",
                                 status_code=411)
        length = int(self.headers.get("Content-Length", "0").strip())  # check_framing vetted it
        self.body_read = True
        data = self.rfile.read(length)
        self.stop_deadline()
        self.body_kept = kept_body(data, self.headers.get("Content-Type", ""))
        if len(data) != length:
            raise InvalidRequest("The body ended before Content-Length bytes arrived.")
        return data

    # -- output -----------------------------------------------------------------------
    def wants_json(self, target: str) -> bool:
        path = urllib.parse.urlsplit(target or "").path
        return any(path.startswith(p) for p in self.json_paths)

    def render_error(self, err: OAuth2Error, target: str) -> Response:
        return error_response(err, as_json=self.wants_json(target))

    def extra_headers(self, resp: Response) -> list:
        """A page's security headers; subclasses may widen form-action for every page."""
        return security_headers(resp.form_action)

    def send(self, resp: Response, head_only: bool = False):
        """Write the answer (told to the HTTP log first: report_exchange)."""
        if self._body_unread():
            self.close_connection = True  # unread body bytes must not be parsed as a request
        headers = self.response_headers(resp)
        if not header_fields_safe(headers):
            resp, headers = self.refuse_unsafe_headers(headers)
        self.report_exchange(resp, headers)   # before a byte goes out: see report_exchange
        self.send_response(resp.status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if not head_only and resp.body:
            self.wfile.write(resp.body)

    def response_headers(self, resp: Response) -> list:
        headers = STATIC_HEADERS if resp.static else self.extra_headers(resp)
        return headers + resp.headers + body_headers(resp)

    def refuse_unsafe_headers(self, headers: list) -> tuple:
        """A header carrying CR, LF or another control would split the response (RFC 9110
        §5.5): a route let outside text into a header. That is our bug, so it is a 500, told
        on the console; the client gets the generic error, with only our constant headers."""
        names = [name for name, value in headers if not header_fields_safe([(name, value)])]
        target = getattr(self, "path", "")
        print(f"Refused to send header(s) {names!r} in the answer to {target!r}: "
              "control characters or non-ASCII in a header (a bug in the route).",
              file=sys.stderr)
        self.close_connection = True
        resp = self.render_error(ServerError(INTERNAL_ERROR), target)
        return resp, security_headers() + resp.headers + body_headers(resp)

    # -- the HTTP log (teaching.httplog subscribes) -------------------------------------
    def exchange_bus(self):
        """The event bus of the state this server serves (the app's, the authorization
        server's), or None: a server without one records nothing."""
        return getattr(getattr(self.server, "app", None), "events", None)

    def report_exchange(self, resp: Response, headers: list):
        """The request as received and the answer about to be sent, as one HttpExchange.

        Told before the answer is written: a browser that follows a redirect at once must
        not reach the next server before the log knows the hop that sent it there."""
        bus, started = self.exchange_bus(), self.started
        self.started = ()                  # once per request (not for http.server's errors)
        if bus is not None and started:
            bus.emit(exchange_of(self, resp, headers, started))

    def _body_unread(self) -> bool:
        headers = getattr(self, "headers", None)   # absent when the headers themselves were bad
        if headers is None or self.body_read:
            return False
        return bool(headers.get("Transfer-Encoding")
                    or headers.get("Content-Length", "0").strip() not in ("", "0"))

    def send_error(self, code, message=None, explain=None):
        """http.server's own parse failures (bad request line, huge headers) land here."""
        err = InvalidRequest(message or "Malformed HTTP request.", status_code=int(code))
        self.close_connection = True
        try:
            resp = self.render_error(err, getattr(self, "path", "") or "")
            self.send(resp, head_only=(getattr(self, "command", "") == "HEAD"))
        except (OSError, AttributeError):
            pass

    def log_message(self, format, *args):
        """Requests are narrated by the routes; http.server's access log would drown them."""
