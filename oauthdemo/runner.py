"""Start-up: binding the servers, discovery, the banner, a clean Ctrl-C.

``start_demo`` is also what the tests and the benchmarks use, so they run exactly the
program a learner runs: the app on one port, the embedded authorization server on its
own port (its own origin), real sockets, real discovery. The settings it is given are
never changed: what start-up learns (the embedded server's issuer, the API's
credentials) goes into a new ``Provider``, kept on ``Running``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from dataclasses import dataclass

from oauthdemo.server import authserver
from oauthdemo.web import httpkit
from oauthdemo.native.browser import open_in_background
from oauthdemo.core import paths
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.core.text import mask_secret
from oauthdemo.core.events import EventBus
from oauthdemo.teaching.narrator import Narrator
from oauthdemo.client.oidc import OIDCClient
from oauthdemo.client.transport import Transport
from oauthdemo.settings import Provider, Settings

KEY_START_DELAY = 0.5     # seconds; see start_key_later()
MAIN_THREAD_NAP = 0.2     # seconds; see run_until_ctrl_c()


@dataclass(frozen=True)
class Running:
    """Handles on a running demo: what tests, benchmarks and main() need."""
    app: object
    app_server: object
    auth: object
    auth_server: object
    client: OIDCClient
    app_url: str
    provider: Provider        # the one in use: for the embedded server, its real issuer

    def stop(self):
        stop_servers(self.app_server, self.auth_server)


def stop_servers(*servers):
    for server in servers:
        if server is not None:
            server.shutdown()
            server.server_close()


def start_demo(cfg: Settings, *, app_cls, handler_cls, narrator=None, clock=time.time,
               keys=None) -> Running:
    """Bind the app, start the embedded server if no provider is configured, discover."""
    narrator = narrator or Narrator(show_tokens=cfg.show_tokens, quiet=cfg.quiet)
    events = EventBus(narrator)   # the spine: components emit, the narrator renders
    app_server = httpkit.bind(handler_cls, cfg.host, cfg.port, None, "the app", "--port",
                              cfg.public_host)
    app_url = httpkit.server_url(app_server)
    auth = auth_server = None
    try:
        provider = cfg.provider
        if provider.kind == "embedded":
            if keys is None:
                keys = SigningKeyStore(cache_dir=paths.user_cache_dir())   # started below
            auth, auth_server = authserver.start_embedded(cfg, events, clock, keys)
            provider = embedded_provider(cfg.provider, auth, app_server)
        client = OIDCClient.discover(provider, events=events, clock=clock,   # every back-
                                     transport=Transport(events=events))  # channel call told
    except BaseException:
        stop_servers(app_server, auth_server)
        raise
    app = app_cls(client, scope=cfg.scope, events=events, clock=clock, auth_server=auth,
                  base_url=app_url, settings=cfg)
    app_server.app = app
    if auth is not None:
        start_key_later(auth.keys)
    return Running(app, app_server, auth, auth_server, client, app_url, provider)


def embedded_provider(configured: Provider, auth, app_server) -> Provider:
    """The embedded server, now that it listens: its issuer, the web app's registration
    (its callback follows the app's port) and the protected API's own credentials."""
    app_url = httpkit.server_url(app_server)
    port = app_server.server_address[1]
    auth.register_web_app([app_url, f"http://127.0.0.1:{port}"])
    api = auth.clients[auth.resource_client_id]   # the app's API, as a resource server
    return dataclasses.replace(configured, issuer=auth.issuer, client_id=auth.web_client_id,
                               audience=configured.audience or auth.audience,
                               introspection_client_id=api.client_id,
                               introspection_client_secret=api.secret)


def start_key_later(keys: SigningKeyStore):
    """Making a key is a second of pure-Python arithmetic holding the GIL, and neither the
    first page nor discovery needs it: begin once they have been served. A request that
    does need the key (JWKS, a token) starts it at once via keys.current()."""
    timer = threading.Timer(KEY_START_DELAY, keys.start)
    timer.daemon = True
    timer.start()


# The title comes first, before discovery is told: the story's heading, then its first step.
TITLE = ["", "OAuth 2.0 + PKCE — the complete story, run for real"]


def banner(running: Running) -> list:
    """Who is who, once discovery has said where the provider's endpoints are."""
    p = running.provider
    lines = ["", f"  Your app (the OAuth client)   {running.app_url}",
             f"  Authorization server          {p.issuer}   [{p.label}]",
             f"  client_id                     {p.client_id}"]
    if p.client_secret:
        lines.append(f"  client_secret                 {mask_secret(p.client_secret)}")
    if running.auth is not None:
        users = ", ".join(f"{u['name']} ({u['connection']})"
                          for u in authserver.DEMO_USERS.values())
        lines.append(f"  Demo users (one click each)   {users}")
    lines += ["", f"  Open {running.app_url} and click “Start OAuth Login (PKCE)”.",
              "  Each step of the flow is explained below as it happens. Ctrl-C stops.", ""]
    return lines


GOODBYE = "Stopping… bye."


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a service manager, ``docker stop``): stop like Ctrl-C, exit 0."""


def raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_stops():
    """While serving, SIGTERM stops the demo the way Ctrl-C does: one goodbye line, servers
    closed, exit 0; the previous handler is back afterwards (tests call serve() in-process).
    Where no handler can be set (not the main thread, no SIGTERM) the default, an
    immediate exit, stays."""
    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except (AttributeError, ValueError, OSError):
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run_until_ctrl_c(running: Running, cfg, narrator) -> int:
    """Ctrl-C or SIGTERM at any moment, even during the banner, stops cleanly: one goodbye
    line, no traceback. Stopping does not wait for open connections: each is served by a
    daemon thread (web.server), so exit follows at once."""
    try:
        narrator.banner(banner(running))
        if cfg.open_browser:
            open_in_background(running.app_url)
        while True:
            # Short naps, not one long sleep: the kernel may deliver SIGTERM or SIGINT to any
            # thread, and Python runs the handler only when the main thread next runs.
            time.sleep(MAIN_THREAD_NAP)
    except KeyboardInterrupt:
        narrator.banner(["", GOODBYE])
    finally:
        running.stop()
    return 0


