"""The CLI login (RFC 8252 native app) end to end: a real one-shot loopback server, a real
embedded authorization server, and the test playing the user's browser. Also the timeout,
stray requests, escaping on the callback page, and the 0600 token cache with --refresh."""
from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import socket
import stat
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import complete_oauth_demo
from oauthdemo import cli
from oauthdemo.native import loopback
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.client.pending import AuthRequest, PendingLogins
from oauthdemo.client.transport import http_json
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import start_test_demo
from .support import cache_signing_key, shared_rsa_key

COMMAND_DEADLINE = 30    # seconds a command thread may take before the test fails


def query_of(url: str) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


class CommandRun:
    """A `login` or `mobile` command running in a thread, as a user would run it.

    Its output goes to a StringIO (not a TTY); the authorize URL it prints is also handed
    to the test through the on_url hook, so the test can play the browser."""

    def __init__(self, main, argv, **kwargs):
        self.out = io.StringIO()
        self.urls = queue.Queue()
        self.status = None
        self.url = None
        self.thread = threading.Thread(target=self.run, args=(main, argv, kwargs), daemon=True)
        self.thread.start()

    def run(self, main, argv, kwargs):
        self.status = main(argv, out=self.out, environ={}, on_url=self.urls.put, **kwargs)

    def authorize_url(self) -> str:
        if self.url is None:
            self.url = self.urls.get(timeout=COMMAND_DEADLINE)
        return self.url

    def finish(self) -> int:
        self.thread.join(COMMAND_DEADLINE)
        if self.thread.is_alive():
            raise AssertionError("the command did not finish:\n" + self.out.getvalue())
        return self.status

    @property
    def output(self) -> str:
        return self.out.getvalue()


class IsolatedCommandCase(unittest.TestCase):
    """A private cache directory and an empty settings file: no developer .env leaks in."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = Path(tmp.name)
        self.cache_dir = self.tmp / "cache"
        old = os.environ.get("OAUTH_DEMO_CACHE_DIR")
        os.environ["OAUTH_DEMO_CACHE_DIR"] = str(self.cache_dir)
        self.addCleanup(self.restore_env, old)
        self.env_file = self.write_env("")

    @staticmethod
    def restore_env(old):
        if old is None:
            os.environ.pop("OAUTH_DEMO_CACHE_DIR", None)
        else:
            os.environ["OAUTH_DEMO_CACHE_DIR"] = old

    def write_env(self, text: str) -> str:
        path = self.tmp / f"settings-{len(text)}.env"
        path.write_text(text, encoding="utf-8")
        return str(path)


class LoginCase(IsolatedCommandCase):
    def setUp(self):
        super().setUp()
        self.running, self.console = start_test_demo()
        self.addCleanup(self.running.stop)
        cache_signing_key(self.cache_dir)   # the running demo's key, so the CLI trusts it
        self.auth = self.running.auth
        self.idp_port = urllib.parse.urlsplit(self.auth.issuer).port
        self.cache_file = self.cache_dir / "tokens.json"

    def login(self, *flags, env_file: str | None = None) -> CommandRun:
        argv = ["--no-browser", "--timeout", "20", "--idp-port", str(self.idp_port),
                "--env-file", env_file or self.env_file, *flags]
        return CommandRun(cli.login_main, argv)

    def play_browser(self, run: CommandRun, user: str = "alice", allow: bool = True):
        callback = ScriptedBrowser().login_at_provider(run.authorize_url(), user=user, allow=allow)
        return ScriptedBrowser().get(callback)

    def logged_in(self, *flags) -> CommandRun:
        run = self.login(*flags)
        page = self.play_browser(run)
        self.assertEqual(page.status, 200, page.text)
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        return run

    def loopback_get(self, url: str, method: str = "GET") -> tuple:
        req = urllib.request.Request(url, method=method)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read().decode()


class TestCliLogin(LoginCase):
    def test_login_end_to_end_against_the_running_demo(self):
        run = self.login()
        url = run.authorize_url()
        params = query_of(url)
        self.assertEqual(params["client_id"], "demo-cli")
        self.assertEqual(params["code_challenge_method"], "S256")
        redirect = urllib.parse.urlsplit(params["redirect_uri"])
        self.assertEqual((redirect.scheme, redirect.hostname, redirect.path),
                         ("http", "127.0.0.1", "/callback"))
        self.assertGreaterEqual(len(params["state"]), 43)
        self.assertGreaterEqual(len(params["nonce"]), 43)
        page = self.play_browser(run)
        self.assertEqual(page.status, 200)
        self.assertIn("You can close this window", page.text)
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        out = run.output
        self.assertIn(f"already running at {self.auth.issuer}", out)
        self.assertIn(url, out)                                   # the URL is always printed
        self.assertIn(f"ssh -L {redirect.port}:127.0.0.1:{redirect.port} "
                      f"-L {self.idp_port}:127.0.0.1:{self.idp_port}", out)
        self.assertIn("Logged in as Alice Example <alice@example.com>", out)
        self.assertIn("access token   expires", out)
        self.assertIn("ID token       expires", out)
        self.assertIn("nonce matches", out)
        self.assertFalse(self.cache_file.exists())                # no --save, nothing written
        self.assertTrue(self.auth.inspect.pkce_record(params["code_challenge"]).match)

    def test_quiet_shows_only_the_url_and_the_result(self):
        run = self.logged_in("--quiet")
        self.assertIn(run.authorize_url(), run.output)          # an Announced event: always
        self.assertIn("Logged in as Alice Example", run.output)
        self.assertNotIn("Step 1 of 10", run.output)
        self.assertNotIn("CLI │", run.output)

    def test_login_starts_its_own_embedded_server_when_none_is_running(self):
        keys = SigningKeyStore(key=shared_rsa_key())
        run = CommandRun(cli.login_main, ["--no-browser", "--timeout", "20", "--idp-port", "0",
                                               "--env-file", self.env_file], keys=keys)
        page = self.play_browser(run, user="bob")
        self.assertEqual(page.status, 200)
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        self.assertIn("Started the embedded authorization server", run.output)
        self.assertIn("Logged in as Bob Builder", run.output)

    def test_the_subcommand_is_dispatched_by_the_main_program(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = complete_oauth_demo.main(["login", "--no-browser", "--timeout", "0.3",
                                               "--idp-port", str(self.idp_port),
                                               "--env-file", self.env_file])
        self.assertEqual(status, cli.EXIT_TIMEOUT)
        self.assertIn("Open this URL in a browser", out.getvalue())


class TestWaiting(LoginCase):
    def test_timeout_exits_cleanly_with_a_message(self):
        run = self.login("--timeout", "0.5")
        port = urllib.parse.urlsplit(query_of(run.authorize_url())["redirect_uri"]).port
        self.assertEqual(run.finish(), cli.EXIT_TIMEOUT)
        self.assertIn("No login arrived within 0.5 s", run.output)
        self.assertNotIn("Traceback", run.output)
        self.assertIn("waiting for the browser... 1 s left\n", run.output)   # not a TTY: plain
        self.assertNotIn("\r", run.output)
        with self.assertRaises(OSError):                        # the one-shot server is gone
            socket.create_connection(("127.0.0.1", port), timeout=2).close()

    def test_countdown_is_redrawn_in_place_on_a_terminal(self):
        class Terminal(io.StringIO):
            def isatty(self):
                return True
        term = Terminal()
        countdown = loopback.Countdown(term)
        countdown.show(65)
        countdown.finish()
        self.assertEqual(countdown.interval, loopback.TTY_TICK)
        self.assertTrue(term.getvalue().startswith("\r  waiting for the browser... 1:05 left"))
        self.assertTrue(term.getvalue().endswith("\r\033[K"))

    def test_bad_timeouts_and_ports_are_refused_before_anything_starts(self):
        for flags in (["--timeout", "0"], ["--timeout", "601"], ["--port", "70000"]):
            run = self.login(*flags)
            self.assertEqual(run.finish(), cli.EXIT_CONFIG, flags)
            self.assertIn("Cannot start", run.output)

    def test_a_busy_fixed_port_is_a_clear_error(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            run = self.login("--port", str(busy.getsockname()[1]))
            self.assertEqual(run.finish(), cli.EXIT_CONFIG)
        self.assertIn("already in use", run.output)


class TestOneShotServer(LoginCase):
    def test_stray_requests_do_not_use_up_the_one_shot(self):
        run = self.login()
        url = run.authorize_url()
        base = "http://127.0.0.1:%d" % urllib.parse.urlsplit(query_of(url)["redirect_uri"]).port
        real_state = query_of(url)["state"]
        strays = [("GET", "/favicon.ico", 404), ("GET", "/elsewhere?state=" + real_state, 404),
                  ("GET", "/callback", 400), ("GET", "/callback?code=abc", 400),
                  ("GET", "/callback?state=not-ours&code=abc", 400),
                  ("HEAD", "/callback?state=" + real_state + "&code=abc", 400),
                  ("POST", "/callback?state=" + real_state, 405)]
        for method, path, status in strays:
            got, body = self.loopback_get(base + path, method)
            self.assertEqual(got, status, (method, path))
            if method != "HEAD":
                self.assertIn("Still waiting for the login", body)
        page = self.play_browser(run)                           # the real callback still works
        self.assertEqual(page.status, 200)
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)

    def test_only_the_first_matching_callback_is_taken(self):
        pending = PendingLogins()
        catcher = loopback.CallbackCatcher(pending, "CLI")
        state = "s" * 43
        pending.add(AuthRequest(state=state, nonce="n", verifier="v", challenge="c",
                                redirect_uri="http://127.0.0.1:1/callback", issuer="i",
                                scope="openid", created=time.time()))
        self.assertEqual(catcher.claim({"state": "other"}), "stray")
        self.assertEqual(catcher.claim({"state": state, "code": "c1"}), "claimed")
        self.assertEqual(catcher.claim({"state": state, "code": "c2"}), "used")
        self.assertEqual(catcher.params["code"], "c1")

    def test_callback_page_escapes_every_value(self):
        run = self.login()
        params = query_of(run.authorize_url())
        evil = "<script>alert(1)</script>"
        query = urllib.parse.urlencode({"state": params["state"], "error": "access_denied",
                                        "error_description": evil})
        status, body = self.loopback_get(params["redirect_uri"] + "?" + query)
        self.assertEqual(status, 200)
        self.assertIn("You can close this window", body)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", body)
        self.assertNotIn(evil, body)
        self.assertEqual(run.finish(), cli.EXIT_FAILED)
        self.assertIn("access_denied", run.output)

    def test_user_pressing_deny_ends_the_login_with_access_denied(self):
        run = self.login()
        page = self.play_browser(run, allow=False)
        self.assertIn("error=access_denied", page.text)
        self.assertEqual(run.finish(), cli.EXIT_FAILED)
        self.assertIn("Login failed: access_denied", run.output)
        self.assertFalse(self.cache_file.exists())

    def test_localhost_redirect_only_when_configured(self):
        run = self.login(env_file=self.write_env("OAUTH_REDIRECT_HOST=localhost\n"))
        url = run.authorize_url()
        self.assertTrue(query_of(url)["redirect_uri"].startswith("http://localhost:"))
        callback = ScriptedBrowser().login_at_provider(url)
        self.assertEqual(ScriptedBrowser().get(callback).status, 200)
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        bad = self.login(env_file=self.write_env("OAUTH_REDIRECT_HOST=0.0.0.0\n"))
        self.assertEqual(bad.finish(), cli.EXIT_CONFIG)


class TestTokenCache(LoginCase):
    def test_save_writes_the_cache_file_with_mode_0600(self):
        run = self.logged_in("--save")
        self.assertEqual(stat.S_IMODE(self.cache_file.stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(self.cache_dir.stat().st_mode), 0o700)
        saved = json.loads(self.cache_file.read_text())
        self.assertEqual(saved["issuer"], self.auth.issuer)
        self.assertEqual(saved["client_id"], "demo-cli")
        self.assertEqual(saved["user"]["email"], "alice@example.com")
        self.assertTrue(saved["tokens"]["refresh_token"])
        self.assertIn(f"saved to       {self.cache_file} (mode 600", run.output)

    def test_refresh_uses_and_rotates_the_saved_refresh_token(self):
        self.logged_in("--save")
        first = json.loads(self.cache_file.read_text())["tokens"]
        run = self.login("--refresh")
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        second = json.loads(self.cache_file.read_text())["tokens"]
        self.assertNotEqual(first["refresh_token"], second["refresh_token"])
        self.assertNotEqual(first["access_token"], second["access_token"])
        self.assertEqual(stat.S_IMODE(self.cache_file.stat().st_mode), 0o600)
        self.assertIn("rotated the refresh token", run.output)
        self.assertIn("Logged in as Alice Example", run.output)
        status, body = http_json(self.auth.url("/oauth/token"), data={
            "grant_type": "refresh_token", "client_id": "demo-cli",
            "refresh_token": first["refresh_token"]})
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))   # the old one is dead

    def test_refresh_refuses_a_cache_file_others_can_read(self):
        self.logged_in("--save")
        os.chmod(self.cache_file, 0o644)
        run = self.login("--refresh")
        self.assertEqual(run.finish(), cli.EXIT_FAILED)
        self.assertIn("Refusing to use the saved tokens", run.output)

    def test_refresh_without_saved_tokens_says_what_to_do(self):
        run = self.login("--refresh")
        self.assertEqual(run.finish(), cli.EXIT_FAILED)
        self.assertIn("No saved tokens", run.output)
        self.assertIn("--save", run.output)

    def test_refresh_of_a_token_the_server_forgot_explains_why(self):
        self.logged_in("--save")
        saved = json.loads(self.cache_file.read_text())
        saved["tokens"]["refresh_token"] = "forgotten-" + "x" * 40
        self.cache_file.write_text(json.dumps(saved))
        run = self.login("--refresh")
        self.assertEqual(run.finish(), cli.EXIT_FAILED)
        self.assertIn("invalid_grant", run.output)
        self.assertIn("forgets its tokens", run.output)


if __name__ == "__main__":
    unittest.main()
