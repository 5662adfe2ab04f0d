"""The native apps' loopback redirect: a one-shot callback server and waiting for the browser.

RFC 8252 (OAuth 2.0 for Native Apps): §7.3 a loopback redirect on any port, §8.3 why
the redirect says 127.0.0.1 rather than localhost.

A program without a web server of its own logs in like this:

1. it starts a one-shot HTTP server on 127.0.0.1, on a free port, for one request;
2. it makes the PKCE pair, state and nonce, and sends the user's browser to the
   authorization server with ``redirect_uri=http://127.0.0.1:<port>/callback``;
3. the browser comes back to that server with the code; the program checks the state
   and (the CLI, ``native.cli_login``) exchanges the code itself, or (the mobile app,
   ``native.mobile``) hands code + verifier to its backend, which holds the client secret.

Every check is the one OIDC client path (``client.oidc``) the web app uses:
``OIDCClient.begin``, ``PendingLogins``, ``check_callback`` / ``complete``, ``refresh``.
"""
from __future__ import annotations

import errno
import math
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable

from oauthdemo.client.oidc import OIDCClient
from oauthdemo.client.pending import PendingLogins
from oauthdemo.core.errors import ConfigError, InvalidState, LoginTimedOut, OAuth2Error
from oauthdemo.core.events import Announced
from oauthdemo.core.loopback import is_loopback_url
from oauthdemo.native.browser import open_in_background
from oauthdemo.settings import DEFAULT_SCOPE
from oauthdemo.web import httpkit
from oauthdemo.web.httpkit import render

CALLBACK_PATH = "/callback"
BIND_HOST = "127.0.0.1"           # loopback only: nothing else on the network can reach it
DEFAULT_TIMEOUT = 120             # seconds to wait for the browser
TTY_TICK = 1.0                    # the countdown on a terminal is redrawn every second
PLAIN_INTERVAL = 30               # elsewhere (a log, CI) a plain line every 30 seconds
PAGE_ASSETS = frozenset(httpkit.STATIC_FILES)   # what the "close this window" page loads
ASSET_GRACE = 5.0                 # seconds the server stays up for them once the login moved on


# == the one-shot loopback server =============================================================

class CallbackCatcher:
    """What the loopback server waits for: ONE callback carrying a state we issued.

    Anything else (/favicon.ico, another path, a missing or unknown state) gets a small
    page and is otherwise ignored, so a stray request cannot end the login. The state is
    only peeked at here; the real check (single use, expiry) is PendingLogins.take, inside
    OIDCClient.check_callback, exactly as in the web app.
    """

    def __init__(self, pending: PendingLogins, actor: str):
        self.pending = pending
        self.actor = actor
        self.params = None
        self.arrived = threading.Event()
        self.lock = threading.Lock()
        self.page_in_browser = False          # the callback's page went to a real browser
        self.assets_wanted = set(PAGE_ASSETS)
        self.assets_served = threading.Event()

    def claim(self, params: dict) -> str:
        state = params.get("state")
        with self.lock:
            if self.params is not None:
                return "used"
            if not state or self.pending.peek(state) is None:
                return "stray"
            self.params = dict(params)
            return "claimed"

    def served(self, path: str):
        """One of the page's stylesheet and script went out."""
        with self.lock:
            self.assets_wanted.discard(path)
            if not self.assets_wanted:
                self.assets_served.set()


class LoopbackHandler(httpkit.BaseHandler):
    """GET /callback and nothing else; every page says what happened, every value escaped."""

    routes = {("GET", CALLBACK_PATH): "callback"}
    claimed = False   # this request carried the login's callback
    asset = None      # this request asked for the page's stylesheet or script

    @property
    def catcher(self) -> CallbackCatcher:
        return self.server.app

    def callback(self, req):
        verdict = self.catcher.claim(req.query) if req.method == "GET" else "stray"
        if verdict == "stray":
            raise InvalidState("This request has no state, or a state this login did not "
                               "issue; it was ignored.")
        if verdict == "used":
            return self.page(410, "Already received", "You can close this window",
                             "This login's callback has already arrived.", "")
        self.claimed = True
        self.catcher.page_in_browser = "text/html" in req.headers.get("Accept", "")
        return self.page(200, "Login received", "You can close this window",
                         *self.outcome(req.query))

    def outcome(self, params: dict) -> tuple:
        if params.get("error"):
            return (f"The authorization server answered error={params['error']}: "
                    f"{params.get('error_description') or 'no description'}.",
                    f"The {self.catcher.actor} in your terminal says what to do next.")
        return (f"The {self.catcher.actor} received the authorization code and is exchanging it "
                "now; the result appears in your terminal.",
                "The code works once, only with the PKCE verifier that never left the terminal.")

    def page(self, status: int, eyebrow: str, heading: str, message: str, detail: str):
        return render("loopback_done.html", title=heading, status=status, eyebrow=eyebrow,
                      heading=heading, message=message, detail=detail)

    def render_error(self, err: OAuth2Error, target: str):
        return self.page(err.status_code, "Not the login callback", "Still waiting for the login",
                         "The login in your terminal is still waiting; this request was ignored.",
                         f"{err.error}: {err.description}")

    def route(self, method: str, path: str, query: dict):
        self.asset = path if path in PAGE_ASSETS else None
        return super().route(method, path, query)

    def send(self, resp, head_only: bool = False):
        try:
            super().send(resp, head_only)
        finally:
            if self.claimed:
                self.catcher.arrived.set()   # only now: the page is out before the command ends
            if self.asset and resp.status == 200:
                self.catcher.served(self.asset)


class LoopbackServer:
    """``with LoopbackServer(port, pending, actor) as loop:`` — listening for one login."""

    def __init__(self, port: int, pending: PendingLogins, actor: str):
        self.catcher = CallbackCatcher(pending, actor)
        self.wanted_port = port
        self.server = None
        self.port = None

    def __enter__(self) -> "LoopbackServer":
        try:
            self.server = httpkit.bind(LoopbackHandler, BIND_HOST, self.wanted_port,
                                       self.catcher, "the login callback", "--port")
        except ConfigError as err:
            if self.wanted_port and port_in_use(err.__cause__):
                raise callback_port_busy(self.wanted_port) from err
            raise
        self.port = self.server.server_address[1]
        return self

    def __exit__(self, exc_type, *exc):
        """The login moves on at once. A browser that got the page asks for its stylesheet
        and script a moment later: the server stays up (in the background) until they are
        out, or ASSET_GRACE passes, so the page is styled rather than bare HTML."""
        if exc_type is None and self.catcher.page_in_browser:
            threading.Thread(target=self.close_after_assets, name="loopback-assets",
                             daemon=True).start()
        else:
            self.close()

    def close_after_assets(self):
        self.catcher.assets_served.wait(ASSET_GRACE)
        self.close()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def redirect_uri(self, host: str) -> str:
        return f"http://{host}:{self.port}{CALLBACK_PATH}"


def port_in_use(err) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.EADDRINUSE,
                                                      getattr(errno, "WSAEADDRINUSE", -1))


def callback_port_busy(port: int) -> ConfigError:
    """A fixed --port (kept for ssh -L) that something holds: say what, and what to do."""
    other = port + 1 if port < 65535 else port - 1
    return ConfigError(
        f"Port {port} on {BIND_HOST} (the login callback, --port {port}) is already in use: "
        "another login still waiting, another program, or an ssh -L forward holding it. Free "
        f"it, or leave --port out (any free port), or choose another (--port {other}) and "
        f"forward that one instead (ssh -L {other}:127.0.0.1:{other}).")


# == waiting for the browser ====================================================================

class Countdown:
    """The waiting line: redrawn in place on a terminal, a plain line now and then otherwise.

    It writes to the stream directly because its only text is our own (seconds left); the
    CR and erase-line codes are ours too, the way it redraws in place. No stream: silent."""

    def __init__(self, stream, what: str = "waiting for the browser", limit: str = ""):
        self.stream = stream
        self.what = what
        self.limit = limit                 # whose deadline is counted down, when it matters
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = TTY_TICK if self.live else PLAIN_INTERVAL
        self.plain_due = math.inf          # seconds left when the next plain line is due

    def show(self, left: float):
        seconds = math.ceil(left)
        if self.live:
            self.write(f"\r  {self.what}... {seconds // 60}:{seconds % 60:02d} left "
                       f"({self.limit or 'Ctrl-C cancels'})\033[K")
        else:
            self.write(f"  {self.what}... {seconds} s left" +
                       (f" ({self.limit})\n" if self.limit else "\n"))

    def tick(self, left: float):
        """For a caller that wakes more often than the plain lines should appear (the device
        login polls every few seconds): redraw on a terminal, else a line every interval."""
        if self.live or left <= self.plain_due:
            self.show(left)
            self.plain_due = left - self.interval

    def finish(self):
        if self.live:
            self.write("\r\033[K")

    def write(self, text: str):
        if self.stream is None:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass


def wait_for_callback(catcher: CallbackCatcher, timeout: float, stream) -> dict | None:
    """The callback's parameters, or None when the timeout passes first."""
    countdown = Countdown(stream)
    deadline = time.monotonic() + timeout
    try:
        while not catcher.arrived.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            countdown.show(left)
            catcher.arrived.wait(min(countdown.interval, left))
    finally:
        countdown.finish()
    return catcher.params


# == Steps 1–6 for any native app: loopback server, PKCE request, browser, one callback ========

@dataclass(frozen=True)
class LoopbackOptions:
    timeout: float = DEFAULT_TIMEOUT
    port: int = 0                       # 0: any free port (RFC 8252 §7.3)
    open_browser: bool = True
    redirect_host: str = "127.0.0.1"
    scope: str = DEFAULT_SCOPE
    countdown: object = None            # the terminal the countdown is drawn on; None: none
    on_url: Callable[[str], None] | None = None   # also hand the URL here (tests play the browser)


def catch_callback(client: OIDCClient, opts: LoopbackOptions) -> tuple:
    """Returns (callback parameters, pending logins); raises LoginTimedOut."""
    events, actor = client.events, client.actor
    pending = PendingLogins(clock=client.clock)
    with LoopbackServer(opts.port, pending, actor) as loop:
        redirect_uri = loop.redirect_uri(opts.redirect_host)
        events.show(actor, "listening on ", f"{BIND_HOST}:{loop.port}",
                    "a one-shot server, loopback only; a free port unless --port")
        events.show(actor, "redirect_uri ", redirect_uri,
                    "a native app's loopback redirect; any port is allowed, RFC 8252 §7.3")
        auth = client.begin(redirect_uri, scope=opts.scope)
        pending.add(auth)
        show_authorize_url(client, auth.url, loop.port, opts)
        params = wait_for_callback(loop.catcher, opts.timeout, opts.countdown)
    if params is None:
        raise LoginTimedOut(f"No login arrived within {opts.timeout:g} s, so the callback server "
                            "has stopped and nothing was saved. Run the command again "
                            "(--timeout sets how long to wait).")
    return params, pending


def show_authorize_url(client: OIDCClient, url: str, port: int, opts: LoopbackOptions):
    """Always printed, even when a browser opens: it may open on the wrong screen, or none."""
    lines = ("", "  Open this URL in a browser to log in:", "", f"    {url}", "",
             *ssh_hint(port, client.provider.issuer), "")
    client.events.emit(Announced(client.actor, lines))
    if opts.open_browser and open_in_background(url):
        client.events.emit(Announced(client.actor, ("  (opening your browser)",)))
    if opts.on_url is not None:
        opts.on_url(url)


def ssh_hint(port: int, issuer: str) -> list:
    """A browser on another computer reaches the callback (and a local provider) through SSH."""
    forwards = [f"-L {port}:127.0.0.1:{port}"]
    parts = urllib.parse.urlsplit(issuer)
    if is_loopback_url(issuer) and parts.port:
        forwards.append(f"-L {parts.port}:127.0.0.1:{parts.port}")
    return ["  No browser on this machine (an SSH session)? On the computer with the browser run",
            f"    ssh {' '.join(forwards)} you@this-machine",
            "  then open the URL there. (--port keeps the callback port the same between runs.)"]
