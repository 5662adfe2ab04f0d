"""Issue 14's loose ends: the CLI's hints come from the one hint table (client.explain);
Auth0 keeps client_secret_post by default while generic providers get Basic (RFC 6749
§2.3.1); and the discovery narration names what each grant really uses (the device grant,
RFC 8628, its device authorization endpoint; client credentials, RFC 6749 §4.4, only the
token endpoint), never "Step 3 sends the browser here" where no browser is sent."""
from __future__ import annotations

import io
import unittest

from oauthdemo import cli
from oauthdemo.client.explain import hint_for
from oauthdemo.client.oidc import OIDCClient, token_auth_method
from oauthdemo.core.errors import InvalidGrant, OAuth2Error, ProviderUnreachable, TableFull
from oauthdemo.core.events import EventBus, Shown
from oauthdemo.settings import Provider
from oauthdemo.teaching.narrator import Narrator

from .test_cli_device import Sleeper, SharedDemoCase, ShiftedClock
from .test_cli_edges import SERVICE_SECRET, run_without_url
from .test_cli_login import CommandRun

BOTH = {"token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}
BROWSER_NOTE = "Step 3 sends the browser here"


def auth0(method: str | None = None, secret: str | None = "s3") -> Provider:
    return Provider("auth0", "https://t.example/", "c", secret, token_auth_method=method)


class TestAuth0DefaultAuthMethod(unittest.TestCase):
    """Auth0 registers Regular Web Apps for client_secret_post: the demo keeps sending it."""

    def test_auth0_default_is_client_secret_post(self):
        self.assertEqual(token_auth_method(auth0(), BOTH), "client_secret_post")

    def test_rfc6749_generic_provider_default_stays_basic(self):
        oidc = Provider("oidc", "https://p.example/", "c", "s3")
        self.assertEqual(token_auth_method(oidc, BOTH), "client_secret_basic")

    def test_auth0_registered_for_basic_is_respected(self):
        self.assertEqual(token_auth_method(auth0("client_secret_basic"), BOTH),
                         "client_secret_basic")

    def test_auth0_public_client_sends_no_secret(self):
        self.assertEqual(token_auth_method(auth0(secret=None), BOTH), "none")

    def test_auth0_not_offering_post_gets_basic(self):
        only_basic = {"token_endpoint_auth_methods_supported": ["client_secret_basic"]}
        self.assertEqual(token_auth_method(auth0(), only_basic), "client_secret_basic")


class TestCliHintsAreTheOneTable(unittest.TestCase):
    def failed_with(self, err: Exception) -> str:
        out = io.StringIO()
        def fail():
            raise err
        self.assertEqual(cli.run_command(fail, Narrator(stream=out, colour=False)),
                         cli.EXIT_FAILED)
        return " ".join(out.getvalue().split())

    def test_cli_has_no_hint_table_of_its_own(self):
        self.assertFalse(hasattr(cli, "HINTS"))

    def test_cli_says_the_hint_for_the_cause(self):
        for err in (OAuth2Error("Device code expired.", error="expired_token"),
                    InvalidGrant("Unknown or revoked refresh token."),
                    ProviderUnreachable("Could not reach http://127.0.0.1:9/: refused."),
                    OAuth2Error("Pushed Authorization Request must be used",
                                error="invalid_request")):
            expected = " ".join(hint_for(err.error, err.description).split())
            self.assertTrue(expected, err)
            self.assertIn(expected, self.failed_with(err))

    def test_refresh_token_refusal_says_the_server_forgets_tokens(self):
        self.assertIn("forgets its tokens",
                      hint_for("invalid_grant", "Unknown or revoked refresh token."))
        self.assertIn("PKCE", hint_for("invalid_grant", "Invalid authorization code."))

    def test_a_full_table_is_not_told_to_start_the_demo(self):
        said = self.failed_with(TableFull("Too many logins at once; try again shortly.",
                                          retry_after=5))
        self.assertNotIn("Is the demo running", said)


class TestDiscoveryNarrationByGrant(SharedDemoCase):
    """One demo; what the console says each endpoint is for, per grant."""
    demo_overrides = {"embedded_service_secret": SERVICE_SECRET}
    clock = ShiftedClock()

    def notes(self, grant: str) -> dict:
        shown = []
        bus = EventBus(lambda e: shown.append(e) if isinstance(e, Shown) else None)
        OIDCClient.discover(Provider("embedded", self.auth.issuer, "demo-cli"), events=bus,
                            grant=grant)
        return {e.label.strip(): e.note for e in shown}

    def test_code_grant_keeps_its_words(self):
        notes = self.notes("code")
        self.assertEqual(notes["authorization_endpoint"], BROWSER_NOTE)
        self.assertIn("Step 7", notes["token_endpoint"])

    def test_rfc8628_device_names_the_device_authorization_endpoint(self):
        notes = self.notes("device")
        self.assertNotIn("authorization_endpoint", notes)
        self.assertIn("Device step 1", notes["device_authorization_endpoint"])
        self.assertIn("Device step 5", notes["token_endpoint"])

    def test_rfc6749_client_credentials_uses_only_the_token_endpoint(self):
        notes = self.notes("client_credentials")
        self.assertNotIn("authorization_endpoint", notes)
        self.assertIn("only endpoint", notes["token_endpoint"])

    def test_login_device_command_says_so(self):
        argv = ["--device", "--no-browser", "--timeout", "120", "--idp-port", str(self.idp_port),
                "--env-file", self.env_file]
        run = CommandRun(cli.login_main, argv, sleep=Sleeper(self.clock, interrupt=True),
                         clock=self.clock)
        self.assertEqual(run.finish(), cli.EXIT_CANCELLED, run.output)
        self.assertIn("device_authorization_endpoint", run.output)
        self.assertNotIn("sends the browser here", " ".join(run.output.split()))

    def test_token_client_credentials_command_says_so(self):
        env = self.write_env(f"EMBEDDED_SERVICE_CLIENT_SECRET={SERVICE_SECRET}\n")
        run = CommandRun(run_without_url(cli.token_main),
                         ["--client-credentials", "--idp-port", str(self.idp_port),
                          "--env-file", env])
        self.assertEqual(run.finish(), cli.EXIT_OK, run.output)
        out = " ".join(run.output.split())
        self.assertIn("the only endpoint asked for anything", out)
        self.assertNotIn("authorization_endpoint", out)


if __name__ == "__main__":
    unittest.main()
