"""The embedded authorization server, over real sockets: discovery, /authorize, /oauth/token,
refresh rotation, /userinfo, revocation, logout, and bad input. RFC 6749, 7636, 9207."""
from __future__ import annotations

import json
import unittest
import urllib.parse

import pkce
from oauthdemo.server.authorize import CODE_TTL
from oauthdemo.core import errors
from oauthdemo.client.transport import http_json
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import Clock, query_of, start_test_demo
from .support import send_raw



class AuthServerCase(unittest.TestCase):
    """A running demo; helpers to obtain codes and tokens straight from the server."""

    def setUp(self):
        self.clock = Clock()
        self.running, self.console = start_test_demo(clock=self.clock)
        self.auth = self.running.auth
        self.issuer = self.auth.issuer
        self.redirect_uri = self.running.app_url + "/callback"
        self.addCleanup(self.running.stop)

    def url(self, path: str) -> str:
        return self.auth.url(path)

    def authorize_url(self, **overrides) -> str:
        params = {"response_type": "code", "client_id": "demo-web-app",
                  "redirect_uri": self.redirect_uri, "scope": "openid profile email offline_access",
                  "code_challenge": self.challenge, "code_challenge_method": "S256",
                  "state": "st-123", "nonce": "n-456"}
        params.update(overrides)
        params = {k: v for k, v in params.items() if v is not None}
        return self.url("/authorize") + "?" + urllib.parse.urlencode(params)

    def get_code(self, user: str = "alice", **overrides) -> str:
        self.verifier, self.challenge = pkce.make_pair()
        callback = ScriptedBrowser().login_at_provider(self.authorize_url(**overrides), user=user)
        params = query_of(callback)
        self.assertEqual(params.get("state"), overrides.get("state", "st-123"))
        self.assertEqual(params.get("iss"), self.issuer)   # RFC 9207
        return params["code"]

    def token(self, **data) -> tuple:
        return http_json(self.url("/oauth/token"), data=data)

    def redeem(self, code: str, **overrides) -> tuple:
        data = {"grant_type": "authorization_code", "client_id": "demo-web-app", "code": code,
                "redirect_uri": self.redirect_uri, "code_verifier": self.verifier}
        data.update(overrides)
        return self.token(**{k: v for k, v in data.items() if v is not None})

    def userinfo(self, access_token: str) -> tuple:
        return http_json(self.url("/userinfo"), headers={"Authorization": f"Bearer {access_token}"})


class TestDiscovery(AuthServerCase):
    def test_discovery_document(self):
        status, meta = http_json(self.url("/.well-known/openid-configuration"))
        self.assertEqual(status, 200)
        self.assertTrue(meta["issuer"].endswith("/"))
        self.assertEqual(meta["code_challenge_methods_supported"], ["S256"])
        self.assertEqual(meta["response_types_supported"], ["code"])
        self.assertEqual(meta["id_token_signing_alg_values_supported"], ["RS256"])
        self.assertIn("refresh_token", meta["grant_types_supported"])
        self.assertTrue(meta["authorization_response_iss_parameter_supported"])
        self.assertEqual(meta["token_endpoint"], self.issuer + "oauth/token")

    def test_jwks_has_public_parts_only(self):
        status, jwks = http_json(self.url("/.well-known/jwks.json"))
        self.assertEqual(status, 200)
        key = jwks["keys"][0]
        self.assertEqual((key["kty"], key["alg"], key["use"]), ("RSA", "RS256", "sig"))
        for private in ("d", "p", "q", "dp", "dq", "qi"):
            self.assertNotIn(private, key)


class TestAuthorizeEndpoint(AuthServerCase):
    def setUp(self):
        super().setUp()
        self.verifier, self.challenge = pkce.make_pair()
        self.browser = ScriptedBrowser()

    def test_unknown_client_shows_error_and_never_redirects(self):
        resp = self.browser.get(self.authorize_url(client_id="evil-client"))
        self.assertEqual(resp.status, 400)
        self.assertIsNone(resp.location)
        self.assertIn("invalid_request", resp.text)

    def test_unregistered_redirect_uri_never_redirects(self):
        resp = self.browser.get(self.authorize_url(redirect_uri="https://attacker.example/cb"))
        self.assertEqual(resp.status, 400)
        self.assertIsNone(resp.location)

    def test_missing_code_challenge_redirects_with_invalid_request(self):
        resp = self.browser.get(self.authorize_url(code_challenge=None))
        self.assertEqual(resp.status, 303)
        params = query_of(resp.location)
        self.assertEqual(params["error"], "invalid_request")
        self.assertEqual(params["state"], "st-123")
        self.assertTrue(resp.location.startswith(self.redirect_uri))

    def test_plain_challenge_method_refused(self):
        resp = self.browser.get(self.authorize_url(code_challenge_method="plain"))
        self.assertEqual(query_of(resp.location)["error"], "invalid_request")

    def test_response_type_token_refused(self):
        resp = self.browser.get(self.authorize_url(response_type="token"))
        self.assertEqual(query_of(resp.location)["error"], "unsupported_response_type")

    def test_native_client_accepts_any_loopback_port(self):
        for port in (1234, 54321):
            resp = self.browser.get(self.authorize_url(
                client_id="demo-cli", redirect_uri=f"http://127.0.0.1:{port}/callback"))
            self.assertEqual(resp.status, 200)
        resp = self.browser.get(self.authorize_url(
            client_id="demo-cli", redirect_uri="http://127.0.0.1:1234/other"))
        self.assertEqual(resp.status, 400)

    def test_login_form_refuses_cross_site_post(self):
        page = self.browser.get(self.authorize_url())
        form = page.forms()[0]
        attacker = ScriptedBrowser()   # another browser: no as_browser cookie
        resp = attacker.request(self.url("/authorize/login"), data=form["fields"])
        self.assertEqual(resp.status, 403)
        forged = dict(form["fields"], form_token="forged")
        self.assertEqual(self.browser.request(self.url("/authorize/login"), data=forged).status, 403)

    def test_pages_forbid_framing(self):
        page = self.browser.get(self.authorize_url())
        self.assertIn("frame-ancestors 'none'", page.headers["Content-Security-Policy"])

    def test_deny_at_consent_returns_access_denied(self):
        callback = self.browser.login_at_provider(self.authorize_url(), allow=False)
        params = query_of(callback)
        self.assertEqual(params["error"], "access_denied")
        self.assertEqual(params["state"], "st-123")
        self.assertNotIn("code", params)


class TestTokenEndpoint(AuthServerCase):
    def test_code_exchange_returns_signed_tokens(self):
        status, body = self.redeem(self.get_code())
        self.assertEqual(status, 200, body)
        self.assertEqual(body["token_type"], "Bearer")
        for name in ("access_token", "id_token", "refresh_token", "expires_in", "scope"):
            self.assertIn(name, body)

    def test_missing_verifier_is_invalid_request(self):
        status, body = self.redeem(self.get_code(), code_verifier=None)
        self.assertEqual((status, body["error"]), (400, "invalid_request"))

    def test_wrong_verifier_is_invalid_grant(self):
        status, body = self.redeem(self.get_code(), code_verifier=pkce.make_verifier())
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))
        self.assertIn("SHA-256 → base64url", self.console.getvalue())

    def test_malformed_verifier_is_invalid_request(self):
        status, body = self.redeem(self.get_code(), code_verifier="too-short")
        self.assertEqual((status, body["error"]), (400, "invalid_request"))

    def test_code_reuse_revokes_tokens(self):
        code = self.get_code()
        status, first = self.redeem(code)
        self.assertEqual(status, 200)
        self.assertEqual(self.userinfo(first["access_token"])[0], 200)
        status, body = self.redeem(code)
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))
        status, body = self.userinfo(first["access_token"])
        self.assertEqual((status, body["error"]), (401, "invalid_token"))
        status, body = self.token(grant_type="refresh_token", client_id="demo-web-app",
                                  refresh_token=first["refresh_token"])
        self.assertEqual(body["error"], "invalid_grant")

    def test_expired_code_refused(self):
        code = self.get_code()
        self.clock.advance(CODE_TTL + 1)
        status, body = self.redeem(code)
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))

    def test_redirect_uri_mismatch_refused(self):
        status, body = self.redeem(self.get_code(), redirect_uri=self.redirect_uri + "x")
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))

    def test_client_id_mismatch_refused(self):
        status, body = self.redeem(self.get_code(), client_id="demo-cli")
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))

    def test_unknown_client_is_invalid_client(self):
        status, body = self.redeem(self.get_code(), client_id="nobody")
        self.assertEqual((status, body["error"]), (401, "invalid_client"))

    def test_confidential_client_must_authenticate(self):
        status, body = self.token(grant_type="authorization_code", client_id="demo-backend",
                                  code="x", redirect_uri="http://127.0.0.1:1/callback",
                                  code_verifier=pkce.make_verifier())
        self.assertEqual((status, body["error"]), (401, "invalid_client"))

    def test_json_body_accepted(self):
        import urllib.request
        code = self.get_code()
        body = json.dumps({"grant_type": "authorization_code", "client_id": "demo-web-app",
                           "code": code, "redirect_uri": self.redirect_uri,
                           "code_verifier": self.verifier}).encode()
        req = urllib.request.Request(self.url("/oauth/token"), data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            self.assertIn("access_token", json.loads(resp.read()))

    def test_errors_are_json_and_not_cached(self):
        import urllib.request
        import urllib.error
        req = urllib.request.Request(self.url("/oauth/token"), data=b"grant_type=password")
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(req, timeout=5)
        with ctx.exception as err:
            self.assertEqual(err.headers["Cache-Control"], "no-store")
            self.assertEqual(err.headers["Content-Type"], "application/json")
            self.assertIn("error", json.loads(err.read()))

    def test_refresh_rotation_and_reuse_detection(self):
        _, first = self.redeem(self.get_code())
        refresh = lambda token: self.token(grant_type="refresh_token",  # noqa: E731
                                           client_id="demo-web-app", refresh_token=token)
        status, second = refresh(first["refresh_token"])
        self.assertEqual(status, 200)
        self.assertNotEqual(second["refresh_token"], first["refresh_token"])
        status, body = refresh(first["refresh_token"])      # the rotated one: reuse!
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))
        status, body = refresh(second["refresh_token"])     # the whole family is dead
        self.assertEqual(body["error"], "invalid_grant")
        self.assertEqual(self.userinfo(second["access_token"])[0], 401)


class TestBoundsAndRaces(AuthServerCase):
    def test_tokens_signed_while_the_grant_is_revoked_are_dead(self):
        """A replay can revoke the grant between the code check and the signing; the
        tokens being signed then must not come out alive (RFC 6749 §4.1.2)."""
        _, tokens = self.redeem(self.get_code())
        grant = self.auth.inspect.grants()[-1]
        self.auth.revocation.revoke_grant(grant.grant_id, "test: a replay arrived")
        with self.assertRaises(errors.InvalidGrant):
            self.auth.tokens.issue(grant, include_refresh=False)
        self.assertEqual(self.userinfo(tokens["access_token"])[0], 401)

    def test_unknown_kid_with_any_characters_is_a_clean_401(self):
        from oauthdemo.core.jose import encode_jwt
        from .support import shared_rsa_key
        token = encode_jwt({"sub": "x"}, shared_rsa_key(), headers={"kid": "中\r\nX: y"})
        import urllib.request
        import urllib.error
        for url in (self.url("/userinfo"), self.running.app_url + "/api/protected"):
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            with self.assertRaises(urllib.error.HTTPError) as ctx:
                urllib.request.urlopen(req, timeout=5)
            with ctx.exception as err:
                self.assertEqual(err.code, 401, url)
                challenge = err.headers["WWW-Authenticate"]
                self.assertTrue(challenge.isascii() and "中" not in challenge, challenge)
                self.assertEqual(json.loads(err.read())["error"], "invalid_token")

    def test_invalid_client_challenge_names_basic(self):
        import urllib.request
        import urllib.error
        req = urllib.request.Request(self.url("/oauth/token"),
                                     data=b"grant_type=authorization_code&client_id=nobody")
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(req, timeout=5)
        with ctx.exception as err:
            self.assertEqual(err.code, 401)
            self.assertTrue(err.headers["WWW-Authenticate"].startswith("Basic "))


class TestUserinfoRevokeLogout(AuthServerCase):
    def test_userinfo_returns_profile(self):
        _, tokens = self.redeem(self.get_code(user="bob"))
        status, info = self.userinfo(tokens["access_token"])
        self.assertEqual(status, 200)
        self.assertEqual(info["email"], "bob@example.org")

    def test_userinfo_bad_token_gets_401_with_challenge(self):
        import urllib.request
        import urllib.error
        req = urllib.request.Request(self.url("/userinfo"), headers={"Authorization": "Bearer x.y.z"})
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(req, timeout=5)
        with ctx.exception as err:
            self.assertEqual(err.code, 401)
            self.assertIn('error="invalid_token"', err.headers["WWW-Authenticate"])

    def test_revoke_refresh_token_kills_its_family(self):
        _, tokens = self.redeem(self.get_code())
        status, _ = http_json(self.url("/oauth/revoke"),
                              data={"client_id": "demo-web-app", "token": tokens["refresh_token"]})
        self.assertEqual(status, 200)
        self.assertEqual(self.userinfo(tokens["access_token"])[0], 401)

    def test_logout_only_to_allowed_urls(self):
        browser = ScriptedBrowser()
        ok = browser.get(self.url("/v2/logout?") + urllib.parse.urlencode(
            {"client_id": "demo-web-app", "returnTo": self.running.app_url + "/"}))
        self.assertEqual((ok.status, ok.location), (302, self.running.app_url + "/"))
        bad = browser.get(self.url("/v2/logout?") + urllib.parse.urlencode(
            {"client_id": "demo-web-app", "returnTo": "https://attacker.example/"}))
        self.assertEqual(bad.status, 400)
        self.assertIsNone(bad.location)


class TestBadInput(AuthServerCase):
    def raw(self, data: bytes) -> bytes:
        return send_raw(urllib.parse.urlsplit(self.issuer).port, data)

    def test_invalid_json_is_400_json(self):
        resp = self.raw(b"POST /oauth/token HTTP/1.0\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 5\r\n\r\n{nope")
        self.assertTrue(resp.startswith(b"HTTP/1.0 400"), resp[:80])
        self.assertIn(b'"invalid_request"', resp)

    def test_oversized_body_is_413(self):
        resp = self.raw(b"POST /oauth/token HTTP/1.0\r\nContent-Length: 999999999\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.0 413"), resp[:80])

    def test_bad_percent_encoding_is_400(self):
        resp = self.raw(b"GET /authorize?client_id=%zz HTTP/1.0\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.0 400"), resp[:80])

    def test_wrong_method_is_405(self):
        resp = self.raw(b"DELETE /oauth/token HTTP/1.0\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.0 405"), resp[:80])

    def test_repeated_parameter_is_400(self):
        resp = self.raw(b"GET /authorize?client_id=a&client_id=b HTTP/1.0\r\n\r\n")
        self.assertTrue(resp.startswith(b"HTTP/1.0 400"), resp[:80])

    def test_server_keeps_serving_and_never_leaks_traceback(self):
        for bad in (b"GARBAGE\r\n\r\n", b"GET /authorize?x=%ff HTTP/1.0\r\n\r\n"):
            resp = self.raw(bad)
            self.assertNotIn(b"Traceback", resp)
            self.assertRegex(resp[:12].decode(), r"HTTP/1\.[01] 4\d\d")
        status, _ = http_json(self.url("/.well-known/openid-configuration"))
        self.assertEqual(status, 200)


if __name__ == "__main__":
    unittest.main()
