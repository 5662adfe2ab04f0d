"""Settings (.env, environment, flags), start-up errors, the banner, and the console voice."""
from __future__ import annotations

import dataclasses
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import unittest
import urllib.request
from argparse import Namespace
from pathlib import Path
from unittest import mock

from oauthdemo import runner
from oauthdemo import settings
from oauthdemo.core.errors import ConfigError, ProviderUnreachable
from oauthdemo.core.text import abbreviate, mask_secret
from oauthdemo.core.events import Said
from oauthdemo.teaching.narrator import Narrator

from .demo_fixtures import demo_settings, start_test_demo

ROOT = Path(__file__).resolve().parent.parent


def args(**kw) -> Namespace:
    """Flags as the parser leaves them: None when not given."""
    base = dict(env_file=None, host=None, port=None, idp_port=None, show_tokens=None,
                quiet=None, open_browser=None)
    base.update(kw)
    return Namespace(**base)


class TestSettings(unittest.TestCase):
    def build(self, env_text: str = "", environ=None, **flags):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / ".env"
            path.write_text(env_text, encoding="utf-8")
            return settings.build(args(env_file=str(path), **flags), environ=environ or {})

    def test_env_file_parsing(self):
        values = settings.parse_env_file(
            '# comment\nexport AUTH0_DOMAIN="t.eu.auth0.com"\nAUTH0_CLIENT_ID=abc # note\n'
            "OIDC_AUDIENCE='x y'\n\n")
        self.assertEqual(values, {"AUTH0_DOMAIN": "t.eu.auth0.com", "AUTH0_CLIENT_ID": "abc",
                                  "OIDC_AUDIENCE": "x y"})

    def test_bad_env_line_is_a_clear_error(self):
        with self.assertRaises(ConfigError) as ctx:
            settings.parse_env_file("AUTH0_DOMAIN\n")
        self.assertIn("line 1", ctx.exception.description)

    def test_embedded_by_default(self):
        cfg = self.build()
        self.assertEqual(cfg.provider.kind, "embedded")
        self.assertEqual((cfg.host, cfg.port, cfg.idp_port), ("127.0.0.1", 8091, 8092))

    def test_auth0_settings(self):
        cfg = self.build("AUTH0_DOMAIN=https://t.us.auth0.com/\nAUTH0_CLIENT_ID=cid\n"
                         "AUTH0_AUDIENCE=https://api/\n")
        self.assertEqual((cfg.provider.kind, cfg.provider.issuer), ("auth0", "https://t.us.auth0.com/"))
        self.assertEqual(cfg.provider.audience, "https://api/")

    def test_environment_overrides_env_file_and_flags_override_both(self):
        cfg = self.build("OIDC_ISSUER=https://a\nOIDC_CLIENT_ID=one\n",
                         environ={"OIDC_CLIENT_ID": "two"}, port=9000, open_browser=False)
        self.assertEqual(cfg.provider.client_id, "two")
        self.assertEqual(cfg.port, 9000)
        self.assertFalse(cfg.open_browser)

    def test_embedded_client_ids_from_environment_and_flags(self):
        cfg = self.build(environ={"EMBEDDED_CLI_CLIENT_ID": "env-cli",
                                  "EMBEDDED_BACKEND_CLIENT_SECRET": "from-env"},
                         embedded_web_client_id="flag-web")
        self.assertEqual(cfg.embedded.web_client_id, "flag-web")
        self.assertEqual(cfg.provider.client_id, "flag-web")
        self.assertEqual(cfg.embedded.native_client_id, "env-cli")
        self.assertEqual(cfg.embedded.backend_secret, "from-env")

    def test_embedded_server_registers_the_configured_web_client(self):
        running, _ = start_test_demo(demo_settings(embedded_web_client_id="my-web"))
        try:
            self.assertEqual(running.client.provider.client_id, "my-web")
            self.assertIn("my-web", running.auth.clients)
        finally:
            running.stop()

    def test_half_configured_is_an_error(self):
        for text in ("AUTH0_DOMAIN=x\n", "OIDC_CLIENT_ID=y\n"):
            with self.assertRaises(ConfigError):
                self.build(text)

    def test_two_providers_is_an_error(self):
        with self.assertRaises(ConfigError):
            self.build("AUTH0_DOMAIN=x\nAUTH0_CLIENT_ID=y\nOIDC_ISSUER=z\nOIDC_CLIENT_ID=w\n")

    def test_missing_env_file_flag_is_an_error(self):
        with self.assertRaises(ConfigError):
            settings.build(args(env_file="/nonexistent/.env"), environ={})


class TestStartupErrors(unittest.TestCase):
    def test_port_in_use_names_the_port_and_the_flag(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            with self.assertRaises(ConfigError) as ctx:
                start_test_demo(demo_settings(port=port))
        self.assertIn(str(port), ctx.exception.description)
        self.assertIn("--port", ctx.exception.description)

    def test_unreachable_provider(self):
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        cfg = demo_settings(provider=settings.Provider("oidc", f"http://127.0.0.1:{port}", "c"))
        with self.assertRaises(ProviderUnreachable) as ctx:
            start_test_demo(cfg)
        self.assertIn("Could not reach", ctx.exception.description)

    def test_issuer_mismatch_in_discovery(self):
        running, _ = start_test_demo()
        try:
            wrong = running.auth.issuer.rstrip("/")     # no trailing slash: not the same issuer
            cfg = demo_settings(provider=settings.Provider("oidc", wrong, "demo-web-app"))
            with self.assertRaises(ConfigError):
                start_test_demo(cfg)
        finally:
            running.stop()


class TestNarrator(unittest.TestCase):
    def test_no_colour_when_piped_or_no_color(self):
        stream = io.StringIO()
        Narrator(stream=stream)(Said("your app", "hello"))
        self.assertNotIn("\033[", stream.getvalue())
        tty = io.StringIO()
        tty.isatty = lambda: True
        with mock.patch.dict(os.environ, {"NO_COLOR": "1"}):
            Narrator(stream=tty)(Said("your app", "hello"))
        self.assertNotIn("\033[", tty.getvalue())
        with mock.patch.dict(os.environ, {}, clear=True):
            Narrator(stream=tty)(Said("your app", "again"))
        self.assertIn("\033[", tty.getvalue())

    def test_tokens_abbreviated_and_secrets_masked(self):
        token = "eyJ" + "a" * 500
        self.assertNotEqual(abbreviate(token), token)
        self.assertEqual(abbreviate(token, show=True), token)
        self.assertNotIn("s3cr3t", mask_secret("s3cr3t-value"))

    def test_banner_masks_client_secret(self):
        running, _ = start_test_demo()
        try:
            provider = dataclasses.replace(running.provider, client_secret="super-secret-value")
            text = "\n".join(runner.banner(dataclasses.replace(running, provider=provider)))
            self.assertNotIn("super-secret-value", text)
            self.assertIn("Alice Example", text)
        finally:
            running.stop()


class TestCommandLine(unittest.TestCase):
    def test_runs_prints_urls_serves_discovery_and_stops_on_ctrl_c(self):
        env = dict(os.environ, NO_COLOR="1", OAUTH_DEMO_CACHE_DIR=tempfile.mkdtemp())
        proc = subprocess.Popen([sys.executable, str(ROOT / "complete_oauth_demo.py"),
                                 "--no-browser", "--port", "0", "--idp-port", "0"],
                                cwd=tempfile.gettempdir(), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            lines = []    # discovery's step, then the banner
            while not any("Authorization server" in l for l in lines) and proc.poll() is None:
                lines.append(proc.stdout.readline())
            issuer = next(l for l in lines if "Authorization server" in l).split()[2]
            with urllib.request.urlopen(issuer + ".well-known/openid-configuration",
                                        timeout=10) as resp:
                self.assertEqual(resp.status, 200)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=15)
        finally:
            proc.kill() if proc.poll() is None else None
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("bye", out)
        self.assertNotIn("Traceback", err)

    def test_port_in_use_exits_with_a_message(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            proc = subprocess.run([sys.executable, str(ROOT / "complete_oauth_demo.py"),
                                   "--no-browser", "--port", str(port)], capture_output=True,
                                  text=True, timeout=30, cwd=tempfile.gettempdir())
        self.assertEqual(proc.returncode, 2)
        self.assertIn(f"Port {port}", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)


if __name__ == "__main__":
    unittest.main()
