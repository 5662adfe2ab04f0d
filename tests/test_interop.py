"""Independent implementations against ours, both ways round.

* Authlib's OAuth2Session (PKCE S256) logs in at our embedded authorization server.
* PyJWT's PyJWKClient verifies our ID and access tokens from our JWKS.
* Our client (the whole walkthrough app) logs in at Node's oidc-provider, an
  OpenID-certified provider.

The libraries are test-only (installed by .ci/run). Without them these tests skip
locally; with CI=true a missing one fails (interop_support.require_or_skip).
"""
from __future__ import annotations

import importlib.util
import json
import socket
import unittest

import pkce
from oauthdemo import settings
from oauthdemo.client.useragent import ScriptedBrowser

from . import interop_support
from .demo_fixtures import demo_settings, latest_session, log_in, start_test_demo


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class TestAuthlibAndPyJWTAgainstEmbeddedServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()
        cls.meta = cls.running.client.metadata

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_authlib_oauth2session_pkce_code_flow(self):
        interop_support.require_or_skip(have("authlib") and have("requests"),
                                        "Authlib and requests are not installed")
        from authlib.integrations.requests_client import OAuth2Session
        redirect_uri = self.running.app_url + "/callback"
        session = OAuth2Session("demo-web-app", redirect_uri=redirect_uri,
                                scope="openid profile email", code_challenge_method="S256",
                                token_endpoint_auth_method="none")
        session.trust_env = False
        verifier = pkce.make_verifier()
        url, state = session.create_authorization_url(self.meta["authorization_endpoint"],
                                                      code_verifier=verifier, nonce="n-authlib")
        callback = ScriptedBrowser().login_at_provider(url, user="carol")
        token = session.fetch_token(self.meta["token_endpoint"], authorization_response=callback,
                                    code_verifier=verifier)
        self.assertEqual(token["token_type"], "Bearer")
        self.assertIn("id_token", token)
        info = session.get(self.meta["userinfo_endpoint"]).json()
        self.assertEqual(info["email"], "carol@example.net")

    def test_pyjwt_pyjwkclient_verifies_our_tokens(self):
        interop_support.require_or_skip(have("jwt") and have("cryptography"),
                                        "PyJWT[crypto] is not installed")
        import jwt
        log_in(self.running)
        tokens = latest_session(self.running).tokens
        client = jwt.PyJWKClient(self.meta["jwks_uri"])
        issuer = self.meta["issuer"]
        id_key = client.get_signing_key_from_jwt(tokens["id_token"])
        claims = jwt.decode(tokens["id_token"], id_key.key, algorithms=["RS256"],
                            audience="demo-web-app", issuer=issuer)
        self.assertEqual(claims["email"], "alice@example.com")
        at_key = client.get_signing_key_from_jwt(tokens["access_token"])
        access = jwt.decode(tokens["access_token"], at_key.key, algorithms=["RS256"],
                            audience="urn:oauth-pkce-demo:api", issuer=issuer)
        self.assertEqual(access["azp"], "demo-web-app")
        with self.assertRaises(jwt.InvalidSignatureError):
            tampered = tokens["id_token"].split(".")
            payload = json.loads(jwt.utils.base64url_decode(tampered[1]))
            payload["email"] = "mallory@example.com"
            tampered[1] = jwt.utils.base64url_encode(json.dumps(payload).encode()).decode()
            jwt.decode(".".join(tampered), id_key.key, algorithms=["RS256"],
                       audience="demo-web-app", issuer=issuer)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestOurClientAgainstNodeOidcProvider(unittest.TestCase):
    def test_walkthrough_app_logs_in_at_oidc_provider(self):
        interop_support.require_or_skip(interop_support.node_available(),
                                        "node or tests/interop/node_modules is missing")
        port = free_port()
        redirect_uri = f"http://localhost:{port}/callback"
        with interop_support.OidcProviderProcess(redirect_uri) as provider:
            cfg = demo_settings(port=port, scope="openid profile email",
                                provider=settings.Provider("oidc", provider.issuer,
                                                           provider.client_id))
            running, console = start_test_demo(cfg)
            try:
                browser = ScriptedBrowser()
                self.assertTrue(browser.get(running.app_url + "/login").location
                                .startswith(provider.issuer))
                browser.login(running.app_url, "dora", at_provider=interop_support.drive_login)
                api = json.loads(browser.get(running.app_url + "/api/protected").text)
                self.assertEqual(api["user"]["sub"], "dora")
                self.assertEqual(api["validated_by"], "userinfo")   # opaque access token
                self.assertIn("signature verified with kid=", console.getvalue())
            finally:
                running.stop()


if __name__ == "__main__":
    unittest.main()
