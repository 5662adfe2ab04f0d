"""The command line: every flag and subcommand, and how each way a command ends becomes an
exit status and one sentence (never a traceback).

``complete_oauth_demo.py`` serves the demo; ``… login`` is the CLI loopback login (gh,
flytectl), ``… login --device`` its device grant (RFC 8628); ``… token --client-credentials``
a machine's own token (RFC 6749 §4.4); ``… mobile`` plays the mobile app of the "mobile
app + backend" design.

A flag that sets a setting is declared from the settings' defaults table
(``settings.Settings``: its name, flag, default and help); the flags of one command alone
(``--timeout``, ``--save`` …) are declared here. The native commands' modules are loaded
only when one of them runs, so serving the demo starts without them.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from oauthdemo import runner
from oauthdemo import settings
from oauthdemo.client.explain import hint_for
from oauthdemo.client.pending import PENDING_TTL
from oauthdemo.core.errors import ConfigError, DemoError, LoginTimedOut, as_oauth2
from oauthdemo.core.events import EventBus
from oauthdemo.core.text import printable
from oauthdemo.teaching.narrator import Narrator

if TYPE_CHECKING:   # loaded only when a native command runs (see login_main)
    from oauthdemo.native.loopback import LoopbackOptions

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_TIMEOUT, EXIT_CANCELLED = 0, 1, 2, 124, 130
SWITCH_INTERVAL = 0.001   # seconds; see serve()

# The settings each command takes as flags, by their names in settings.Settings.
SERVER_FLAGS = ("host", "idp_port", "use_par")
CONSOLE_FLAGS = ("show_tokens", "quiet")
CLIENT_ID_FLAGS = ("embedded_web_client_id", "embedded_cli_client_id",
                   "embedded_backend_client_id")
CLIENT_IDS_GROUP = ("embedded authorization server clients",
                    "client_ids it registers. The backend's secret is read only from "
                    "EMBEDDED_BACKEND_CLIENT_SECRET: a secret on the command line would show "
                    "in the process list.")


# == flags ======================================================================================

def add_setting_flags(parser, names):
    """Each named setting's flag, as the defaults table declares it (settings.TABLE)."""
    for name in names:
        row = settings.lookup(name)
        if row.type is bool:   # a switch: giving it turns the default round (--no-browser)
            parser.add_argument(row.flag, dest=row.name, action="store_const",
                                const=not row.default, default=None, help=row.flag_help)
        else:                  # None when not given: .env and the environment decide
            parser.add_argument(row.flag, dest=row.name, type=row.type, default=None,
                                metavar=row.flag.rsplit("-", 1)[-1].upper(), help=row.flag_help)


def add_env_file_flag(parser):
    parser.add_argument("--env-file", default=None, metavar="FILE",
                        help="read settings from this file instead of ./.env")


def add_common_flags(parser):
    """Where the settings come from, where the servers listen, the console, the clients."""
    add_env_file_flag(parser)
    add_setting_flags(parser, SERVER_FLAGS + CONSOLE_FLAGS)
    add_setting_flags(parser.add_argument_group(*CLIENT_IDS_GROUP), CLIENT_ID_FLAGS)


def add_loopback_flags(parser):
    """The native apps' flags: the browser, how long to wait, the callback's port."""
    from oauthdemo.native.loopback import DEFAULT_TIMEOUT
    add_setting_flags(parser, ("open_browser",))
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds to wait for the login (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--port", dest="callback_port", metavar="PORT", type=int, default=0,
                        help="the loopback callback port (default 0: any free port)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complete_oauth_demo.py",
        description="Run the OAuth 2.0 Authorization Code + PKCE flow for real, and watch "
                    "each step explained in this console and in the browser.",
        epilog="Other commands: 'complete_oauth_demo.py login --help' (a CLI login, like gh or "
               "flytectl: loopback, or --device), 'complete_oauth_demo.py token --help' (a "
               "machine's token: client credentials) and 'complete_oauth_demo.py mobile --help' "
               "(the mobile app + backend pattern).")
    add_common_flags(parser)
    add_setting_flags(parser, ("port", "open_browser"))
    return parser


def build_login_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complete_oauth_demo.py login",
        description="Log in from the terminal the way gh and flytectl do: PKCE, a browser, and "
                    "a one-shot callback server on 127.0.0.1 (RFC 8252); or, with --device, a "
                    "code typed into a browser on any device (RFC 8628).")
    add_common_flags(parser)
    add_loopback_flags(parser)
    parser.add_argument("--save", action="store_true",
                        help="save the tokens to the cache directory (mode 600)")
    parser.add_argument("--refresh", action="store_true",
                        help="use the saved refresh token instead of a browser; saves the new one")
    parser.add_argument("--device", action="store_true",
                        help="the device grant (RFC 8628): no callback to this machine; type a "
                             "code into a browser on any device (over SSH, in WSL, a container)")
    return parser


def build_token_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complete_oauth_demo.py token",
        description="Get a token with no user at all: the client credentials grant (RFC 6749 "
                    "§4.4), as a service or a CI job does it (flytectl's ClientSecret).")
    parser.add_argument("--client-credentials", action="store_true", required=True,
                        help="authenticate as the confidential client demo-service with its "
                             "secret (EMBEDDED_SERVICE_CLIENT_SECRET); never printed")
    add_env_file_flag(parser)
    add_setting_flags(parser, ("idp_port",) + CONSOLE_FLAGS)
    return parser


def build_mobile_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complete_oauth_demo.py mobile",
        description="Play the mobile app of the 'mobile app + backend' design: no secret, PKCE, "
                    "a loopback redirect; the backend redeems the code.")
    parser.add_argument("--backend", default=None,
                        help="the backend's URL (default: the demo, http://localhost:8091)")
    add_env_file_flag(parser)
    add_setting_flags(parser, CONSOLE_FLAGS)
    add_loopback_flags(parser)
    return parser


# == serving the demo ===========================================================================

def main(argv, app_cls, handler_cls) -> int:
    """The program's entry: ``login`` and ``mobile`` are the native-app flows, else the demo."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    return serve(argv, app_cls, handler_cls)


def serve(argv, app_cls, handler_cls) -> int:
    args = build_parser().parse_args(argv)
    # While a CPU-bound thread runs (the first start generates its key for a second or
    # more), each thread woken by a request waits up to this long for the GIL (default 5 ms).
    sys.setswitchinterval(SWITCH_INTERVAL)
    with runner.sigterm_stops():   # SIGTERM, like Ctrl-C: one goodbye line, a prompt exit
        return start_and_run(args, app_cls, handler_cls)


def start_and_run(args, app_cls, handler_cls) -> int:
    try:
        cfg = settings.build(args)
        narrator = Narrator(show_tokens=cfg.show_tokens, quiet=cfg.quiet)
        narrator.banner(runner.TITLE)
        running = runner.start_demo(cfg, app_cls=app_cls, handler_cls=handler_cls,
                                    narrator=narrator)
    except DemoError as err:   # ConfigError, ProviderUnreachable … : a sentence, not a traceback
        return cannot_start(err, sys.stderr)
    except KeyboardInterrupt as stop:   # before the servers were up: nothing to close
        print(f"\n{runner.GOODBYE}", flush=True)
        return EXIT_OK if isinstance(stop, runner.Terminated) else EXIT_CANCELLED
    return runner.run_until_ctrl_c(running, cfg, narrator)


def cannot_start(err: DemoError, stream) -> int:
    # It may quote a provider's answer, a setting or a path: printable, like the narration.
    print(f"Cannot start: {printable(err.description)}", file=stream)
    return EXIT_CONFIG


# == the native apps: login and mobile ==========================================================

@dataclass(frozen=True)
class Command:
    """A native command ready to run: its flags, settings, loopback options and console."""
    args: argparse.Namespace
    cfg: settings.Settings
    opts: LoopbackOptions
    narrator: Narrator
    events: EventBus          # the flows emit; the narrator renders


def prepare(parser, argv, out, environ, on_url) -> Command:
    """Parse, read the settings, check the options; ConfigError when they cannot work."""
    args = parser.parse_args(argv)
    cfg = settings.build(args, environ)
    opts = loopback_options(args, cfg, out, on_url)
    narrator = Narrator(stream=out, show_tokens=cfg.show_tokens, quiet=cfg.quiet)
    return Command(args, cfg, opts, narrator, EventBus(narrator))


def loopback_options(args, cfg: settings.Settings, out, on_url) -> LoopbackOptions:
    from oauthdemo.native.loopback import LoopbackOptions
    if not 0 < args.timeout <= PENDING_TTL:
        raise ConfigError(f"--timeout must be more than 0 and at most {PENDING_TTL} seconds "
                          "(a login request lives 10 minutes).")
    try:
        port = settings.check_port(args.callback_port)
    except ValueError as err:
        raise ConfigError(f"--port {err}.") from err
    return LoopbackOptions(args.timeout, port, cfg.open_browser, cfg.redirect_host, cfg.scope,
                           countdown=out, on_url=on_url)


def run_native(parser, argv, out, environ, on_url, action) -> int:
    """Prepare a command, run it, print its result: each way it ends is an exit status.
    ``on_url`` receives the authorize URL too (tests play the browser with it)."""
    out = out or sys.stdout
    try:
        command = prepare(parser, argv, out, environ, on_url)
    except ConfigError as err:
        return cannot_start(err, out)
    return run_command(lambda: command.narrator.banner(action(command)), command.narrator)


def run_command(action, narrator: Narrator, failed: str = "Login failed") -> int:
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
        hint = hint_for(err.error, err.description)   # the one hint table, by cause
        narrator.error(f"{failed}: {err.error}: {err.description} {hint}".rstrip())
        return EXIT_FAILED
    except KeyboardInterrupt:
        narrator.error("Cancelled; nothing was saved.")
        return EXIT_CANCELLED


def login_main(argv, *, out=None, environ=None, on_url=None, keys=None, sleep=None,
               clock=None) -> int:
    """``login``; ``keys`` is the signing key store for an embedded server started here;
    ``sleep`` and ``clock`` pace ``--device``'s polling (tests pass their own: no waiting)."""
    from oauthdemo.native import cli_login, device_login

    def log_in(c: Command) -> list:
        if c.args.refresh:
            return cli_login.refresh(c.cfg, c.events, keys).lines()
        if c.args.device:
            return device_login.log_in(c.cfg, device_options(c, sleep, clock), c.events,
                                       save=c.args.save, keys=keys).lines()
        cli_login.suggest_device(c.events, os.environ if environ is None else environ)
        return cli_login.log_in(c.cfg, c.opts, c.events, save=c.args.save, keys=keys).lines()
    return run_native(build_login_parser(), argv, out, environ, on_url, log_in)


def device_options(c: Command, sleep=None, clock=None):
    """``login --device``: the loopback options that apply (no port: nothing listens here)."""
    from oauthdemo.native.device_login import DeviceOptions
    o = c.opts
    timing = {k: v for k, v in (("sleep", sleep), ("clock", clock)) if v is not None}
    return DeviceOptions(o.timeout, o.open_browser, o.scope, o.countdown, o.on_url, **timing)


def mobile_main(argv, *, out=None, environ=None, on_url=None) -> int:
    """``mobile``: the thin client against the demo's backend (or --backend)."""
    from oauthdemo.native import mobile

    def log_in(c: Command) -> list:
        backend_url = (c.args.backend or f"http://localhost:{c.cfg.port}").rstrip("/")
        return mobile.log_in(backend_url, c.opts, c.events).lines(c.narrator.token)
    return run_native(build_mobile_parser(), argv, out, environ, on_url, log_in)


def token_main(argv, *, out=None, environ=None, keys=None) -> int:
    """``token --client-credentials``: a machine's own access token; no user, no browser."""
    from oauthdemo.native import machine_token
    out = out or sys.stdout
    try:
        cfg = settings.build(build_token_parser().parse_args(argv), environ)
    except ConfigError as err:
        return cannot_start(err, out)
    narrator = Narrator(stream=out, show_tokens=cfg.show_tokens, quiet=cfg.quiet)
    events = EventBus(narrator)
    return run_command(lambda: narrator.banner(machine_token.get_token(cfg, events, keys).lines()),
                       narrator, "Token request failed")


COMMANDS = {"login": login_main, "mobile": mobile_main, "token": token_main}
