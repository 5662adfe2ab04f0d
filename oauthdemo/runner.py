"""Start-up: flags, settings, binding the servers, discovery, the banner, a clean Ctrl-C.

``start_demo`` is also what the tests and the benchmarks use, so they run exactly the
program a learner runs: the app on one port, the embedded authorization server on its
own port (its own origin), real sockets, real discovery.
"""
from __future__ import annotations

import threading
import time
import webbrowser
from dataclasses import dataclass

from oauthdemo.server import authserver
from oauthdemo.web import httpkit
from oauthdemo.native import loopback
from oauthdemo.core import paths
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.core.text import mask_secret
from oauthdemo.teaching.narrator import Narrator
from oauthdemo.client.oidc import OIDCClient

KEY_START_DELAY = 0.5     # seconds; see start_demo()






@dataclass
class Running:
    """Handles on a running demo: what tests, benchmarks and main() need."""
    app: object
    app_server: object
    auth: object
    auth_server: object
    client: OIDCClient
    app_url: str

    def stop(self):
        for server in (self.app_server, self.auth_server):
            if server is not None:
                server.shutdown()
                server.server_close()


def start_demo(cfg, *, app_cls, handler_cls, narrator=None, clock=time.time, keys=None) -> Running:
    """Bind the app, start the embedded server if no provider is configured, discover."""
    narrator = narrator or Narrator(show_tokens=cfg.show_tokens, quiet=cfg.quiet)
    app_server = httpkit.bind(handler_cls, cfg.host, cfg.port, None, "the app", "--port",
                      cfg.public_host)
    app_url = httpkit.server_url(app_server)
    auth = auth_server = None
    try:
        if cfg.provider.kind == "embedded":
            if keys is None:
                keys = SigningKeyStore(cache_dir=paths.user_cache_dir())  # started below
            auth, auth_server = authserver.start_embedded(cfg, narrator, clock, keys)
            port = app_server.server_address[1]
            auth.register_web_app([app_url, f"http://127.0.0.1:{port}"])
            cfg.provider.issuer = auth.issuer
            cfg.provider.client_id = auth.web_client_id
            cfg.provider.audience = cfg.provider.audience or auth.audience
            api = auth.clients[auth.resource_client_id]   # the app's API, as a resource server
            cfg.provider.introspection_client_id = api.client_id
            cfg.provider.introspection_client_secret = api.secret
        client = OIDCClient(cfg.provider, narrator=narrator, clock=clock)
        client.discover()
    except BaseException:
        for server in (app_server, auth_server):
            if server is not None:
                server.shutdown()
                server.server_close()
        raise
    app = app_cls(client, scope=cfg.scope, narrator=narrator, clock=clock, auth_server=auth)
    app.base_url = app_url
    app.settings = cfg   # the other settings (BACKEND_*), for the backend mounted in the app
    app_server.app = app
    if auth is not None:
        # Making a key is a second of pure-Python arithmetic holding the GIL, and neither
        # the first page nor discovery needs it: begin once they have been served. A request
        # that does need the key (JWKS, a token) starts it at once via keys.current().
        timer = threading.Timer(KEY_START_DELAY, auth.keys.start)
        timer.daemon = True
        timer.start()
    return Running(app, app_server, auth, auth_server, client, app_url)


def banner(running: Running, cfg) -> list:
    p = running.client.provider
    lines = ["", "OAuth 2.0 + PKCE — the complete story, run for real", "",
             f"  Your app (the OAuth client)   {running.app_url}",
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




def run_until_ctrl_c(running: Running, cfg, narrator) -> int:
    """Ctrl-C at any moment, even during the banner, stops cleanly: no traceback."""
    try:
        narrator.banner(banner(running, cfg))
        if cfg.open_browser and loopback.can_open_browser():
            threading.Thread(target=webbrowser.open, args=(running.app_url,),
                             daemon=True).start()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        narrator.banner(["", "Stopping… bye."])
    finally:
        running.stop()
    return 0


