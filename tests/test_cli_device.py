"""`login --device` (RFC 8628) end to end: the real CLI command in a thread, the real embedded
authorization server, and the test playing the user at /activate with a scripted browser.
The CLI's sleep and clock are injected, shared with the server's clock: no test waits."""
from __future__ import annotations

import io
import stat
import threading
import time
import unittest
import urllib.parse

from oauthdemo import cli
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.errors import ProviderBadResponse
from oauthdemo.native import device_login
from oauthdemo.native.loopback import Countdown

from .demo_fixtures import Clock, demo_settings, start_test_demo
from .support import JsonServer, cache_signing_key
from .test_cli_login import CommandRun, IsolatedCommandCase

USER_WAIT = 20   # seconds a gated poll waits for the scripted user


class ShiftedClock:
    """Real time plus what the injected sleeps added: the CLI and the server share it, so
    an injected sleep of 5 s is 5 s for the server's interval check too."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float):
        self.offset += seconds


class Sleeper:
    """The CLI's injected sleep: records what it was asked for, moves the clock, and (from
    poll ``gate_from`` on) waits until the scripted user has answered at /activate."""

    def __init__(self, clock: ShiftedClock, gate_from: int = 2, step=None, interrupt=False):
        self.clock, self.gate_from, self.step, self.interrupt = clock, gate_from, step, interrupt
        self.asked: list = []
        self.user_done = threading.Event()

    def __call__(self, seconds: float):
        self.asked.append(seconds)
        if self.interrupt:
            raise KeyboardInterrupt
        if len(self.asked) >= self.gate_from:
            self.user_done.wait(USER_WAIT)
        self.clock.advance(self.step(len(self.asked), seconds) if self.step else seconds)


def approve_at_activate(url: str, user: str = "alice", allow: bool = True):
    """The user at /activate?user_code=…: the code form, the login page, the device consent."""
    browser = ScriptedBrowser()
    page = settle(browser, browser.get(url))
    page = settle(browser, browser.submit(page, form_of(page, "user_code")))
    page = settle(browser, browser.submit(page, form_of(page, "user", user)))
    decision = ("decision", "allow" if allow else "deny")
    return settle(browser, browser.submit(page, form_with_button(page, decision),
                                          button=decision))


def settle(browser: ScriptedBrowser, page):
    """Follow the post/redirect/get hops to the page a user would see."""
    while page.status in (302, 303) and page.location:
        page = browser.get(page.location)
    return page


def form_of(page, field: str, value: str | None = None) -> int:
    for index, form in enumerate(page.forms()):
        if field in form["fields"] and (value is None or form["fields"][field] == value):
            return index
    raise AssertionError(f"no form with {field}={value} on {page.url}: {page.text[:400]}")


def form_with_button(page, button: tuple) -> int:
    for index, form in enumerate(page.forms()):
        if button in form["buttons"]:
            return index
    return 0


class SharedDemoCase(IsolatedCommandCase):
    """One running demo per class (``demo_overrides``: its Settings fields); each test's
    private cache holds the demo's key, so the CLI trusts it."""
    demo_overrides: dict = {}
    clock = time.time

    @classmethod
    def setUpClass(cls):
        cfg = demo_settings(**cls.demo_overrides)
        cls.running, cls.console = start_test_demo(cfg, clock=cls.clock)
        cls.auth = cls.running.auth
        cls.idp_port = urllib.parse.urlsplit(cls.auth.issuer).port

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def setUp(self):
        super().setUp()
        cache_signing_key(self.cache_dir)


class DeviceCase(SharedDemoCase):
    """The demo's clock is shifted by the tests' injected sleeps."""
    clock = ShiftedClock()

    def setUp(self):
        super().setUp()
        self.clock.offset = 0.0

    def device_login(self, sleeper: Sleeper, *flags, env_file: str | None = None) -> CommandRun:
        argv = ["--device", "--no-browser", "--timeout", "120", "--idp-port", str(self.idp_port),
                "--env-file", env_file or self.env_file, *flags]
        return CommandRun(cli.login_main, argv, sleep=sleeper, clock=self.clock)


class TestDeviceLogin(DeviceCase):
    def test_rfc8628_login_device_end_to_end_with_a_scripted_browser(self):
        sleeper = Sleeper(self.clock)
        run = self.device_login(sleeper, "--save")
        url = run.authorize_url()                       # verification_uri_complete
        self.assertTrue(url.startswith(self.auth.issuer + "activate?user_code="), url)
        approve_at_activate(url)
        sleeper.user_done.set()
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        out = run.output
        user_code = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["user_code"][0]
        self.assertIn(f"    {user_code}\n", out)               # printed prominently
        self.assertIn(f"    {self.auth.issuer}activate\n", out)
        self.assertIn(url, out)                                # and the complete URL
        self.assertIn("Device step 1 of 6", out)
        self.assertIn("Device step 5 of 6", out)
        self.assertIn("400 authorization_pending", out)        # the first poll: not yet
        self.assertIn("Device step 6 of 6", out)               # the ID token, same checks
        self.assertNotIn("Step 9 of 10", out)
        self.assertIn("signature verified", out)
        self.assertIn("Logged in as Alice Example", out)
        self.assertEqual(sleeper.asked[:2], [5.0, 5.0])        # the server's interval
        cache = self.cache_dir / "tokens.json"
        self.assertEqual(stat.S_IMODE(cache.stat().st_mode), 0o600)

    def test_rfc8628_slow_down_adds_five_seconds_then_access_denied_ends_it(self):
        # The second wait is cut short (1 s of the 5 asked): the server answers slow_down.
        sleeper = Sleeper(self.clock, gate_from=3,
                          step=lambda n, asked: 1.0 if n == 2 else asked)
        run = self.device_login(sleeper)
        url = run.authorize_url()
        approve_at_activate(url, allow=False)
        sleeper.user_done.set()
        self.assertEqual(run.finish(), cli.EXIT_FAILED, run.output)
        self.assertIn("400 slow_down", run.output)
        self.assertEqual(sleeper.asked[:3], [5.0, 5.0, 10.0])
        self.assertIn("Login failed: access_denied", run.output)
        self.assertFalse((self.cache_dir / "tokens.json").exists())

    def test_timeout_ends_the_polling_without_a_real_wait(self):
        sleeper = Sleeper(self.clock, gate_from=99)
        run = self.device_login(sleeper, "--timeout", "12")
        self.assertEqual(run.finish(), cli.EXIT_TIMEOUT, run.output)
        said = " ".join(run.output.split())           # the Narrator wraps: words, not lines
        self.assertIn("would come after the 12 s of --timeout end (2 s left)", said)
        # Stopped when no poll fits (2 s left, 5 s due): no idle wait, no poll too soon.
        self.assertEqual(sleeper.asked, [5.0, 5.0])
        self.assertIn("waiting for your approval... 12 s left", run.output)   # not a TTY

    def test_ctrl_c_while_polling_cancels_cleanly(self):
        run = self.device_login(Sleeper(self.clock, interrupt=True))
        self.assertEqual(run.finish(), cli.EXIT_CANCELLED, run.output)
        self.assertIn("Cancelled; nothing was saved.", run.output)
        self.assertNotIn("Traceback", run.output)


class TestNoDeviceEndpoint(IsolatedCommandCase):
    def test_a_provider_without_a_device_endpoint_is_named_clearly(self):
        def documents(base):
            return {"/.well-known/openid-configuration": {
                "issuer": base, "authorization_endpoint": base + "/authorize",
                "token_endpoint": base + "/token", "jwks_uri": base + "/jwks"}}
        provider = JsonServer(documents)
        self.addCleanup(provider.stop)
        env = self.write_env(f"OIDC_ISSUER={provider.base_url}\nOIDC_CLIENT_ID=cli\n")
        run = CommandRun(cli.login_main, ["--device", "--no-browser", "--env-file", env])
        self.assertEqual(run.finish(), cli.EXIT_CONFIG, run.output)
        self.assertIn("publishes no device_authorization_endpoint", run.output)
        self.assertIn(provider.base_url, run.output)
        self.assertEqual(run.urls.qsize(), 0)            # nothing to open


class TestDeviceUnits(unittest.TestCase):
    ANSWER = {"device_code": "d" * 43, "user_code": "BCDF-GHJK", "expires_in": 600,
              "verification_uri": "https://idp.example/activate", "interval": 5}

    def test_rfc8628_interval_defaults_to_five_seconds(self):
        answer = dict(self.ANSWER)
        del answer["interval"]
        self.assertEqual(device_login.parse_device_answer(answer).interval, 5)

    def test_the_browser_is_only_handed_a_web_page(self):
        for uri in ("javascript:alert(1)", "file:///etc/passwd", "http://idp.example/activate",
                    "myapp://activate"):
            with self.assertRaises(ProviderBadResponse, msg=uri):
                device_login.parse_device_answer({**self.ANSWER, "verification_uri": uri})
        self.assertTrue(device_login.safe_to_open("http://localhost:8092/activate"))

    def test_a_terminal_sees_the_countdown_redrawn_every_second(self):
        class Terminal(io.StringIO):
            def isatty(self):
                return True
        term, clock, asked = Terminal(), Clock(0), []
        opts = device_login.DeviceOptions(countdown=term, clock=clock,
                                          sleep=lambda s: (asked.append(s), clock.advance(s)))
        device_login.pause(opts, Countdown(term, "waiting for your approval"), 5, deadline=65)
        self.assertEqual(asked, [1.0] * 5)
        self.assertTrue(term.getvalue().startswith(
            "\r  waiting for your approval... 1:05 left (Ctrl-C cancels)\033[K"))
        self.assertIn("1:01 left", term.getvalue())

    def test_missing_members_are_refused(self):
        for name in ("device_code", "user_code", "verification_uri", "expires_in"):
            answer = {k: v for k, v in self.ANSWER.items() if k != name}
            with self.assertRaises(ProviderBadResponse, msg=name):
                device_login.parse_device_answer(answer)


if __name__ == "__main__":
    unittest.main()
