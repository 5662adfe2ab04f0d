"""Start-up: flags, settings, binding the servers, discovery, the banner, a clean Ctrl-C.

``start_demo`` is also what the tests and the benchmarks use, so they run exactly the
program a learner runs: the app on one port, the embedded authorization server on its
own port (its own origin), real sockets, real discovery.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
import threading
import time
import webbrowser
from dataclasses import dataclass

from oauthdemo.server import authserver
from oauthdemo.web import httpkit
from oauthdemo.core import paths
from oauthdemo import settings as settings_mod
from oauthdemo.core.errors import ConfigError, OAuth2Error
from oauthdemo.core.jose import SigningKeyStore
from oauthdemo.teaching.narrator import Narrator, mask_secret, printable
from oauthdemo.client.oidc import OIDCClient

SWITCH_INTERVAL = 0.001   # seconds; see serve()
KEY_START_DELAY = 0.5     # seconds; see start_demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complete_oauth_demo.py",
        description="Run the OAuth 2.0 Authorization Code + PKCE flow for real, and watch "
                    "each step explained in this console and in the browser.",
        epilog="Other commands: 'complete_oauth_demo.py login --help' (a CLI loopback login, "
               "like gh or flytectl) and 'complete_oauth_demo.py mobile --help' (the mobile "
               "app + backend pattern).")
    add_common_flags(parser)
    parser.add_argument("--port", type=int, default=None, help="the app's port (default 8091)")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a browser; just print the URL")
    return parser


def add_common_flags(parser):
    parser.add_argument("--host", default=None,
                        help="interface to bind (default 127.0.0.1: only this machine)")
    parser.add_argument("--idp-port", type=int, default=None,
                        help="the embedded authorization server's port (default 8092)")
    parser.add_argument("--env-file", default=None,
                        help="read settings from this file instead of ./.env")
    parser.add_argument("--show-tokens", action="store_true", default=None,
                        help="print whole tokens instead of abbreviations")
    parser.add_argument("--quiet", action="store_true", default=None,
                        help="print only the start-up banner and errors")
    embedded = parser.add_argument_group(
        "embedded authorization server clients",
        "client_ids it registers (also EMBEDDED_*_CLIENT_ID). The backend's secret is "
        "read only from EMBEDDED_BACKEND_CLIENT_SECRET: a secret on the command line "
        "would show in the process list.")
    for kind, default in (("web", "demo-web-app"), ("cli", "demo-cli"),
                          ("backend", "demo-backend")):
        embedded.add_argument(f"--{kind}-client-id", default=None, metavar="ID",
                              help=f"default {default}")


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


def bind(handler_cls, host: str, port: int, app, what: str, flag: str, public_host: str = ""):
    try:
        return httpkit.start_server(handler_cls, host, port, app, public_host)[0]
    except OSError as err:
        if err.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise ConfigError(f"Port {port} ({what}) is already in use — is another copy of the "
                              f"demo running? Stop it, or choose another port with "
                              f"{flag} {port + 10}.") from err
        raise ConfigError(f"Cannot listen on {host}:{port} ({what}): {err.strerror}.") from err


def start_embedded(cfg, narrator, clock, keys=None):
    """The Auth0 stand-in on its own port; its key is generated in the background."""
    if keys is None:
        keys = SigningKeyStore(cache_dir=paths.user_cache_dir())
        keys.start()
    auth = authserver.AuthorizationServer(keys, narrator=narrator, clock=clock, **cfg.embedded)
    server = bind(authserver.AuthServerHandler, cfg.host, cfg.idp_port, auth,
                  "embedded authorization server", "--idp-port", cfg.public_host)
    auth.set_issuer(httpkit.server_url(server))
    return auth, server


def start_demo(cfg, *, app_cls, handler_cls, narrator=None, clock=time.time, keys=None) -> Running:
    """Bind the app, start the embedded server if no provider is configured, discover."""
    narrator = narrator or Narrator(show_tokens=cfg.show_tokens, quiet=cfg.quiet)
    app_server = bind(handler_cls, cfg.host, cfg.port, None, "the app", "--port",
                      cfg.public_host)
    app_url = httpkit.server_url(app_server)
    auth = auth_server = None
    try:
        if cfg.provider.kind == "embedded":
            if keys is None:
                keys = SigningKeyStore(cache_dir=paths.user_cache_dir())  # started below
            auth, auth_server = start_embedded(cfg, narrator, clock, keys)
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


def can_open_browser() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def serve(argv, app_cls, handler_cls) -> int:
    args = build_parser().parse_args(argv)
    # While a CPU-bound thread runs (the first start generates its key for a second or
    # more), each thread woken by a request waits up to this long for the GIL (default 5 ms).
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        cfg = settings_mod.build(args)
        narrator = Narrator(show_tokens=cfg.show_tokens, quiet=cfg.quiet)
        running = start_demo(cfg, app_cls=app_cls, handler_cls=handler_cls, narrator=narrator)
    except OAuth2Error as err:   # ConfigError, ProviderUnreachable … : a sentence, not a traceback
        # It may quote a provider's answer or a setting: printable, like the narration.
        print(f"Cannot start: {printable(err.description)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return run_until_ctrl_c(running, cfg, narrator)


def run_until_ctrl_c(running: Running, cfg, narrator) -> int:
    """Ctrl-C at any moment, even during the banner, stops cleanly: no traceback."""
    try:
        narrator.banner(banner(running, cfg))
        if cfg.open_browser and can_open_browser():
            threading.Thread(target=webbrowser.open, args=(running.app_url,),
                             daemon=True).start()
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        narrator.banner(["", "Stopping… bye."])
    finally:
        running.stop()
    return 0


def main(argv, app_cls, handler_cls) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("login", "mobile"):   # the native-app flows: oauthdemo/loopback.py
        from oauthdemo.native import loopback   # imported here: loopback itself builds on this module
        return loopback.main(argv[0], argv[1:])
    return serve(argv, app_cls, handler_cls)
