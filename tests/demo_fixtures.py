"""Start the real demo (app + embedded authorization server) on port 0 for a test.

Everything is real: sockets, discovery, the embedded server, RS256 tokens. Only the
signing key is shared between tests (generating one takes a second) and the
narration goes to a StringIO the test can read.
"""
from __future__ import annotations

import io
import time
import urllib.parse

import complete_oauth_demo
from oauthdemo import runner
from oauthdemo import settings
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.teaching.narrator import Narrator
from oauthdemo.client.useragent import ScriptedBrowser

from .support import shared_rsa_key


class Clock:
    """An injectable clock: tests move time forward instead of sleeping."""

    def __init__(self, start: float | None = None):
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float):
        self.now += seconds


def demo_settings(**overrides) -> settings.Settings:
    """Free ports, no browser; ``overrides`` are Settings fields (it is frozen)."""
    return settings.Settings(**{"port": 0, "idp_port": 0, "open_browser": False, **overrides})


def start_test_demo(cfg: settings.Settings | None = None, clock=time.time):
    """Returns (running, console): running.app_url, running.auth, running.stop()."""
    console = io.StringIO()
    narrator = Narrator(stream=console, colour=False)
    keys = SigningKeyStore(key=shared_rsa_key())
    keys.start()
    running = runner.start_demo(cfg or demo_settings(), app_cls=complete_oauth_demo.DemoApp,
                                handler_cls=complete_oauth_demo.DemoHandler,
                                narrator=narrator, clock=clock, keys=keys)
    return running, console


def log_in(running, user: str = "alice", browser: ScriptedBrowser | None = None):
    """One whole login through the app, as a browser would do it. Returns the browser."""
    browser = browser or ScriptedBrowser()
    done = browser.login(running.app_url, user)
    assert done.location == running.app_url + "/", done.location
    return browser


def query_of(url: str) -> dict:
    """The query parameters of a URL, e.g. of a redirect's Location."""
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def latest_session(running):
    """The newest live session of the app (tests log in once, so it is theirs)."""
    return running.app.sessions.values(running.app.clock())[-1]
