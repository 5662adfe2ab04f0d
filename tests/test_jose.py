"""Tests for jose.py: RFC 7515/7638 vectors, the classic JWT attacks, and the key store."""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from oauthdemo.core import jose
from oauthdemo.core import paths
from oauthdemo.core.errors import (
    AlgorithmNotAllowed,
    BadSignature,
    SigningFailed,
    ClaimMismatch,
    ExpiredToken,
    MalformedToken,
    UnknownKey,
)
from oauthdemo.core.jose import (
    RSAPrivateKey,
    RSAPublicKey,
    b64url_decode,
    b64url_encode,

    decode_unverified,
    encode_jwt,
    hs256_sign,
    rs256_sign,
    rs256_verify,
    verify_jws,
)
from oauthdemo.server import keys as key_store
from oauthdemo.server.keys import SigningKeyStore
from oauthdemo.core.claims import check_time
from tests.support import A2_JWK, a2_key, shared_rsa_key

# RFC 7515 Appendix A.1: HS256 example (header and payload contain CRLFs, as in the RFC).
A1_HEADER_B64 = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
A1_PAYLOAD_B64 = ("eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
                  "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ")
A1_KEY_K = ("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4h"
            "cgUuTwjAzZr1Z9CAow")
A1_SIGNATURE = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

# RFC 7515 Appendix A.2: RS256 example, same payload, header {"alg":"RS256"}.
A2_HEADER_B64 = "eyJhbGciOiJSUzI1NiJ9"
A2_SIGNATURE = ("cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
                "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
                "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
                "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
                "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
                "p0igcN_IoypGlUPQGe77Rw")

# RFC 7638 §3.1: example key and its thumbprint.
RFC7638_JWK = {
    "kty": "RSA",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
         "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
         "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
         "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

HS_SECRET = b"0123456789abcdef0123456789abcdef"  # exactly the 32-byte minimum
NOW = 1_700_000_000


def unsigned_token(header: dict, claims, signature: bytes = b"") -> str:
    """A token built by hand, the way an attacker would (no checks at all)."""
    def enc(value):
        return b64url_encode(json.dumps(value).encode())
    return f"{enc(header)}.{enc(claims)}.{b64url_encode(signature)}"


def hs256_token(header: dict, payload: bytes, secret: bytes = HS_SECRET) -> str:
    """A correctly HS256-signed token over arbitrary payload bytes."""
    signing_input = f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(payload)}"
    return f"{signing_input}.{b64url_encode(hs256_sign(secret, signing_input.encode()))}"


class TestRFCVectors(unittest.TestCase):
    def test_rfc7515_appendix_a2_rs256(self):
        key = a2_key()
        signing_input = f"{A2_HEADER_B64}.{A1_PAYLOAD_B64}".encode()
        signature = rs256_sign(key, signing_input)
        self.assertEqual(b64url_encode(signature), A2_SIGNATURE)
        self.assertTrue(rs256_verify(key.public_key, signing_input, signature))
        public = jose.rsa_public_key_from_jwk({"kty": "RSA", "n": A2_JWK["n"], "e": "AQAB"})
        header, claims = verify_jws(f"{signing_input.decode()}.{A2_SIGNATURE}",
                                    algorithms=["RS256"], key=public)
        self.assertEqual(header, {"alg": "RS256"})
        self.assertEqual(claims, {"iss": "joe", "exp": 1300819380,
                                  "http://example.com/is_root": True})

    def test_rfc7515_appendix_a1_hs256(self):
        secret = b64url_decode(A1_KEY_K)
        signing_input = f"{A1_HEADER_B64}.{A1_PAYLOAD_B64}".encode()
        self.assertEqual(b64url_encode(hs256_sign(secret, signing_input)), A1_SIGNATURE)
        header, claims = verify_jws(f"{signing_input.decode()}.{A1_SIGNATURE}",
                                    algorithms=["HS256"], key=secret)
        self.assertEqual(header, {"typ": "JWT", "alg": "HS256"})
        self.assertEqual(claims["iss"], "joe")

    def test_rfc7638_thumbprint(self):
        self.assertEqual(jose.jwk_thumbprint(RFC7638_JWK), RFC7638_THUMBPRINT)
        key = RSAPublicKey(n=int.from_bytes(b64url_decode(RFC7638_JWK["n"]), "big"), e=65537)
        self.assertEqual(key.kid, RFC7638_THUMBPRINT)

    def test_a2_private_jwk_round_trips(self):
        key = a2_key()
        self.assertEqual(jose.rsa_private_key_from_jwk(key.to_jwk(private=True)), key)
        for member in ("n", "e", "d", "p", "q", "dp", "dq", "qi"):
            self.assertEqual(key.to_jwk(private=True)[member], A2_JWK[member])


class TestBase64url(unittest.TestCase):
    def test_round_trip_without_padding(self):
        for data in (b"", b"f", b"fo", b"foo", b"\xfb\xff\xfe"):
            text = b64url_encode(data)
            self.assertNotIn("=", text)
            self.assertEqual(b64url_decode(text), data)
        self.assertEqual(b64url_encode(b"\xfb\xff"), "-_8")

    def test_strict_decoding(self):
        for bad in ("Zg==", "Zm9v+", "Zm9v/", "Zm9vY", "Zm 9v", "Zm9v\n", "AB"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                b64url_decode(bad)


class TestRoundTrips(unittest.TestCase):
    def test_rs256_round_trip(self):
        key = shared_rsa_key()
        token = encode_jwt({"sub": "alice", "n": 1}, key)
        header, claims = verify_jws(token, algorithms=["RS256"], key=key.public_key)
        self.assertEqual(claims, {"sub": "alice", "n": 1})
        self.assertEqual(header, {"alg": "RS256", "typ": "JWT", "kid": key.kid})
        self.assertNotIn(" ", token)

    def test_rs256_round_trip_via_key_for_kid(self):
        key = shared_rsa_key()
        token = encode_jwt({"sub": "alice"}, key, headers={"typ": "at+jwt"})
        asked = []

        def lookup(kid):
            asked.append(kid)
            return key.public_key
        header, _ = verify_jws(token, algorithms=("RS256",), key_for_kid=lookup)
        self.assertEqual(asked, [key.kid])
        self.assertEqual(header["typ"], "at+jwt")

    def test_hs256_round_trip(self):
        token = encode_jwt({"sub": "bob"}, HS_SECRET, alg="HS256")
        header, claims = verify_jws(token, algorithms=["HS256"], key=HS_SECRET)
        self.assertEqual(claims, {"sub": "bob"})
        self.assertNotIn("kid", header)

    def test_hs256_refuses_short_secret(self):
        with self.assertRaises(ValueError):
            encode_jwt({"sub": "bob"}, b"short", alg="HS256")

    def test_decode_unverified_shows_without_checking(self):
        token = unsigned_token({"alg": "RS256"}, {"sub": "mallory"}, b"garbage")
        self.assertEqual(decode_unverified(token), ({"alg": "RS256"}, {"sub": "mallory"}))
        with self.assertRaises(MalformedToken):
            decode_unverified("a.b")


class TestAttacks(unittest.TestCase):
    def setUp(self):
        self.key = shared_rsa_key()
        self.token = encode_jwt({"sub": "alice", "admin": False}, self.key)

    def test_tampered_payload_is_bad_signature(self):
        header, _, signature = self.token.split(".")
        forged_claims = b64url_encode(json.dumps({"sub": "alice", "admin": True}).encode())
        with self.assertRaises(BadSignature):
            verify_jws(f"{header}.{forged_claims}.{signature}", algorithms=["RS256"],
                       key=self.key.public_key)

    def test_tampered_header_is_bad_signature(self):
        _, claims, signature = self.token.split(".")
        header = b64url_encode(json.dumps({"alg": "RS256", "kid": self.key.kid,
                                           "typ": "at+jwt"}).encode())
        with self.assertRaises(BadSignature):
            verify_jws(f"{header}.{claims}.{signature}", algorithms=["RS256"],
                       key=self.key.public_key)

    def test_alg_none_is_not_allowed(self):
        for alg in ("none", "None", "NONE"):
            token = unsigned_token({"alg": alg}, {"sub": "admin"})
            with self.subTest(alg=alg), self.assertRaises(AlgorithmNotAllowed):
                verify_jws(token, algorithms=["RS256", "HS256"], key=self.key.public_key)

    def test_alg_not_in_allowlist(self):
        token = encode_jwt({"sub": "x"}, HS_SECRET, alg="HS256")
        with self.assertRaises(AlgorithmNotAllowed):
            verify_jws(token, algorithms=["RS256"], key=HS_SECRET)

    def test_key_confusion_rs256_to_hs256(self):
        public = self.key.public_key
        jwk_bytes = json.dumps(public.to_jwk()).encode()
        pem_ish = b"-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n"
        ssh_ish = b"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 demo@example"
        for public_bytes, configured in ((jwk_bytes, public), (jwk_bytes, jwk_bytes),
                                         (pem_ish, pem_ish), (ssh_ish, ssh_ish),
                                         (pem_ish, pem_ish.decode())):
            # The attacker HMACs with the (public!) key material the server is configured with.
            token = hs256_token({"alg": "HS256"}, b'{"sub":"admin"}', secret=public_bytes)
            with self.subTest(configured=type(configured).__name__), \
                    self.assertRaises(AlgorithmNotAllowed):
                verify_jws(token, algorithms=["RS256", "HS256"], key=configured)

    def test_key_confusion_via_key_for_kid(self):
        token = hs256_token({"alg": "HS256", "kid": self.key.kid},
                            b'{"sub":"admin"}', secret=json.dumps(self.key.to_jwk()).encode())
        with self.assertRaises(AlgorithmNotAllowed):
            verify_jws(token, algorithms=["RS256", "HS256"],
                       key_for_kid=lambda kid: self.key.public_key)

    def test_rs256_token_with_shared_secret_configured(self):
        with self.assertRaises(AlgorithmNotAllowed):
            verify_jws(self.token, algorithms=["RS256", "HS256"], key=HS_SECRET)

    def test_embedded_jwk_header_is_ignored(self):
        attacker = a2_key()
        forged = encode_jwt({"sub": "admin"}, attacker,
                            headers={"jwk": attacker.public_key.to_jwk(), "kid": self.key.kid,
                                     "jku": "https://attacker.example/jwks.json"})
        with self.assertRaises(BadSignature):
            verify_jws(forged, algorithms=["RS256"], key=self.key.public_key)
        with self.assertRaises(BadSignature):
            verify_jws(forged, algorithms=["RS256"], key_for_kid=lambda kid: self.key.public_key)

    def test_key_for_kid_may_refuse(self):
        def lookup(kid):
            raise UnknownKey()
        with self.assertRaises(UnknownKey):
            verify_jws(self.token, algorithms=["RS256"], key_for_kid=lookup)
        with self.assertRaises(UnknownKey):
            verify_jws(self.token, algorithms=["RS256"], key_for_kid=lambda kid: None)

    def test_algorithms_argument_is_required_and_sane(self):
        with self.assertRaises(TypeError):
            verify_jws(self.token, key=self.key.public_key)
        for algorithms, error in (([], ValueError), ((), ValueError), (["none"], ValueError),
                                  (["RS256", "none"], ValueError), (["HS512"], ValueError),
                                  ("RS256", TypeError), (None, TypeError)):
            with self.subTest(algorithms=algorithms), self.assertRaises(error):
                verify_jws(self.token, algorithms=algorithms, key=self.key.public_key)

    def test_exactly_one_key_source(self):
        with self.assertRaises(ValueError):
            verify_jws(self.token, algorithms=["RS256"])
        with self.assertRaises(ValueError):
            verify_jws(self.token, algorithms=["RS256"], key=self.key.public_key,
                       key_for_kid=lambda kid: self.key.public_key)

    def test_malformed_tokens(self):
        header, claims, signature = self.token.split(".")

        def with_header(raw_header: bytes) -> str:
            return f"{b64url_encode(raw_header)}.{claims}.{signature}"
        cases = {
            "two parts": f"{header}.{claims}",
            "four parts": f"{self.token}.{signature}",
            "bad base64": f"{header}.{claims}!.{signature}",
            "padding": f"{header}=.{claims}.{signature}",
            "standard base64 alphabet": f"{header}.{claims}.{signature}+",
            "header not json": with_header(b"not json"),
            "header is an array": with_header(b"[1]"),
            "header is a string": with_header(b'"RS256"'),
            "header not utf-8": with_header(b'{"alg":"\xff"}'),
            "duplicate alg": with_header(b'{"alg":"RS256","alg":"HS256"}'),
            "no alg": with_header(b"{}"),
            "not text": self.token.encode(),
            "too long": f"{header}.{'A' * jose.MAX_TOKEN_CHARS}.{signature}",
        }
        for name, token in cases.items():
            with self.subTest(name), self.assertRaises(MalformedToken):
                verify_jws(token, algorithms=["RS256"], key=self.key.public_key)

    def test_signed_payload_must_be_a_json_object(self):
        for payload in (b"[1,2]", b'"text"', b"42", b"{bad", b'{"exp":NaN}', b"[" * 5000):
            token = hs256_token({"alg": "HS256"}, payload)
            with self.subTest(payload=payload[:10]), self.assertRaises(MalformedToken):
                verify_jws(token, algorithms=["HS256"], key=HS_SECRET)

    def test_crit_header_is_refused(self):
        token = hs256_token({"alg": "HS256", "crit": ["exp"], "exp": 1}, b'{"sub":"x"}')
        with self.assertRaises(MalformedToken):
            verify_jws(token, algorithms=["HS256"], key=HS_SECRET)

    def test_signature_of_wrong_length_is_bad_signature(self):
        header, claims, signature = self.token.split(".")
        raw = b64url_decode(signature)
        for wrong in (raw[:-1], b"\x00" + raw, b""):
            token = f"{header}.{claims}.{b64url_encode(wrong)}"
            with self.subTest(length=len(wrong)), self.assertRaises(BadSignature):
                verify_jws(token, algorithms=["RS256"], key=self.key.public_key)

    def test_signature_not_below_modulus_is_refused(self):
        public = self.key.public_key
        message = b"m"
        too_big = (public.n + 1).to_bytes(len(rs256_sign(self.key, message)), "big")
        self.assertFalse(rs256_verify(public, message, too_big))

    def test_loosely_padded_encoding_is_refused(self):
        """Bleichenbacher'06 style: the right DigestInfo and hash, but not the exact encoding.

        A verifier that parses the block (skip FFs, find 00, read DigestInfo + hash) accepts
        these; with e = 3 an attacker can produce them without the key. Here we 'sign' them
        with the real key so that s^e mod n is exactly the loose encoding.
        """
        key = self.key
        message = b"header.payload"
        length = (key.n.bit_length() + 7) // 8
        t = jose.SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
        short_padding = b"\x00\x01" + b"\xff" * 8 + b"\x00" + t
        loose = [
            short_padding + b"\x00" * (length - len(short_padding)),  # garbage after the hash
            b"\x00\x01" + b"\xfe" * (length - len(t) - 3) + b"\x00" + t,  # padding not FF
            b"\x00\x02" + b"\xff" * (length - len(t) - 3) + b"\x00" + t,  # wrong block type
        ]
        for encoded in loose:
            signature = pow(int.from_bytes(encoded, "big"), key.d, key.n).to_bytes(length, "big")
            self.assertFalse(rs256_verify(key.public_key, message, signature))
        self.assertTrue(rs256_verify(key.public_key, message, rs256_sign(key, message)))


class TestCheckTime(unittest.TestCase):
    def test_valid_token(self):
        check_time({"exp": NOW + 60, "iat": NOW, "nbf": NOW}, now=NOW)

    def test_expired(self):
        with self.assertRaises(ExpiredToken):
            check_time({"exp": NOW - 1}, now=NOW)
        with self.assertRaises(ExpiredToken):
            check_time({"exp": NOW}, now=NOW)  # RFC 7519 §4.1.4: now must be before exp

    def test_leeway(self):
        check_time({"exp": NOW - 30}, now=NOW, leeway=60)
        check_time({"exp": NOW + 60, "iat": NOW + 30}, now=NOW, leeway=60)
        with self.assertRaises(ExpiredToken):
            check_time({"exp": NOW - 61}, now=NOW, leeway=60)

    def test_missing_or_non_numeric_exp(self):
        for claims in ({}, {"exp": "tomorrow"}, {"exp": True}, {"exp": math.nan},
                       {"exp": math.inf}, {"exp": None}):
            with self.subTest(claims=claims), self.assertRaises(ExpiredToken):
                check_time(claims, now=NOW)

    def test_iat_or_nbf_in_the_future(self):
        for claims in ({"exp": NOW + 600, "iat": NOW + 120}, {"exp": NOW + 600, "nbf": NOW + 1},
                       {"exp": NOW + 600, "iat": "now"}):
            with self.subTest(claims=claims), self.assertRaises(ClaimMismatch):
                check_time(claims, now=NOW)


class TestKeys(unittest.TestCase):
    def test_generate_rsa_key(self):
        key = shared_rsa_key()  # made by generate_rsa_key(2048) in tests/support.py
        self.assertEqual(key.size_bits, 2048)
        self.assertEqual(key.e, 65537)
        self.assertEqual(key.p * key.q, key.n)
        self.assertNotEqual(key.p, key.q)
        self.assertGreater(abs(key.p - key.q), 1 << (1024 - 100))
        lam = (key.p - 1) * (key.q - 1) // math.gcd(key.p - 1, key.q - 1)
        self.assertEqual(key.e * key.d % lam, 1)
        self.assertEqual((key.dp, key.dq, key.qi * key.q % key.p),
                         (key.d % (key.p - 1), key.d % (key.q - 1), 1))
        message = b"sign me"
        self.assertTrue(rs256_verify(key.public_key, message, rs256_sign(key, message)))
        self.assertFalse(rs256_verify(key.public_key, b"sign me!", rs256_sign(key, message)))

    def test_generate_retries_when_primes_are_equal_or_close(self):
        # Equal (or close) primes make n easy to factor (Fermat): such a pair must be redrawn.
        p, q = a2_key().p, a2_key().q
        with mock.patch.object(jose, "_random_prime", side_effect=[p, p, p, q]) as draw:
            key = jose.generate_rsa_key(2048)
        self.assertEqual(draw.call_count, 4)
        self.assertEqual(key.public_key, a2_key().public_key)

    def test_sign_refuses_to_release_a_faulty_signature(self):
        good = a2_key()
        faulty = RSAPrivateKey(good.n, good.e, good.d, good.p, good.q,
                               good.dp ^ 2, good.dq, good.qi)  # a flipped bit, as after a fault
        with self.assertRaises(SigningFailed):
            rs256_sign(faulty, b"message")

    def test_generate_refuses_small_keys(self):
        with self.assertRaises(ValueError):
            jose.generate_rsa_key(1024)

    def test_private_key_repr_hides_secrets(self):
        key = a2_key()
        self.assertNotIn(str(key.d), repr(key))
        self.assertNotIn(str(key.p), repr(key))

    def test_public_jwk_and_jwks_document(self):
        key = shared_rsa_key()
        jwk = key.public_key.to_jwk()
        self.assertEqual((jwk["kty"], jwk["use"], jwk["alg"], jwk["kid"]),
                         ("RSA", "sig", "RS256", key.kid))
        self.assertEqual(jose.rsa_public_key_from_jwk(jwk), key.public_key)
        document = jose.jwks_document([key, a2_key().public_key])
        self.assertEqual([k["kid"] for k in document["keys"]], [key.kid, a2_key().kid])
        for published in document["keys"]:
            self.assertFalse({"d", "p", "q", "dp", "dq", "qi"} & set(published))

    def test_small_and_unsuitable_jwks_refused(self):
        n_1024 = b64url_encode(((1 << 1023) | 1).to_bytes(128, "big"))
        good = {"kty": "RSA", "n": A2_JWK["n"], "e": "AQAB"}
        for jwk in ({"kty": "RSA", "n": n_1024, "e": "AQAB"}, dict(good, use="enc"),
                    dict(good, alg="HS256"), dict(good, kty="EC"), dict(good, e="AQ")):
            with self.subTest(jwk={k: v[:8] for k, v in jwk.items()}), \
                    self.assertRaises(UnknownKey):
                jose.rsa_public_key_from_jwk(jwk)

    def test_malformed_jwks_refused(self):
        for jwk in ({"kty": "RSA", "e": "AQAB"}, {"kty": "RSA", "n": A2_JWK["n"], "e": "AQ=="},
                    {"kty": "RSA", "n": A2_JWK["n"], "e": 65537}, ["not", "a", "dict"]):
            with self.subTest(jwk=str(jwk)[:20]), self.assertRaises(MalformedToken):
                jose.rsa_public_key_from_jwk(jwk)

    def test_inconsistent_private_jwk_refused(self):
        broken = dict(A2_JWK, dp=A2_JWK["dq"])
        with self.assertRaises(MalformedToken):
            jose.rsa_private_key_from_jwk(broken)


class TestSigningKeyStore(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        self.cache_dir = Path(self._tmp.name) / "cache"
        self.cache_file = self.cache_dir / key_store.KEY_CACHE_FILENAME

    def _write_cache(self, key: RSAPrivateKey, mode: int) -> None:
        paths.write_private_file(self.cache_file, json.dumps(key.to_jwk(private=True)).encode())
        os.chmod(self.cache_file, mode)

    def test_start_generates_and_saves_0600(self):
        # Generation itself is tested on the shared key (TestKeys): a second pure-Python
        # 2048-bit key here would cost seconds and prove nothing more.
        with mock.patch.object(key_store, "generate_rsa_key",
                               return_value=shared_rsa_key()) as generate:
            store = SigningKeyStore(cache_dir=self.cache_dir)
            store.start()
            key = store.current(timeout=60)
        generate.assert_called_once_with(2048)
        self.assertEqual(key.size_bits, 2048)
        self.assertEqual(stat.S_IMODE(os.stat(self.cache_file).st_mode), 0o600)
        saved = jose.rsa_private_key_from_jwk(json.loads(self.cache_file.read_bytes()))
        self.assertEqual(saved, key)
        self.assertEqual(store.warnings, [])
        token = encode_jwt({"sub": "x"}, key)
        self.assertEqual(verify_jws(token, algorithms=["RS256"], key=store.public_keys()[0])[1],
                         {"sub": "x"})

    def test_reloads_the_same_kid_from_cache(self):
        self._write_cache(shared_rsa_key(), 0o600)
        with mock.patch.object(key_store, "generate_rsa_key",
                               side_effect=AssertionError("must not generate")):
            store = SigningKeyStore(cache_dir=self.cache_dir)
            store.start()
            self.assertEqual(store.current(timeout=30).kid, shared_rsa_key().kid)
        self.assertEqual(store.warnings, [])

    def test_ignores_group_readable_cache_file(self):
        self._write_cache(shared_rsa_key(), 0o644)
        fresh = a2_key()
        with mock.patch.object(key_store, "generate_rsa_key", return_value=fresh):
            store = SigningKeyStore(cache_dir=self.cache_dir)
            self.assertEqual(store.current(timeout=30), fresh)  # current() starts it too
        self.assertEqual(len(store.warnings), 1)
        self.assertEqual(stat.S_IMODE(os.stat(self.cache_file).st_mode), 0o600)
        self.assertEqual(json.loads(self.cache_file.read_bytes())["kid"], fresh.kid)

    def test_corrupt_cache_file_is_replaced(self):
        paths.write_private_file(self.cache_file, b"{not json")
        with mock.patch.object(key_store, "generate_rsa_key", return_value=a2_key()):
            store = SigningKeyStore(cache_dir=self.cache_dir)
            self.assertEqual(store.current(timeout=30).kid, a2_key().kid)
        self.assertEqual(len(store.warnings), 1)

    def test_save_failure_keeps_key_in_memory(self):
        unsafe = paths.UnsafePermissions("cannot guarantee mode 0600 here")
        with mock.patch.object(key_store, "generate_rsa_key", return_value=a2_key()), \
                mock.patch.object(paths, "write_private_file", side_effect=unsafe):
            store = SigningKeyStore(cache_dir=self.cache_dir)
            self.assertEqual(store.current(timeout=30).kid, a2_key().kid)
        self.assertEqual(len(store.warnings), 1)
        self.assertFalse(self.cache_file.exists())

    def test_rotate_keeps_two_public_keys(self):
        first, second = shared_rsa_key(), a2_key()
        store = SigningKeyStore(key=first)
        self.assertEqual(store.rotate(second), second)
        self.assertEqual(store.current(), second)
        self.assertEqual(store.public_keys(), [second.public_key, first.public_key])
        store.rotate(first)
        self.assertEqual(store.public_keys(), [first.public_key, second.public_key])
        self.assertEqual(len(jose.jwks_document(store.public_keys())["keys"]), 2)

    def test_rotate_saves_new_key_to_cache(self):
        store = SigningKeyStore(cache_dir=self.cache_dir, key=shared_rsa_key())
        store.rotate(a2_key())
        self.assertEqual(json.loads(self.cache_file.read_bytes())["kid"], a2_key().kid)

    def test_generation_failure_is_reported_not_hung(self):
        with mock.patch.object(key_store, "generate_rsa_key", side_effect=MemoryError()):
            store = SigningKeyStore()
            with self.assertRaises(RuntimeError):
                store.current(timeout=30)


if __name__ == "__main__":
    unittest.main()
