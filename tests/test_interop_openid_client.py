"""Interop for issue 14's PAR items: openid-client against our server; our app at oidc-provider.

panva's openid-client 6 (an OpenID Certified relying party) against our server:

``tests/interop/openid_client_rp.mjs`` runs discovery, the code flow with PKCE, RFC 9207
``iss``, ID token validation, userinfo, refresh token rotation (and reuse detection),
revocation and a pushed authorization request (RFC 9126) against the demo's embedded
server, started here on port 0. This test plays the browser (``ScriptedBrowser``) when the
script asks, and checks what the script saw. Then our web app logs in at ``oidc-provider``
9 (OpenID Certified) configured to require PAR. Without node and the npm packages it skips,
except under ``CI=true``, where it fails (``interop_support.require_or_skip``).
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from oauthdemo import cli, settings
from oauthdemo.client.useragent import ScriptedBrowser

from . import interop_support
from .demo_fixtures import demo_settings, query_of, start_test_demo
from .interop_support import INTEROP_DIR, require_or_skip
from .test_cli_login import CommandRun
from .test_interop import free_port

SCRIPT = INTEROP_DIR / "openid_client_rp.mjs"
REDIRECT_URI = "http://127.0.0.1:53682/callback"   # the CLI's loopback: any port (RFC 8252)
TIMEOUT = 20


def openid_client_available() -> bool:
    return (shutil.which("node") is not None
            and (INTEROP_DIR / "node_modules" / "openid-client" / "package.json").is_file())


def run_rp(issuer: str, client_id: str) -> dict:
    """Run the script, answering each authorization URL with a scripted login."""
    env = dict(os.environ, ISSUER=issuer, CLIENT_ID=client_id, REDIRECT_URI=REDIRECT_URI)
    with tempfile.TemporaryFile() as stderr, subprocess.Popen(
            [shutil.which("node"), str(SCRIPT)], cwd=str(INTEROP_DIR), env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True) as proc:
        try:
            for line in proc.stdout:
                message = json.loads(line)
                if "results" in message:
                    return message["results"]
                callback = ScriptedBrowser().login_at_provider(message["authorize_url"])
                proc.stdin.write(callback + "\n")
                proc.stdin.flush()
        finally:
            proc.wait(timeout=TIMEOUT)
            stderr.seek(0)
            errors = stderr.read().decode("utf-8", "replace")
    raise AssertionError(f"openid-client script ended without results:\n{errors}")


class OpenIdClientAgainstEmbeddedServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_or_skip(openid_client_available(),
                        "node and tests/interop/node_modules/openid-client are needed")
        running, _ = start_test_demo()
        try:
            cls.issuer = running.auth.issuer
            cls.results = run_rp(cls.issuer, running.auth.native_client_id)
            cls.client_id = running.auth.native_client_id
        finally:
            running.stop()

    def test_discovery_and_rfc9207_iss(self):
        self.assertEqual(self.results["issuer"], self.issuer)
        self.assertEqual(self.results["callback_iss"], self.issuer)

    def test_code_pkce_and_id_token(self):
        self.assertEqual(self.results["id_token_aud"], self.client_id)
        self.assertTrue(self.results["nonce_checked"])
        self.assertEqual(self.results["userinfo_sub"], self.results["id_token_sub"])

    def test_refresh_rotation_and_reuse(self):
        self.assertTrue(self.results["refresh_rotated"])
        self.assertEqual(self.results["refreshed_id_token_sub"], self.results["id_token_sub"])
        self.assertEqual(self.results["stale_refresh_error"], "invalid_grant")

    def test_rfc9126_par_and_rfc7009_revocation(self):
        self.assertEqual(self.results["par_endpoint"], self.issuer + "oauth/par")
        self.assertEqual(self.results["par_url_params"], ["client_id", "request_uri"])
        self.assertEqual(self.results["par_id_token_sub"], self.results["id_token_sub"])
        self.assertEqual(self.results["refresh_after_revocation_error"], "invalid_grant")


class OurAppAtOidcProviderRequiringPar(unittest.TestCase):
    def test_rfc9126_web_app_pushes_when_discovery_requires_it(self):
        require_or_skip(interop_support.node_available(),
                        "node or tests/interop/node_modules is missing")
        port = free_port()
        redirect_uri = f"http://localhost:{port}/callback"
        with mock.patch.dict(os.environ, {"REQUIRE_PAR": "1"}), \
                interop_support.OidcProviderProcess(redirect_uri) as provider:
            cfg = demo_settings(port=port, scope="openid profile email",
                                provider=settings.Provider("oidc", provider.issuer,
                                                           provider.client_id))
            running, console = start_test_demo(cfg)
            try:
                self.assertIs(running.client.metadata[
                    "require_pushed_authorization_requests"], True)
                browser = ScriptedBrowser()
                start = browser.get(running.app_url + "/login")
                self.assertEqual(set(query_of(start.location)), {"client_id", "request_uri"})
                at_provider = functools.partial(interop_support.drive_login,
                                                redirect_uri=redirect_uri)
                browser.login(running.app_url, "dora", at_provider=at_provider)
                api = json.loads(browser.get(running.app_url + "/api/protected").text)
                self.assertEqual(api["user"]["sub"], "dora")
                self.assertIn("pushed first (RFC 9126)", console.getvalue())
            finally:
                running.stop()

    def test_rfc9126_cli_pushes_when_discovery_requires_it(self):
        """`login` (the CLI, a public native client) at a provider that requires PAR: the
        browser's URL carries only client_id and request_uri, and the login completes."""
        require_or_skip(interop_support.node_available(),
                        "node or tests/interop/node_modules is missing")
        port = free_port()
        redirect_uri = f"http://127.0.0.1:{port}/callback"
        with mock.patch.dict(os.environ, {"REQUIRE_PAR": "1"}), \
                interop_support.OidcProviderProcess(redirect_uri) as provider, \
                tempfile.TemporaryDirectory() as cache, \
                mock.patch.dict(os.environ, {"OAUTH_DEMO_CACHE_DIR": cache}):
            env = Path(cache) / "provider.env"
            env.write_text(f"OIDC_ISSUER={provider.issuer}\nOIDC_CLIENT_ID="
                           f"{provider.client_id}\n", encoding="utf-8")
            login = CommandRun(cli.login_main, ["--no-browser", "--timeout", "20", "--port",
                                                str(port), "--env-file", str(env)])
            url = login.authorize_url()
            self.assertEqual(set(query_of(url)), {"client_id", "request_uri"})
            callback = interop_support.drive_login(ScriptedBrowser(), url, "hal",
                                                   redirect_uri=redirect_uri)
            self.assertEqual(ScriptedBrowser().get(callback).status, 200)
            self.assertEqual(login.finish(), cli.EXIT_OK, login.output)
            self.assertIn("pushed first (RFC 9126)", login.output)


if __name__ == "__main__":
    unittest.main()
