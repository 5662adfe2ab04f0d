"""The command line: every flag and subcommand, and how each way a command ends becomes an
exit status and one sentence (never a traceback).

``complete_oauth_demo.py`` serves the demo; ``… login`` is the CLI loopback login (gh,
flytectl); ``… mobile`` plays the mobile app of the "mobile app + backend" design.
"""
from __future__ import annotations

import argparse
import sys

from oauthdemo import runner
from oauthdemo import settings
from oauthdemo.client.oidc import PENDING_TTL
from oauthdemo.core.errors import (ConfigError, DemoError, LoginTimedOut, ProviderUnreachable,
                                   as_oauth2)
from oauthdemo.core.text import printable
from oauthdemo.native.loopback import (DEFAULT_TIMEOUT, REDIRECT_HOSTS,
                                       LoopbackOptions, cli_login, mobile_login)
from oauthdemo.teaching.narrator import Narrator

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_TIMEOUT, EXIT_CANCELLED = 0, 1, 2, 124, 130
SWITCH_INTERVAL = 0.001   # seconds; see serve()


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


def serve(argv, app_cls, handler_cls) -> int:
    args = build_parser().parse_args(argv)
    # While a CPU-bound thread runs (the first start generates its key for a second or
    # more), each thread woken by a request waits up to this long for the GIL (default 5 ms).
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        cfg = settings.build(args)
        narrator = Narrator(show_tokens=cfg.show_tokens, quiet=cfg.quiet)
        running = runner.start_demo(cfg, app_cls=app_cls, handler_cls=handler_cls, narrator=narrator)
    except DemoError as err:   # ConfigError, ProviderUnreachable … : a sentence, not a traceback
        # It may quote a provider's answer or a setting: printable, like the narration.
        print(f"Cannot start: {printable(err.description)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return runner.run_until_ctrl_c(running, cfg, narrator)


def main(argv, app_cls, handler_cls) -> int:
    """The program's entry: ``login`` and ``mobile`` are the native-app flows, else the demo."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("login", "mobile"):   # the native-app flows: oauthdemo/loopback.py
        return {"login": login_main, "mobile": mobile_main}[argv[0]](argv[1:])
    return serve(argv, app_cls, handler_cls)


HINTS = {
    "invalid_grant": "The server refused the code or the refresh token. A refresh token works "
                     "once (it rotates); and the embedded server that `login` starts for itself "
                     "forgets its tokens when the command ends: run `python3 complete_oauth_demo.py` "
                     "in another terminal so `login` uses that one, or log in again.",
    "access_denied": "You (or the server) pressed Deny. Nothing was shared.",
    "temporarily_unavailable": "Is the demo running? Start it with: python3 complete_oauth_demo.py",
}


def add_loopback_flags(parser: argparse.ArgumentParser):
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open a browser (the URL is always printed)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds to wait for the login (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--port", dest="callback_port", metavar="PORT", type=int, default=0,
                        help="the loopback callback port (default 0: any free port)")


def build_login_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complete_oauth_demo.py login",
        description="Log in from the terminal the way gh and flytectl do: PKCE, a browser, and "
                    "a one-shot callback server on 127.0.0.1 (RFC 8252).")
    add_common_flags(parser)
    add_loopback_flags(parser)
    parser.add_argument("--save", action="store_true",
                        help="save the tokens to the cache directory (mode 600)")
    parser.add_argument("--refresh", action="store_true",
                        help="use the saved refresh token instead of a browser; saves the new one")
    return parser


def build_mobile_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complete_oauth_demo.py mobile",
        description="Play the mobile app of the 'mobile app + backend' design: no secret, PKCE, "
                    "a loopback redirect; the backend redeems the code.")
    parser.add_argument("--backend", default=None,
                        help="the backend's URL (default: the demo, http://localhost:8091)")
    add_loopback_flags(parser)
    parser.add_argument("--env-file", default=None, help="read settings from this file")
    parser.add_argument("--show-tokens", action="store_true", default=None,
                        help="print whole tokens instead of abbreviations")
    parser.add_argument("--quiet", action="store_true", default=None,
                        help="print only the URL, the result and errors")
    return parser


def loopback_options(args, cfg) -> LoopbackOptions:
    host = cfg.values.get("OAUTH_REDIRECT_HOST") or "127.0.0.1"
    if host not in REDIRECT_HOSTS:
        raise ConfigError(f"OAUTH_REDIRECT_HOST must be 127.0.0.1 or localhost, not {host!r}.")
    if not 0 < args.timeout <= PENDING_TTL:
        raise ConfigError(f"--timeout must be more than 0 and at most {PENDING_TTL} seconds "
                          "(a login request lives 10 minutes).")
    if not 0 <= args.callback_port <= 65535:
        raise ConfigError("--port must be between 0 and 65535.")
    return LoopbackOptions(args.timeout, args.callback_port, cfg.open_browser, host, cfg.scope)


def run_command(action, narrator: Narrator) -> int:
    """Each way a command can end, as one sentence and an exit status; never a traceback."""
    try:
        action()
        return EXIT_OK
    except LoginTimedOut as err:
        narrator.error(err.description)
        return EXIT_TIMEOUT
    except ConfigError as err:
        narrator.error(f"Cannot start: {err.description}")
        return EXIT_CONFIG
    except DemoError as err:   # an OAuth 2.0 error, or a token that failed its checks
        err = as_oauth2(err)
        hint = HINTS.get(err.error) or (HINTS["temporarily_unavailable"]
                                        if isinstance(err, ProviderUnreachable) else "")
        narrator.error(f"Login failed: {err.error}: {err.description} {hint}".rstrip())
        return EXIT_FAILED
    except KeyboardInterrupt:
        narrator.error("Cancelled; nothing was saved.")
        return EXIT_CANCELLED


def prepare(parser, argv, out, environ) -> tuple:
    """(args, settings, options, narrator), or an exit status for settings that cannot work."""
    args = parser.parse_args(argv)
    try:
        cfg = settings.build(args, environ)
        opts = loopback_options(args, cfg)
    except ConfigError as err:   # it may quote a setting or a path: printable, like the narration
        print(f"Cannot start: {printable(err.description)}", file=out)
        return EXIT_CONFIG
    return args, cfg, opts, Narrator(stream=out, show_tokens=cfg.show_tokens, quiet=cfg.quiet)


def login_main(argv, *, out=None, environ=None, on_url=None, keys=None) -> int:
    """``on_url`` receives the authorize URL (tests play the browser with it); ``keys`` is
    the signing key store for an embedded server started here."""
    ready = prepare(build_login_parser(), argv, out or sys.stdout, environ)
    if isinstance(ready, int):
        return ready
    args, cfg, opts, narrator = ready
    return run_command(lambda: cli_login(cfg, opts, args, narrator, on_url, keys), narrator)


def mobile_main(argv, *, out=None, environ=None, on_url=None) -> int:
    ready = prepare(build_mobile_parser(), argv, out or sys.stdout, environ)
    if isinstance(ready, int):
        return ready
    args, cfg, opts, narrator = ready
    backend_url = (args.backend or f"http://localhost:{cfg.port}").rstrip("/")
    return run_command(lambda: mobile_login(backend_url, opts, narrator, on_url), narrator)
