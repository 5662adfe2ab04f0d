"""Review mends on the embedded server (issues 11–14 cold read, helper Q1): one audience
check with one RFC code, one access-token builder, declared error fields and a declared
device capability. Parts driven directly, no sockets (``test_server_units.ServerCase``)."""
from __future__ import annotations

import base64
import dataclasses
import json
import unittest

from oauthdemo.core.errors import InvalidGrant, OAuth2Error, TableFull
from oauthdemo.server.device import DeviceGrant, TooManyCodes
from oauthdemo.server.store import Grant
from oauthdemo.server.token import ACCESS_TOKEN_TTL, UnauthorizedClient

from .test_server_units import ServerCase

UNKNOWN_API = "https://elsewhere.example/api"


def claims_of(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class TestOneAudienceCheck(ServerCase):
    def service(self, **extra) -> dict:
        return {"client_id": "demo-service", "client_secret": self.auth.service_secret, **extra}

    def refusal(self, call) -> OAuth2Error:
        with self.assertRaises(OAuth2Error) as caught:
            call()
        return caught.exception

    def test_rfc8707_unknown_audience_is_invalid_target_everywhere(self):
        """/authorize said access_denied, the device grant invalid_target, client
        credentials access_denied: now RFC 8707 §2's invalid_target (400) at all three."""
        endpoint = self.auth.authorization
        refusals = [
            self.refusal(lambda: endpoint.check_request(
                self.authorization_request(audience=UNKNOWN_API))),
            self.refusal(lambda: self.auth.device.start(
                {"client_id": "demo-cli", "scope": "openid", "audience": UNKNOWN_API}, None)),
            self.refusal(lambda: self.auth.service_grant.redeem(
                self.auth.clients["demo-service"], self.service(audience=UNKNOWN_API)))]
        self.assertEqual({(err.error, err.status_code) for err in refusals},
                         {("invalid_target", 400)})

    def test_rfc8707_invalid_target_goes_back_on_the_redirect(self):
        endpoint = self.auth.authorization
        err = self.refusal(lambda: endpoint.check_request(
            self.authorization_request(audience=UNKNOWN_API)))
        self.assertIn("error=invalid_target", err.redirect_query("s1"))

    def test_rfc8707_known_or_no_audience_passes(self):
        endpoint = self.auth.authorization
        self.assertIsNone(endpoint.check_request(self.authorization_request())[2])
        known = endpoint.check_request(self.authorization_request(audience=self.auth.audience))
        self.assertEqual(known[2], self.auth.audience)


class TestOneAccessTokenBuilder(ServerCase):
    def client_grant(self, lifetime: int) -> Grant:
        now = int(self.clock())
        return Grant("g-service", "demo-service", "demo-service", "api:read",
                     self.auth.audience, None, now, expires=now + lifetime)

    def test_client_credentials_token_never_outlives_its_grant(self):
        grant = self.client_grant(60)
        self.auth.store.add_grant(grant)
        claims = claims_of(self.auth.tokens.issue_to_client(grant)["access_token"])
        self.assertEqual(claims["exp"], grant.expires)        # not iat + ACCESS_TOKEN_TTL
        self.assertLess(claims["exp"], claims["iat"] + ACCESS_TOKEN_TTL)
        self.assertEqual((claims["sub"], claims["client_id"], claims["aud"]),
                         ("demo-service", "demo-service", self.auth.audience))

    def test_client_credentials_token_refused_when_its_grant_is_revoked(self):
        grant = self.client_grant(60)
        self.auth.store.add_grant(grant)
        self.auth.store.revoke_grant(grant.grant_id)
        with self.assertRaises(InvalidGrant):
            self.auth.tokens.issue_to_client(grant)

    def test_user_tokens_keep_userinfo_and_the_users_sub(self):
        now = int(self.clock())
        grant = Grant("g-user", "demo-web-app", "alice", "openid", self.auth.audience, None,
                      now, expires=now + 60)
        self.auth.store.add_grant(grant)
        claims = claims_of(self.auth.tokens.issue(grant, False)["access_token"])
        self.assertEqual(claims["aud"], [self.auth.audience, self.auth.site.url("/userinfo")])
        self.assertNotEqual(claims["sub"], "demo-web-app")
        self.assertEqual((claims["client_id"], claims["exp"]), ("demo-web-app", grant.expires))


class TestDeclaredFields(ServerCase):
    def test_retry_after_and_limit_are_constructor_arguments(self):
        err = TooManyCodes("wait", retry_after=7, limit="everyone")
        self.assertEqual((err.retry_after, err.limit, err.status_code), (7, "everyone", 429))
        self.assertEqual(OAuth2Error("busy", retry_after=2).retry_after, 2)
        self.assertEqual(TableFull("full", retry_after=3).retry_after, 3)

    def test_device_grant_needs_the_declared_device_capability(self):
        clients = self.auth.clients
        self.assertEqual([c for c in ("demo-web-app", "demo-cli", "demo-service")
                          if clients[c].device], ["demo-cli"])
        cli = clients["demo-cli"]
        clients._clients["demo-cli"] = dataclasses.replace(cli, device=False)
        with self.assertRaises(UnauthorizedClient):
            self.auth.device.start({"client_id": "demo-cli", "scope": "openid"}, None)

    def test_device_user_code_source_is_a_constructor_argument(self):
        device = DeviceGrant(self.auth.clients, self.auth.store, self.auth.tokens, self.auth.site,
                             audience=self.auth.audience, clock=self.clock,
                             events=self.auth.events, new_user_code=lambda: "BCDFGHJK")
        self.assertEqual(device.start({"client_id": "demo-cli", "scope": "openid"},
                                      None)["user_code"], "BCDF-GHJK")


if __name__ == "__main__":
    unittest.main()
