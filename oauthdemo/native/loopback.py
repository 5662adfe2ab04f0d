"""Logging in from a terminal: the CLI (flytectl / gh style) and the mobile app's thin client.

RFC 8252 (OAuth 2.0 for Native Apps): §7.3 a loopback redirect on any port, §8.3 why
the redirect says 127.0.0.1 rather than localhost; RFC 7636 (PKCE), OpenID Connect
Core §3.1.2.1 (nonce), RFC 6749 §6 (refresh, with rotation).

A program without a web server of its own logs in like this:

1. it starts a one-shot HTTP server on 127.0.0.1, on a free port, for one request;
2. it makes the PKCE pair, state and nonce, and sends the user's browser to the
   authorization server with ``redirect_uri=http://127.0.0.1:<port>/callback``;
3. the browser comes back to that server with the code; the program checks the state
   and (the CLI) exchanges the code itself, or (the mobile app) hands code + verifier
   to its backend, which holds the client secret (oauthdemo/backend.py).

Every check is the one OIDC client path (oauthdemo/oidc.py) the web app uses:
``OIDCClient.begin``, ``PendingLogins``, ``check_callback`` / ``complete``, ``refresh``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import sys
import threading
import time
import urllib.parse
import webbrowser
from pathlib import Path

from oauthdemo.server import authserver
from oauthdemo.web import httpkit
from oauthdemo.core import jose
from oauthdemo.server.keys import KEY_CACHE_FILENAME
from oauthdemo.core import paths
from oauthdemo.core.loopback import is_loopback_url
from oauthdemo import settings
from oauthdemo.core.errors import (ConfigError, InvalidState, JoseError, LoginTimedOut,
                                   OAuth2Error, ProviderBadResponse, ProviderError,
                                   TokenCacheError)
from oauthdemo.web.httpkit import render
from oauthdemo.teaching.narrator import Narrator
from oauthdemo.client.oidc import (OIDCClient, PendingLogins, http_json,
                          human_duration)

CALLBACK_PATH = "/callback"
BIND_HOST = "127.0.0.1"           # loopback only: nothing else on the network can reach it
REDIRECT_HOSTS = ("127.0.0.1", "localhost")   # RFC 8252 §8.3 prefers the IP literal
DEFAULT_TIMEOUT = 120             # seconds to wait for the browser
TTY_TICK = 1.0                    # the countdown on a terminal is redrawn every second
PLAIN_INTERVAL = 30               # elsewhere (a log, CI) a plain line every 30 seconds
PROBE_TIMEOUT = 2                 # looking for a demo already running on --idp-port
TOKEN_CACHE_NAME = "tokens.json"
SAVED_TOKEN_FIELDS = ("access_token", "refresh_token", "id_token", "token_type", "scope",
                      "expires_in")



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

    def claim(self, params: dict) -> str:
        state = params.get("state")
        with self.lock:
            if self.params is not None:
                return "used"
            if not state or self.pending.peek(state) is None:
                return "stray"
            self.params = dict(params)
            return "claimed"


class LoopbackHandler(httpkit.BaseHandler):
    """GET /callback and nothing else; every page says what happened, every value escaped."""

    routes = {("GET", CALLBACK_PATH): "callback"}

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
        resp = self.page(200, "Login received", "You can close this window",
                         *self.outcome(req.query))
        resp.claimed = True
        return resp

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

    def send(self, resp, head_only: bool = False):
        try:
            super().send(resp, head_only)
        finally:
            if getattr(resp, "claimed", False):
                self.catcher.arrived.set()   # only now: the page is out before the command ends


class LoopbackServer:
    """``with LoopbackServer(port, pending, actor) as loop:`` — listening for one login."""

    def __init__(self, port: int, pending: PendingLogins, actor: str):
        self.catcher = CallbackCatcher(pending, actor)
        self.wanted_port = port
        self.server = None
        self.port = None

    def __enter__(self) -> "LoopbackServer":
        self.server = httpkit.bind(LoopbackHandler, BIND_HOST, self.wanted_port, self.catcher,
                                  "the login callback", "--port")
        self.port = self.server.server_address[1]
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def redirect_uri(self, host: str) -> str:
        return f"http://{host}:{self.port}{CALLBACK_PATH}"


# == waiting for the browser ====================================================================

class Countdown:
    """The waiting line: redrawn in place on a terminal, a plain line now and then otherwise.

    It writes to the stream directly because its only text is our own (seconds left); the
    CR and erase-line codes are ours too, the way it redraws in place."""

    def __init__(self, stream):
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = TTY_TICK if self.live else PLAIN_INTERVAL

    def show(self, left: float):
        seconds = math.ceil(left)
        if self.live:
            self.write(f"\r  waiting for the browser... {seconds // 60}:{seconds % 60:02d} left "
                       "(Ctrl-C cancels)\033[K")
        else:
            self.write(f"  waiting for the browser... {seconds} s left\n")

    def finish(self):
        if self.live:
            self.write("\r\033[K")

    def write(self, text: str):
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

@dataclasses.dataclass
class LoopbackOptions:
    timeout: float = DEFAULT_TIMEOUT
    port: int = 0
    open_browser: bool = True
    redirect_host: str = "127.0.0.1"
    scope: str = settings.DEFAULT_SCOPE


def catch_callback(client: OIDCClient, opts: LoopbackOptions, on_url=None) -> tuple:
    """Returns (callback parameters, pending logins); raises LoginTimedOut."""
    n, actor = client.narrator, client.actor
    pending = PendingLogins(clock=client.clock)
    with LoopbackServer(opts.port, pending, actor) as loop:
        redirect_uri = loop.redirect_uri(opts.redirect_host)
        n.value(actor, "listening on ", f"{BIND_HOST}:{loop.port}",
                "a one-shot server, loopback only; a free port unless --port")
        n.value(actor, "redirect_uri ", redirect_uri,
                "a native app's loopback redirect; any port is allowed, RFC 8252 §7.3")
        auth = client.begin(redirect_uri, scope=opts.scope)
        pending.add(auth)
        show_authorize_url(auth.url, loop.port, client.provider.issuer, n, opts.open_browser)
        if on_url is not None:
            on_url(auth.url)
        params = wait_for_callback(loop.catcher, opts.timeout, n.stream)
    if params is None:
        raise LoginTimedOut(f"No login arrived within {opts.timeout:g} s, so the callback server "
                            "has stopped and nothing was saved. Run the command again "
                            "(--timeout sets how long to wait).")
    return params, pending


def show_authorize_url(url: str, port: int, issuer: str, narrator: Narrator, open_browser: bool):
    """Always printed, even when a browser opens: it may open on the wrong screen, or none."""
    lines = ["", "  Open this URL in a browser to log in:", "", f"    {url}", ""]
    narrator.banner(lines + ssh_hint(port, issuer) + [""])
    if open_browser and can_open_browser():
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        narrator.banner(["  (opening your browser)"])


def can_open_browser() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def ssh_hint(port: int, issuer: str) -> list:
    """A browser on another computer reaches the callback (and a local provider) through SSH."""
    forwards = [f"-L {port}:127.0.0.1:{port}"]
    parts = urllib.parse.urlsplit(issuer)
    if is_loopback_url(issuer) and parts.port:
        forwards.append(f"-L {parts.port}:127.0.0.1:{parts.port}")
    return ["  No browser on this machine (an SSH session)? On the computer with the browser run",
            f"    ssh {' '.join(forwards)} you@this-machine",
            "  then open the URL there. (--port keeps the callback port the same between runs.)"]


# == the CLI: `python3 complete_oauth_demo.py login` =========================================

def cli_login(cfg, opts: LoopbackOptions, args, narrator: Narrator, on_url=None, keys=None):
    with native_client(cfg, narrator, keys) as client:
        if args.refresh:
            return refresh_saved(client, token_cache_path())
        narrator.step(1, "The CLI starts a login (a native app with a loopback redirect)")
        params, pending = catch_callback(client, opts, on_url)
        result = client.complete(params, pending, browser="")
        user = user_of(result.id_claims)
        saved = save_tokens(client, result.tokens, user, token_cache_path()) if args.save else None
        print_outcome(narrator, user, result.tokens, client.clock(),
                      id_exp=result.id_claims.get("exp"), saved_to=saved)


@contextlib.contextmanager
def native_client(cfg, narrator: Narrator, keys=None):
    """The CLI's OIDC client; an embedded server started for it stops when the command ends."""
    provider, server = native_provider(cfg, narrator, keys)
    try:
        client = OIDCClient(provider, narrator=narrator, actor="CLI")
        client.discover()
        if provider.kind == "embedded" and server is None:
            # A demo found running: for this whole command trust only the key it was shown
            # to hold (running_embedded), so it cannot switch to a key of its own later.
            client.pin_key(cached_public_key(paths.user_cache_dir() / KEY_CACHE_FILENAME))
        yield client
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()


def native_provider(cfg, narrator: Narrator, keys=None) -> tuple:
    """(Provider, server or None). A configured provider; else the demo already serving on
    --idp-port (its refresh tokens outlive this command); else an embedded server started
    here on --idp-port. A port held by something else is an error, not a silent switch."""
    p = cfg.provider
    if p.kind != "embedded":
        if p.client_secret:
            narrator.banner(["  Note: the CLI is a public client; it never sends a client secret "
                             "(register a Native application for it)."])
        return settings.Provider(p.kind, p.issuer, p.client_id, None, p.audience), None
    issuer, server = running_embedded(cfg), None
    if issuer is None:
        auth, server = authserver.start_embedded(cfg, narrator, time.time, keys)
        issuer = auth.issuer
        narrator.banner([f"  Started the embedded authorization server at {issuer} for this "
                         "command (its tokens end with it)."])
    else:
        narrator.banner([f"  Using the demo's authorization server already running at {issuer}"])
    return settings.Provider("embedded", issuer, cfg.embedded["native_client_id"], None,
                             p.audience or authserver.DEFAULT_AUDIENCE), server


def running_embedded(cfg) -> str | None:
    """The issuer of a demo already serving on --idp-port, if there is one and it is ours."""
    if not cfg.idp_port:
        return None
    issuer = f"http://localhost:{cfg.idp_port}/"
    try:
        status, meta = http_json(issuer + ".well-known/openid-configuration",
                                 timeout=PROBE_TIMEOUT)
    except OAuth2Error:
        return None
    if status != 200 or meta.get("issuer") != issuer:
        return None
    require_our_signing_key(issuer, meta)
    return issuer


def require_our_signing_key(issuer: str, meta: dict) -> None:
    """Any program can listen on localhost:<idp-port> first (another user's, a stale copy,
    malware); logging in against it would hand it the login and trust the tokens it signs.
    The demo signs with the key in our 0600 key cache, which no one else can read: the server
    must publish that key and no other (one more key of its own would let it sign tokens)."""
    cache = paths.user_cache_dir() / KEY_CACHE_FILENAME
    ours = cached_public_key(cache)
    if ours is None:
        raise not_ours(issuer, f"there is no signing key in {cache} to compare with")
    published = published_keys(issuer, meta.get("jwks_uri"))
    if not published or any(key != ours for key in published):
        raise not_ours(issuer, f"its JWKS does not publish exactly the signing key in {cache}")


def cached_public_key(cache: Path) -> jose.RSAPublicKey | None:
    """The public half of the demo's cached signing key, None if there is none (or unusable)."""
    try:
        data = paths.read_private_file(cache)
        key = jose.rsa_private_key_from_jwk(json.loads(data)) if data is not None else None
        return key.public_key if key is not None else None
    except paths.UnsafePermissions as err:   # a key others could read proves nothing
        raise ConfigError(f"Refusing to use the cached signing key: {err}") from err
    except (OSError, ValueError, JoseError):
        return None


def published_keys(issuer: str, jwks_uri) -> list:
    """The server's own JWKS, compared by the numbers n and e: its 'kid' members are just text."""
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(issuer):
        return []   # keys fetched from elsewhere would say nothing about this server
    try:
        status, doc = http_json(jwks_uri, timeout=PROBE_TIMEOUT)
        entries = doc.get("keys") if status == 200 else None
        if not isinstance(entries, list):
            return []
        return [jose.rsa_public_key_from_jwk(jwk) for jwk in entries]
    except (OAuth2Error, JoseError):
        return []


def not_ours(issuer: str, reason: str) -> ConfigError:
    port = urllib.parse.urlsplit(issuer).port
    return ConfigError(
        f"Something else answers on localhost:{port}: it cannot be shown to be this demo's "
        f"authorization server ({reason}), so the CLI will not log in against it. Stop that "
        f"program, or choose a free port (--idp-port {port + 10}) and the CLI starts its own "
        "server; if it is the demo run with another OAUTH_DEMO_CACHE_DIR, use the same one here.")


def user_of(claims: dict) -> dict:
    return {"sub": claims["sub"], "name": claims.get("name"), "email": claims.get("email")}


def print_outcome(narrator: Narrator, user: dict, tokens: dict, now: float, *,
                  id_exp=None, saved_to: Path | None = None):
    """Who logged in and when the tokens expire: the command's result, shown even with --quiet."""
    email = f" <{user['email']}>" if user.get("email") else ""
    lines = ["", f"  Logged in as {user.get('name') or user['sub']}{email}",
             f"    sub            {user['sub']}"]
    if tokens.get("expires_in"):
        lines.append(f"    access token   expires {when(now + int(tokens['expires_in']), now)}")
    if id_exp:
        lines.append(f"    ID token       expires {when(id_exp, now)}")
    lines.append("    refresh token  " + ("received; it rotates on every use"
                                          if tokens.get("refresh_token") else "none"))
    lines.append(f"    saved to       {saved_to} (mode 600, owner only)" if saved_to else
                 "    not saved      (add --save to keep them for --refresh)")
    narrator.banner(lines + [""])


def when(moment: float, now: float) -> str:
    local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))
    return f"{local} (in {human_duration(moment - now)})"


# -- the token cache ---------------------------------------------------------------------------

def token_cache_path() -> Path:
    return paths.user_cache_dir() / TOKEN_CACHE_NAME


def save_tokens(client: OIDCClient, tokens: dict, user: dict, path: Path) -> Path:
    """Mode 0600 via paths.write_private_file, which refuses when it cannot guarantee it."""
    now = int(client.clock())
    record = {"issuer": client.provider.issuer, "client_id": client.provider.client_id,
              "user": user, "saved_at": now,
              "tokens": {k: tokens[k] for k in SAVED_TOKEN_FIELDS if tokens.get(k)}}
    try:
        paths.write_private_file(path, json.dumps(record, indent=2).encode("utf-8"))
    except OSError as err:   # UnsafePermissions too: better no cache than a readable one
        raise TokenCacheError(f"Not saving the tokens: {err}") from err
    client.narrator.ok("CLI", f"tokens saved to {path} (mode 600)")
    return path


def load_tokens(client: OIDCClient, path: Path) -> dict:
    try:
        raw = paths.read_private_file(path)
        saved = json.loads(raw) if raw is not None else None
    except paths.UnsafePermissions as err:
        raise TokenCacheError(f"Refusing to use the saved tokens: {err}") from err
    except (ValueError, UnicodeDecodeError) as err:
        raise TokenCacheError(f"{path} is not valid JSON; log in with --save again.") from err
    if saved is None:
        raise TokenCacheError(f"No saved tokens at {path}: log in with --save first.")
    if not (isinstance(saved, dict) and isinstance(saved.get("user"), dict)
            and isinstance(saved.get("tokens"), dict) and saved["tokens"].get("refresh_token")):
        raise TokenCacheError(f"{path} holds no refresh token; log in with --save again.")
    if (saved.get("issuer"), saved.get("client_id")) != (client.provider.issuer,
                                                          client.provider.client_id):
        raise TokenCacheError(f"The saved tokens are for {saved.get('issuer')} (client "
                              f"{saved.get('client_id')}), not for {client.provider.issuer}; "
                              "log in with --save again.")
    return saved


def refresh_saved(client: OIDCClient, path: Path):
    """RFC 6749 §6: the saved refresh token buys new tokens; the rotated one is saved."""
    n = client.narrator
    saved = load_tokens(client, path)
    old = saved["tokens"]["refresh_token"]
    n.step(11, "Refresh: the saved refresh token buys new tokens")
    n.value("CLI", "refresh_token", n.token(old), f"read from {path}")
    tokens = client.refresh(old, id_claims=saved["user"])
    if tokens.get("refresh_token") and tokens["refresh_token"] != old:
        n.ok("CLI", "the server rotated the refresh token: the saved one is dead now, the new one "
                    "replaces it")
    else:
        tokens["refresh_token"] = old   # a provider that does not rotate: keep using the old one
    save_tokens(client, tokens, saved["user"], path)
    print_outcome(n, saved["user"], tokens, client.clock(), saved_to=path)


# == the mobile app: `python3 complete_oauth_demo.py mobile` ==================================

def mobile_login(backend_url: str, opts: LoopbackOptions, narrator: Narrator, on_url=None):
    """The thin client: no secret; it makes the PKCE pair and lets the backend redeem the code."""
    narrator.step(1, "The mobile app starts a login through its backend")
    client, config = mobile_client(backend_url, narrator)
    opts = dataclasses.replace(opts, scope=config.get("scope") or opts.scope)
    params, pending = catch_callback(client, opts, on_url)
    req, code = client.check_callback(params, pending, browser="")
    answer = hand_code_to_backend(backend_url, code, req, narrator)
    call_backend_api(backend_url, answer, narrator)


def mobile_client(backend_url: str, narrator: Narrator) -> tuple:
    """The app ships only its backend's address; the login settings come from there."""
    narrator.say("mobile app", f"GET {backend_url}/auth/config")
    config = backend_call(backend_url + "/auth/config")
    if not (config.get("issuer") and config.get("client_id")):
        raise ProviderBadResponse("The backend's /auth/config has no issuer or client_id.")
    narrator.say("backend", f"issuer={config['issuer']}  client_id={config['client_id']}  "
                            "(public values; the client secret never leaves the backend)")
    provider = settings.Provider("oidc", config["issuer"], config["client_id"], None,
                                 config.get("audience"))
    client = OIDCClient(provider, narrator=narrator, actor="mobile app")
    client.discover()
    return client, config


def hand_code_to_backend(backend_url: str, code: str, req, narrator: Narrator) -> dict:
    n = narrator
    n.step(7, "The mobile app hands the code and its verifier to the backend", flow=req.flow)
    fields = {"code": code, "code_verifier": req.verifier, "redirect_uri": req.redirect_uri,
              "nonce": req.nonce}
    n.say("mobile app", f"POST {backend_url}/auth/exchange")
    for name, value in fields.items():
        n.value("mobile app", f"  {name}", n.token(value) if name == "code" else value,
                HANDOFF_NOTES[name])
    answer = backend_call(backend_url + "/auth/exchange", data=fields)
    if not isinstance(answer.get("session_token"), str):
        raise ProviderBadResponse("The backend's answer has no session_token.")
    user = answer.get("user_info") or {}
    n.value("backend", "session_token", n.token(answer["session_token"]),
            "the backend's own HS256 token; the provider's tokens stay on the backend")
    n.value("backend", "user_info    ", f"{user.get('name')} <{user.get('email')}>")
    n.value("backend", "expires_in   ", answer.get("expires_in"),
            "seconds; POST /auth/refresh renews it")
    return answer


def call_backend_api(backend_url: str, answer: dict, narrator: Narrator):
    n, token = narrator, answer["session_token"]
    n.step(10, "The mobile app calls its backend's protected API with the session token")
    n.say("mobile app", f"GET {backend_url}/api/me   Authorization: Bearer {n.token(token)}")
    reply = backend_call(backend_url + "/api/me", token=token)
    n.ok("backend", str(reply.get("message", "200 OK")))
    user = answer.get("user_info") or {}
    n.banner(["", f"  Logged in through the backend as {user.get('name') or user.get('sub')}",
              f"    session token  {n.token(token)}",
              f"    expires        in {human_duration(int(answer.get('expires_in') or 0))} "
              "(POST /auth/refresh with it renews it; POST /auth/logout ends it)",
              "    the provider's tokens are kept by the backend, never by the app", ""])


def backend_call(url: str, *, data: dict | None = None, token: str | None = None) -> dict:
    """One request to the backend; a JSON error from it keeps its code (invalid_grant …)."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    status, body = http_json(url, data=data, headers=headers)
    if status != 200:
        raise ProviderError(str(body.get("error_description") or "No description given."),
                            error=str(body.get("error") or "backend_error"), status_code=status)
    return body


HANDOFF_NOTES = {
    "code": "one use; worthless without the verifier",
    "code_verifier": "the app's PKCE secret, revealed only now, to its own backend",
    "redirect_uri": "the backend checks it is a loopback /callback, then repeats it",
    "nonce": "the backend checks the ID token carries it",
}


# == command lines ==============================================================================

















