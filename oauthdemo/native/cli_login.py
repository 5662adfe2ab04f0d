"""The CLI login (``python3 complete_oauth_demo.py login``): a native app, as gh and flytectl.

RFC 8252 (OAuth 2.0 for Native Apps): a public client (§8.4: no secret, since anyone can
read a program's secret), PKCE (RFC 7636), the loopback redirect of ``native.loopback``;
OpenID Connect Core §3.1.3.7 (the ID token is checked as the web app checks it).

Which authorization server: a configured provider; else the demo already running on
--idp-port, but only when it proves to be ours (it publishes exactly the signing key in
our 0600 key cache; see ``require_our_signing_key``); else an embedded server started for
this one command.
"""
from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.parse
from pathlib import Path

from oauthdemo.client.oidc import OIDCClient
from oauthdemo.client.transport import http_json
from oauthdemo.core import jose, paths
from oauthdemo.core.errors import ConfigError, JoseError, OAuth2Error
from oauthdemo.core.events import Announced, EventBus
from oauthdemo.core.steps import Step
from oauthdemo.native import tokencache
from oauthdemo.native.loopback import LoopbackOptions, catch_callback
from oauthdemo.native.tokencache import Outcome
from oauthdemo.server import authserver
from oauthdemo.server.keys import KEY_CACHE_FILENAME
from oauthdemo.settings import Provider, Settings

ACTOR = "CLI"
PROBE_TIMEOUT = 2                 # looking for a demo already running on --idp-port


def log_in(cfg: Settings, opts: LoopbackOptions, events: EventBus, *, save: bool = False,
           keys=None) -> Outcome:
    """Steps 1–9 from the terminal; ``keys`` signs for an embedded server started here."""
    with native_client(cfg, events, keys) as (client, elsewhere):
        state = client.reserve_state()   # made first, so that Step 1 carries this login's tag
        events.step(ACTOR, Step.LOGIN, flow=state[:6],
                    context="the CLI, a native app with a loopback redirect")
        if elsewhere:
            events.say(ACTOR, elsewhere)
        params, pending = catch_callback(client, opts)
        result = client.complete(params, pending, browser="")
        user = user_of(result.id_claims)
        path = tokencache.token_cache_path()
        saved = tokencache.save_tokens(client, result.tokens, user, path) if save else None
        return Outcome(user, result.tokens, client.clock(), id_exp=result.id_claims.get("exp"),
                       saved_to=saved)


def refresh(cfg: Settings, events: EventBus, keys=None) -> Outcome:
    """``login --refresh``: new tokens for the saved refresh token, without a browser."""
    with native_client(cfg, events, keys) as (client, _):
        return tokencache.refresh_saved(client, tokencache.token_cache_path())


def remote_session(environ) -> str:
    """Why a browser here could not reach the loopback callback, or "" when it probably can:
    an SSH session, or Linux with no display (a container, a server, WSL without WSLg)."""
    if environ.get("SSH_CONNECTION") or environ.get("SSH_TTY"):
        return "This is an SSH session"
    if sys.platform.startswith("linux") and not (environ.get("DISPLAY")
                                                 or environ.get("WAYLAND_DISPLAY")):
        return "There is no display here"
    return ""


def suggest_device(events: EventBus, environ) -> None:
    """The loopback redirect needs a browser on THIS machine; say so before waiting for one."""
    why = remote_session(environ)
    if why:
        events.emit(Announced(ACTOR, (
            f"  {why}: a browser elsewhere cannot reach this machine's 127.0.0.1 callback.",
            "  Easier: `login --device` (type a code into any browser, your phone included);",
            "  or keep this login and forward the callback port with ssh -L (below).")))


def user_of(claims: dict) -> dict:
    return {"sub": claims["sub"], "name": claims.get("name"), "email": claims.get("email")}


def announce(events: EventBus, line: str):
    events.emit(Announced(ACTOR, (line,)))


# == which authorization server, as which client ================================================

@contextlib.contextmanager
def native_client(cfg: Settings, events: EventBus, keys=None, grant: str = "code"):
    """(the CLI's OIDC client, where the server's steps are told); an embedded server started
    for it stops when the command ends. ``grant``: "device" for ``login --device``."""
    provider, server = native_provider(cfg, events, keys)
    try:
        client = OIDCClient.discover(provider, events=events, actor=ACTOR, grant=grant)
        if provider.kind == "embedded" and server is None:
            # A demo found running: for this whole command trust only the key it was shown
            # to hold (running_embedded), so it cannot switch to a key of its own later.
            client.pin_key(cached_public_key(key_cache_path()))
        yield client, steps_elsewhere(provider, server)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()


def steps_elsewhere(provider: Provider, server) -> str:
    """Which steps this terminal does not show: the server's, unless it runs in this process."""
    if server is not None:
        return ""
    if provider.kind == "embedded":
        return "Steps 4, 5 and 8 happen at the authorization server: see the demo's console"
    return f"Steps 4, 5 and 8 happen at the provider ({provider.issuer}), out of sight"


def native_provider(cfg: Settings, events: EventBus, keys=None) -> tuple:
    """(Provider, server or None): the configured provider, or the embedded one."""
    p = cfg.provider
    if p.kind == "embedded":
        return embedded_provider(cfg, events, keys)
    if p.client_secret:
        announce(events, "  Note: the CLI is a public client; it never sends a client secret "
                         "(register a Native application for it).")
    return Provider(p.kind, p.issuer, p.client_id, None, p.audience, use_par=p.use_par), None


def embedded_provider(cfg: Settings, events: EventBus, keys=None) -> tuple:
    """The demo already serving on --idp-port (its refresh tokens outlive this command); else
    an embedded server started here on --idp-port. A port held by something else is an
    error, not a silent switch."""
    issuer, server = running_embedded(cfg), None
    if issuer is None:
        auth, server = authserver.start_embedded(cfg, events, time.time, keys)
        issuer = auth.issuer
        announce(events, f"  Started the embedded authorization server at {issuer} for this "
                         "command (its tokens end with it).")
    else:
        announce(events, f"  Using the demo's authorization server already running at {issuer}")
    audience = cfg.provider.audience or authserver.DEFAULT_AUDIENCE
    return Provider("embedded", issuer, cfg.embedded_cli_client_id, None, audience,
                    use_par=cfg.provider.use_par), server


# == is the server on --idp-port ours? ==========================================================

def running_embedded(cfg: Settings) -> str | None:
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


def key_cache_path() -> Path:
    return paths.user_cache_dir() / KEY_CACHE_FILENAME


def require_our_signing_key(issuer: str, meta: dict) -> None:
    """Any program can listen on localhost:<idp-port> first (another user's, a stale copy,
    malware); logging in against it would hand it the login and trust the tokens it signs.
    The demo signs with the key in our 0600 key cache, which no one else can read: the server
    must publish that key and no other (one more key of its own would let it sign tokens)."""
    cache = key_cache_path()
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
