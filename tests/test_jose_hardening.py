"""Issue 9, findings 13, 14, 16 and 17: whole-value regexes, JWK import limits, private
cache and database directories, and JWKS refetches that follow a key rotation at once.

Real sockets throughout: the embedded server for PKCE and cookies, a tiny JWKS server on
port 0 (counting its requests) for the key cache, a subprocess for the start-up message.
"""
from __future__ import annotations

import http.client
import os
import stat
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
from pathlib import Path

import pkce
from oauthdemo.backend.store import SessionStore
from oauthdemo.core import jose
from oauthdemo.core import paths
from oauthdemo.core.errors import ConfigError, MalformedToken, UnknownKey
from oauthdemo.web.httpkit import Response
from oauthdemo.core.jose import b64url_decode, b64url_encode
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.client.jwks import JWKS_REFETCH_INTERVAL, JWKSCache
from oauthdemo.client.transport import http_json
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import Clock, demo_settings, query_of, start_test_demo
from .support import JsonServer, shared_rsa_key
from .test_jose import A2_JWK, a2_key

ROOT = Path(__file__).resolve().parent.parent
NOBODY_UID = 65534


def jwk_number(value: int) -> str:
    """A JWK number in its one correct spelling: minimal big-endian octets (RFC 7518 §2)."""
    return b64url_encode(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def odd_modulus(bits: int) -> int:
    """An odd number of exactly ``bits`` bits: import must judge its size before any math,
    so it need not be a product of primes."""
    return (1 << (bits - 1)) | 1


def rsa_jwk(n: int, e: int = 65537, **extra) -> dict:
    return dict({"kty": "RSA", "n": jwk_number(n), "e": jwk_number(e)}, **extra)


# == finding 13: a whole value is validated with fullmatch ====================================

class TestFinding13WholeValueRegexes(unittest.TestCase):
    def test_finding13_pkce_values_with_a_trailing_newline_are_refused(self):
        verifier, challenge = pkce.make_pair()
        self.assertTrue(pkce.is_well_formed_verifier(verifier))
        self.assertTrue(pkce.is_well_formed_challenge(challenge))
        # "$" matches before a final "\n", so .match(r"^…$") accepted these.
        self.assertFalse(pkce.is_well_formed_verifier(verifier + "\n"))
        self.assertFalse(pkce.is_well_formed_challenge(challenge + "\n"))
        self.assertFalse(pkce.verify(verifier + "\n", challenge))

    def test_finding13_cookie_value_with_a_trailing_newline_is_never_set(self):
        with self.assertRaises(ValueError):   # it would end the Set-Cookie header line
            Response().set_cookie("demo_browser", "A" * 32 + "\n")
        self.assertIn("Set-Cookie", dict(Response().set_cookie("demo_browser", "A" * 32).headers))


class EmbeddedServerCase(unittest.TestCase):
    def setUp(self):
        self.running, _ = start_test_demo(clock=Clock())
        self.addCleanup(self.running.stop)
        self.auth = self.running.auth
        self.redirect_uri = self.running.app_url + "/callback"

    def authorize_url(self, challenge: str) -> str:
        params = {"response_type": "code", "client_id": "demo-web-app",
                  "redirect_uri": self.redirect_uri, "scope": "openid profile email",
                  "code_challenge": challenge, "code_challenge_method": "S256",
                  "state": "st-13", "nonce": "n-13"}
        return self.auth.url("/authorize") + "?" + urllib.parse.urlencode(params)


class TestFinding13AtTheServer(EmbeddedServerCase):
    def test_finding13_authorize_refuses_a_challenge_with_a_trailing_newline(self):
        _, challenge = pkce.make_pair()
        resp = ScriptedBrowser().get(self.authorize_url(challenge + "\n"))
        self.assertIn(resp.status, (302, 303), resp.text[:300])   # back to the client, with:
        self.assertEqual(query_of(resp.location).get("error"), "invalid_request")
        self.assertEqual(ScriptedBrowser().get(self.authorize_url(challenge)).status, 200)

    def test_finding13_token_endpoint_refuses_a_verifier_with_a_trailing_newline(self):
        verifier, challenge = pkce.make_pair()
        callback = ScriptedBrowser().login_at_provider(self.authorize_url(challenge))
        data = {"grant_type": "authorization_code", "client_id": "demo-web-app",
                "code": query_of(callback)["code"], "redirect_uri": self.redirect_uri,
                "code_verifier": verifier + "\n"}
        status, body = http_json(self.auth.url("/oauth/token"), data=data)
        self.assertEqual((status, body.get("error")), (400, "invalid_request"), body)

    def test_finding13_browser_id_cookie_with_a_trailing_newline_is_refused(self):
        injected = "A" * 32
        # A quoted cookie value may carry an octal escape: "\012" is a newline.
        cookie = f'demo_browser="{injected}\\012"'
        host, port = urllib.parse.urlsplit(self.running.app_url).netloc.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        self.addCleanup(conn.close)
        conn.request("GET", "/login", headers={"Cookie": cookie})
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 302)
        set_cookie = resp.getheader("Set-Cookie", "")
        browser = set_cookie.split(";", 1)[0].partition("=")[2]
        self.assertRegex(browser, r"\A[A-Za-z0-9_-]{32}\Z")
        self.assertNotEqual(browser, injected)   # a fresh id, not the attacker's echoed back


# == finding 14: JWK import limits ===========================================================

class TestFinding14JwkImport(unittest.TestCase):
    def setUp(self):
        self.n = jose.rsa_public_key_from_jwk(A2_JWK).n   # a real 2048-bit modulus

    def test_finding14_exponent_must_be_odd_and_from_3_to_below_2_pow_32(self):
        for e in (3, 65537, (1 << 32) - 1):
            with self.subTest(e=e):
                self.assertEqual(jose.rsa_public_key_from_jwk(rsa_jwk(self.n, e)).e, e)
        for e in (1, 65536, (1 << 32) + 1, self.n - 2):
            with self.subTest(e=e), self.assertRaises(UnknownKey):
                jose.rsa_public_key_from_jwk(rsa_jwk(self.n, e))

    def test_finding14_modulus_must_have_2048_to_4096_bits(self):
        for bits in (2048, 4096):
            with self.subTest(bits=bits):
                key = jose.rsa_public_key_from_jwk(rsa_jwk(odd_modulus(bits)))
                self.assertEqual(key.size_bits, bits)
        for bits in (2047, 4097, 8192):
            with self.subTest(bits=bits), self.assertRaises(UnknownKey):
                jose.rsa_public_key_from_jwk(rsa_jwk(odd_modulus(bits)))
        self.assertEqual(jose.MAX_RSA_BITS, 4096)

    def test_finding14_leading_zero_octet_refused(self):
        padded_n = b64url_encode(b"\x00" + b64url_decode(A2_JWK["n"]))
        padded_e = b64url_encode(b"\x00\x01\x00\x01")
        for jwk in (dict(A2_JWK, n=padded_n), dict(A2_JWK, e=padded_e),
                    dict(A2_JWK, d=b64url_encode(b"\x00" + b64url_decode(A2_JWK["d"])))):
            with self.subTest(jwk={k: v[:6] for k, v in jwk.items()}), \
                    self.assertRaises(MalformedToken):
                jose.rsa_private_key_from_jwk(jwk)
        with self.assertRaises(MalformedToken):
            jose.rsa_public_key_from_jwk({"kty": "RSA", "n": padded_n, "e": "AQAB"})

    def test_finding14_never_generates_a_key_it_would_refuse(self):
        with self.assertRaises(ValueError):
            jose.generate_rsa_key(2048, e=(1 << 32) + 1)

    def test_finding14_our_own_keys_still_load(self):
        key = shared_rsa_key()
        self.assertEqual(jose.rsa_private_key_from_jwk(key.to_jwk(private=True)), key)
        self.assertEqual(jose.rsa_public_key_from_jwk(key.public_key.to_jwk()), key.public_key)
        with tempfile.TemporaryDirectory() as tmp:   # the key cache round trip
            SigningKeyStore(cache_dir=Path(tmp), key=key).rotate(a2_key())
            store = SigningKeyStore(cache_dir=Path(tmp))
            self.assertEqual(store.current(timeout=30), a2_key())
            self.assertEqual(store.warnings, [])


class JwksCase(unittest.TestCase):
    JWKS_PATH = "/jwks.json"

    def serve(self, keys: list) -> JsonServer:
        """A provider's jwks_uri that counts its fetches; it serves whatever self.jwks is."""
        self.jwks = {"keys": keys}
        server = JsonServer(lambda base_url: {self.JWKS_PATH: self.jwks})
        self.addCleanup(server.stop)
        return server


class TestFinding14JwksCache(JwksCase):
    def test_finding14_jwks_cache_skips_refused_keys(self):
        good = shared_rsa_key().public_key.to_jwk()
        padded = dict(a2_key().public_key.to_jwk(), kid="padded",
                      n=b64url_encode(b"\x00" + b64url_decode(A2_JWK["n"])))
        refused = [rsa_jwk(odd_modulus(8192), kid="huge-modulus"),
                   rsa_jwk(odd_modulus(4097), kid="4097-bits"),
                   rsa_jwk(a2_key().n, a2_key().n - 2, kid="huge-exponent"),
                   padded, 5, ["not", "a", "jwk"]]
        server = self.serve(refused + [good])
        cache = JWKSCache(server.base_url + self.JWKS_PATH, clock=Clock())
        self.assertEqual(cache.key_for_kid(good["kid"]), shared_rsa_key().public_key)
        for kid in ("huge-modulus", "4097-bits", "huge-exponent", "padded"):
            with self.subTest(kid=kid), self.assertRaises(UnknownKey):
                cache.key_for_kid(kid)


# == finding 16: the cache and database directories are private ===============================

class PrivateDirCase(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.root = Path(tmp.name)

    def shared_dir(self, mode: int) -> Path:
        directory = self.root / f"shared-{mode:o}"
        directory.mkdir()
        os.chmod(directory, mode)
        return directory


class TestFinding16CacheDir(PrivateDirCase):
    def test_finding16_group_or_world_writable_cache_dir_is_refused(self):
        for mode in (0o777, 0o770, 0o1777):
            directory = self.shared_dir(mode)
            with self.subTest(mode=oct(mode)):
                with self.assertRaises(paths.UnsafePermissions) as caught:
                    paths.write_private_file(directory / "signing-key.json", b"{}")
                self.assertIn(f"chmod 700 {directory}", str(caught.exception))
                self.assertIn(paths.CACHE_DIR_ENV, str(caught.exception))
                self.assertFalse(any(directory.iterdir()))   # nothing was written there
        # A secret already there (ours, 0600) is not read from a shared directory either.
        directory = self.root / "was-private"
        paths.write_private_file(directory / "tokens.json", b"secret")
        os.chmod(directory, 0o777)
        with self.assertRaises(paths.UnsafePermissions):
            paths.read_private_file(directory / "tokens.json")

    def test_finding16_cache_dir_owned_by_someone_else_is_refused(self):
        if os.getuid() != 0:
            self.skipTest("only root can give a directory to another user")
        directory = self.root / "nobody"
        directory.mkdir(mode=0o700)
        os.chown(directory, NOBODY_UID, -1)
        with self.assertRaises(paths.UnsafePermissions) as caught:
            paths.write_private_file(directory / "signing-key.json", b"{}")
        self.assertIn("another user", str(caught.exception))
        with self.assertRaises(ConfigError):
            SessionStore(directory / "backend.sqlite3")

    def test_finding16_new_cache_dirs_are_0700_and_checked_at_start(self):
        new = self.root / "a" / "b"
        paths.write_private_file(new / "signing-key.json", b"{}")
        for directory in (self.root / "a", new):
            self.assertEqual(stat.S_IMODE(directory.stat().st_mode), 0o700)
        # The signing key store refuses a shared cache when it is made, as a sentence.
        with self.assertRaises(ConfigError) as caught:
            SigningKeyStore(cache_dir=self.shared_dir(0o777))
        self.assertIn("chmod 700", caught.exception.description)

    def test_finding16_the_demo_refuses_to_start_with_a_clear_sentence(self):
        env = dict(os.environ, NO_COLOR="1", OAUTH_DEMO_CACHE_DIR=str(self.shared_dir(0o777)))
        proc = subprocess.run([sys.executable, str(ROOT / "complete_oauth_demo.py"),
                               "--no-browser", "--port", "0", "--idp-port", "0"],
                              capture_output=True, text=True, timeout=10, env=env,
                              cwd=tempfile.gettempdir())
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("Cannot start:", proc.stderr)
        self.assertIn("chmod 700", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)


class TestFinding16DatabaseDir(PrivateDirCase):
    def test_finding16_shared_database_dir_is_refused(self):
        for mode in (0o777, 0o770):
            path = self.shared_dir(mode) / "backend.sqlite3"
            with self.subTest(mode=oct(mode)):
                with self.assertRaises(ConfigError) as caught:
                    SessionStore(path)
                self.assertIn("chmod 700", caught.exception.description)
                self.assertIn("BACKEND_DB", caught.exception.description)
                self.assertFalse(path.exists())

    def test_finding16_planted_wal_or_shm_files_are_refused(self):
        for suffix, mode in (("-wal", 0o644), ("-shm", 0o666)):
            directory = self.root / f"db{suffix}"
            directory.mkdir(mode=0o700)
            planted = directory / f"backend.sqlite3{suffix}"
            planted.touch()
            os.chmod(planted, mode)
            with self.subTest(planted=planted.name), self.assertRaises(ConfigError):
                SessionStore(directory / "backend.sqlite3")
        if os.getuid() == 0:   # a 0600 journal that someone else owns is refused too
            directory = self.root / "db-owner"
            directory.mkdir(mode=0o700)
            planted = directory / "backend.sqlite3-wal"
            planted.touch(mode=0o600)
            os.chown(planted, NOBODY_UID, -1)
            with self.assertRaises(ConfigError):
                SessionStore(directory / "backend.sqlite3")

    def test_finding16_new_database_dirs_are_0700(self):
        path = self.root / "state" / "deeper" / "backend.sqlite3"
        SessionStore(path)
        for directory in (self.root / "state", path.parent):
            self.assertEqual(stat.S_IMODE(directory.stat().st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)

    def test_finding16_backend_refusal_is_a_json_error_and_the_app_keeps_serving(self):
        path = self.shared_dir(0o777) / "backend.sqlite3"
        running, _ = start_test_demo(demo_settings(backend_db=str(path)),
                                     clock=Clock())
        self.addCleanup(running.stop)
        for _ in range(2):
            status, body = http_json(running.app_url + "/auth/config")
            self.assertEqual((status, body.get("error")), (503, "configuration_error"), body)
        self.assertIn("chmod 700", body["error_description"])
        self.assertEqual(ScriptedBrowser().get(running.app_url + "/").status, 200)


# == finding 17: a rotation right after the first fetch is picked up ==========================

class TestFinding17JwksRefetch(JwksCase):
    def test_finding17_rotation_right_after_the_first_fetch_is_picked_up(self):
        old, new = shared_rsa_key().public_key, a2_key().public_key
        server = self.serve([old.to_jwk()])
        cache = JWKSCache(server.base_url + self.JWKS_PATH, clock=Clock())
        self.assertEqual(cache.key_for_kid(old.kid), old)
        self.jwks = {"keys": [new.to_jwk(), old.to_jwk()]}   # the provider rotates now
        self.assertEqual(cache.key_for_kid(new.kid), new)           # same instant: no wait
        self.assertEqual(server.fetches, 2)

    def test_finding17_forged_kids_cause_at_most_one_fetch_per_interval(self):
        key = shared_rsa_key().public_key
        server = self.serve([key.to_jwk()])
        clock = Clock()
        cache = JWKSCache(server.base_url + self.JWKS_PATH, clock=clock)

        def forged_flood(count: int = 50):
            for i in range(count):
                with self.assertRaises(UnknownKey):
                    cache.key_for_kid(f"forged-{i}")

        forged_flood()
        self.assertEqual(server.fetches, 2)   # the first fetch, then one refetch at once
        clock.advance(JWKS_REFETCH_INTERVAL - 1)
        forged_flood()
        self.assertEqual(server.fetches, 2)
        clock.advance(1)
        forged_flood()
        self.assertEqual(server.fetches, 3)   # one more per interval, however many kids
        self.assertEqual(cache.key_for_kid(key.kid), key)
        self.assertEqual(server.fetches, 3)

    def test_finding17_first_lookup_fetches_once_even_for_an_unknown_kid(self):
        server = self.serve([shared_rsa_key().public_key.to_jwk()])
        with self.assertRaises(UnknownKey):
            JWKSCache(server.base_url + self.JWKS_PATH, clock=Clock()).key_for_kid("forged")
        self.assertEqual(server.fetches, 1)


if __name__ == "__main__":
    unittest.main()
