"""Self-check of the interop harness (tests/interop_support.py).

Drives the independent oidc-provider by hand -- no project code involved --
to prove that the provider starts, the scripted browser gets through login
and consent over plain http, and PKCE is enforced. The interop test of the
project's own client builds on the same helpers.

Skips when node/oidc-provider are missing, fails instead under CI=true.
"""

import base64
import hashlib
import json
import secrets
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

from oauthdemo.client.useragent import ScriptedBrowser
from tests.interop_support import (
    OidcProviderProcess,
    drive_login,
    node_available,
    require_or_skip,
)

REDIRECT_URI = "http://127.0.0.1:5555/callback"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_opener():
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPCookieProcessor(CookieJar()),
    )


def get_json(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with new_opener().open(request, timeout=10) as response:
        return json.load(response)


def post_form(url, fields):
    """POST a form; return (status, parsed JSON body) also for 4xx answers."""
    data = urllib.parse.urlencode(fields).encode("ascii")
    request = urllib.request.Request(url, data=data, headers={"Accept": "application/json"})
    try:
        with new_opener().open(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.load(err)


def rs256_valid(token: str, jwk: dict) -> bool:
    """Verify an RS256 JWS with a JWK -- RSASSA-PKCS1-v1_5 with SHA-256, by hand."""
    header_b64, payload_b64, sig_b64 = token.split(".")
    n = int.from_bytes(b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    k = (n.bit_length() + 7) // 8
    signature = b64url_decode(sig_b64)
    if len(signature) != k:
        return False
    em = pow(int.from_bytes(signature, "big"), e, n).to_bytes(k, "big")
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420")
    digest = hashlib.sha256(f"{header_b64}.{payload_b64}".encode("ascii")).digest()
    expected = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info) - len(digest)) + b"\x00"
    return secrets.compare_digest(em, expected + digest_info + digest)


class InteropHarnessTest(unittest.TestCase):
    provider: OidcProviderProcess

    @classmethod
    def setUpClass(cls):
        require_or_skip(
            node_available(),
            "node or tests/interop/node_modules/oidc-provider missing "
            "(run: npm ci --prefix tests/interop)",
        )
        started = time.monotonic()
        cls.provider = OidcProviderProcess(REDIRECT_URI)
        cls.provider.__enter__()
        cls.addClassCleanup(cls.provider.__exit__, None, None, None)
        cls.startup_seconds = time.monotonic() - started
        cls.discovery = get_json(cls.provider.issuer + "/.well-known/openid-configuration")

    # -- helpers -------------------------------------------------------------

    def authorize(self, login="alice", scope="openid profile email", **extra):
        """Run a full front channel; return (callback params, verifier, state, nonce)."""
        verifier = b64url(secrets.token_bytes(32))
        challenge = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        state = b64url(secrets.token_bytes(16))
        nonce = b64url(secrets.token_bytes(16))
        url = self.discovery["authorization_endpoint"] + "?" + urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.provider.client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": scope,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                **extra,
            }
        )
        callback = drive_login(ScriptedBrowser(), url, login=login)
        self.assertTrue(callback.startswith(REDIRECT_URI + "?"), callback)
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
        return params, verifier, state, nonce

    def token_request(self, code, verifier=None):
        fields = {
            "grant_type": "authorization_code",
            "client_id": self.provider.client_id,
            "code": code,
            "redirect_uri": REDIRECT_URI,
        }
        if verifier is not None:
            fields["code_verifier"] = verifier
        return post_form(self.discovery["token_endpoint"], fields)

    # -- tests ---------------------------------------------------------------

    def test_startup(self):
        self.assertTrue(self.provider.issuer.startswith("http://localhost:"))
        self.assertEqual(self.provider.issuer, f"http://localhost:{self.provider.port}")
        self.assertLess(self.startup_seconds, 20)

    def test_discovery(self):
        d = self.discovery
        self.assertEqual(d["issuer"], self.provider.issuer)
        self.assertIn("S256", d["code_challenge_methods_supported"])
        self.assertNotIn("plain", d["code_challenge_methods_supported"])
        self.assertIn("RS256", d["id_token_signing_alg_values_supported"])
        self.assertIn("none", d["token_endpoint_auth_methods_supported"])
        self.assertTrue(d["authorization_response_iss_parameter_supported"])
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
            self.assertTrue(d[key].startswith(self.provider.issuer + "/"), (key, d[key]))

    def test_code_flow_with_pkce(self):
        params, verifier, state, nonce = self.authorize(login="alice")
        self.assertIn("code", params)
        self.assertEqual(params.get("state"), state)
        self.assertEqual(params.get("iss"), self.provider.issuer)

        status, tokens = self.token_request(params["code"], verifier)
        self.assertEqual(status, 200, tokens)
        self.assertEqual(tokens["token_type"].lower(), "bearer")
        self.assertIn("access_token", tokens)
        self.assertIn("id_token", tokens)

        # ID token: RS256, signed by a key from jwks_uri, expected claims.
        header_b64, payload_b64, _ = tokens["id_token"].split(".")
        header = json.loads(b64url_decode(header_b64))
        claims = json.loads(b64url_decode(payload_b64))
        self.assertEqual(header["alg"], "RS256")
        jwks = get_json(self.discovery["jwks_uri"])
        (jwk,) = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
        self.assertTrue(rs256_valid(tokens["id_token"], jwk), "ID token signature")
        self.assertEqual(claims["iss"], self.provider.issuer)
        self.assertEqual(claims["aud"], self.provider.client_id)
        self.assertEqual(claims["sub"], "alice")
        self.assertEqual(claims["nonce"], nonce)
        self.assertGreater(claims["exp"], time.time())

        # Scope claims come from the userinfo endpoint (findAccount).
        userinfo = get_json(
            self.discovery["userinfo_endpoint"],
            headers={"Authorization": "Bearer " + tokens["access_token"]},
        )
        self.assertEqual(userinfo["sub"], "alice")
        self.assertEqual(userinfo["email"], "alice@example.test")
        self.assertIs(userinfo["email_verified"], True)
        self.assertIn("name", userinfo)

        # A code is single use.
        status, body = self.token_request(params["code"], verifier)
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"], "invalid_grant")

    def test_pkce_enforced_at_token_endpoint(self):
        params, verifier, _, _ = self.authorize(login="bob")
        status, body = self.token_request(params["code"])  # no code_verifier
        self.assertEqual(status, 400, body)
        self.assertIn(body["error"], ("invalid_grant", "invalid_request"))

        params, verifier, _, _ = self.authorize(login="bob")
        status, body = self.token_request(params["code"], b64url(secrets.token_bytes(32)))
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"], "invalid_grant")

    def test_refresh_token(self):
        # oidc-provider only grants offline_access together with prompt=consent.
        params, verifier, _, _ = self.authorize(
            login="carol", scope="openid offline_access email", prompt="consent"
        )
        status, tokens = self.token_request(params["code"], verifier)
        self.assertEqual(status, 200, tokens)
        self.assertIn("refresh_token", tokens)
        status, refreshed = post_form(
            self.discovery["token_endpoint"],
            {
                "grant_type": "refresh_token",
                "client_id": self.provider.client_id,
                "refresh_token": tokens["refresh_token"],
            },
        )
        self.assertEqual(status, 200, refreshed)
        self.assertIn("access_token", refreshed)
        self.assertIn("id_token", refreshed)

    def test_pkce_required_at_authorization_endpoint(self):
        url = self.discovery["authorization_endpoint"] + "?" + urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.provider.client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": "openid",
                "state": "s1",
            }
        )
        callback = drive_login(ScriptedBrowser(), url)
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
        self.assertEqual(params.get("error"), "invalid_request", params)
        self.assertNotIn("code", params)
        self.assertEqual(params.get("state"), "s1")


if __name__ == "__main__":
    unittest.main()
