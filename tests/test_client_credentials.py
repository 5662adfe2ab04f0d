"""Client credentials (RFC 6749 §4.4) at the embedded server: demo-service, a machine
acting as itself. Real sockets, the real server; the secret is read from the server
object in this process, as the CLI's in-process server does."""
from __future__ import annotations

import base64
import json
import unittest

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.server.clients import ClientRegistry

from .demo_fixtures import demo_settings, start_test_demo


def claims_of(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class TestClientCredentials(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()
        cls.auth = cls.running.auth
        cls.token_url = cls.auth.issuer.rstrip("/") + "/oauth/token"

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def post(self, data: dict, headers: dict | None = None) -> tuple:
        resp = ScriptedBrowser().request(self.token_url, data=data, headers=headers)
        return resp.status, json.loads(resp.text)

    def service(self, **extra) -> dict:
        return {"grant_type": "client_credentials", "client_id": "demo-service",
                "client_secret": self.auth.service_secret, **extra}

    def test_client_credentials_works_with_the_secret(self):
        status, body = self.post(self.service(audience="urn:oauth-pkce-demo:api"))
        self.assertEqual(status, 200, body)
        self.assertEqual((body["token_type"], body["scope"]), ("Bearer", "api:read"))
        self.assertNotIn("id_token", body)        # no user: nobody to tell about
        self.assertNotIn("refresh_token", body)   # §4.4.3: it can simply ask again
        claims = claims_of(body["access_token"])
        self.assertEqual((claims["sub"], claims["client_id"]), ("demo-service", "demo-service"))
        self.assertEqual(claims["aud"], "urn:oauth-pkce-demo:api")

    def test_client_credentials_with_basic_authentication(self):
        basic = base64.b64encode(f"demo-service:{self.auth.service_secret}".encode()).decode()
        status, body = self.post({"grant_type": "client_credentials"},
                                 {"Authorization": "Basic " + basic})
        self.assertEqual(status, 200, body)

    def test_client_credentials_refused_with_a_wrong_secret(self):
        status, body = self.post(self.service(client_secret="wrong"))
        self.assertEqual((status, body["error"]), (401, "invalid_client"))

    def test_client_credentials_refused_without_the_secret(self):
        status, body = self.post({"grant_type": "client_credentials", "client_id": "demo-service"})
        self.assertEqual((status, body["error"]), (401, "invalid_client"))

    def test_client_credentials_refused_for_public_clients(self):
        for client_id in ("demo-cli", "demo-web-app"):
            status, body = self.post({"grant_type": "client_credentials", "client_id": client_id})
            self.assertEqual((status, body["error"]), (400, "unauthorized_client"), client_id)

    def test_client_credentials_refused_for_other_confidential_clients(self):
        backend = self.auth.clients[self.auth.backend_client_id]
        status, body = self.post({"grant_type": "client_credentials",
                                  "client_id": backend.client_id,
                                  "client_secret": backend.secret})
        self.assertEqual(body["error"], "unauthorized_client")

    def test_client_credentials_only_the_registered_audience(self):
        # RFC 8707 §2, as at /authorize and the device grant (was access_denied here)
        status, body = self.post(self.service(audience="https://elsewhere.example/api"))
        self.assertEqual((status, body["error"]), (400, "invalid_target"))
        status, body = self.post(self.service(scope="openid"))
        self.assertEqual(body["error"], "invalid_scope")

    def test_client_credentials_secret_never_printed(self):
        self.post(self.service())
        self.assertIn("client_credentials: demo-service", self.console.getvalue())
        self.assertNotIn(self.auth.service_secret, self.console.getvalue())

    def test_client_credentials_secret_from_settings(self):
        cfg = demo_settings(embedded_service_secret="a-service-secret-from-the-env")
        self.assertNotIn("a-service-secret", repr(cfg))
        registry = ClientRegistry(service_secret=cfg.embedded.service_secret)
        self.assertEqual(registry["demo-service"].secret, "a-service-secret-from-the-env")
        self.assertNotEqual(ClientRegistry()["demo-service"].secret,
                            ClientRegistry()["demo-service"].secret)   # random per run


if __name__ == "__main__":
    unittest.main()
