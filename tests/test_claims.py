"""core.claims: the one claims check (RFC 7519 §4.1, OpenID Connect Core §3.1.3.7).

No sockets and no RSA: tokens are HS256 under a test secret, so every rule is checked in
microseconds. The signature half is core.jose's and is tested in test_jose.
"""
from __future__ import annotations

import unittest

from oauthdemo.core.claims import Expect, check_claims, check_time, verify_jwt
from oauthdemo.core.errors import (BadSignature, ClaimMismatch, ExpiredToken, JoseError)
from oauthdemo.core.jose import encode_jwt

SECRET = b"k" * 32
OTHER_SECRET = b"o" * 32
ISSUER = "https://issuer.example/"
CLIENT = "demo-web-app"
NOW = 1_700_000_000


def claims(**overrides) -> dict:
    """A token that passes ``expect()``; overrides change or (with None) drop a claim."""
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "alice", "exp": NOW + 300, "iat": NOW,
            "nonce": "n-0S6_WzA2Mj"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def expect(**overrides) -> Expect:
    values = {"iss": ISSUER, "aud": CLIENT, "now": NOW}
    values.update(overrides)
    return Expect(**values)


class TestVerifyJwt(unittest.TestCase):
    def verify(self, body: dict, key=SECRET, **expected):
        token = encode_jwt(body, SECRET, alg="HS256")
        return verify_jwt(token, algorithms=["HS256"], key=key, expect=expect(**expected))

    def test_good_token_returns_header_and_claims(self):
        header, body = self.verify(claims())
        self.assertEqual((header["alg"], body["sub"]), ("HS256", "alice"))

    def test_signature_is_checked_before_any_claim(self):
        with self.assertRaises(BadSignature):
            self.verify(claims(iss="https://evil.example/"), key=OTHER_SECRET)

    def test_key_for_kid_is_used_as_the_key_source(self):
        token = encode_jwt(claims(), SECRET, alg="HS256", headers={"kid": "k1"})
        seen = []
        verify_jwt(token, algorithms=["HS256"], expect=expect(),
                   key_for_kid=lambda kid: seen.append(kid) or SECRET)
        self.assertEqual(seen, ["k1"])

    def test_claims_are_checked_after_the_signature(self):
        with self.assertRaises(ClaimMismatch):
            self.verify(claims(aud="someone-else"))

    def test_every_failure_is_a_jose_error(self):
        for body in (claims(iss="x"), claims(exp=NOW - 1), claims(nonce="other")):
            with self.subTest(body=body), self.assertRaises(JoseError):
                self.verify(body, nonce="n-0S6_WzA2Mj")


class TestIssuerAndAudience(unittest.TestCase):
    def test_issuer_must_match_exactly(self):
        for iss in ("https://issuer.example", "https://ISSUER.example/", "", None):
            with self.subTest(iss=iss), self.assertRaises(ClaimMismatch):
                check_claims(claims(iss=iss), expect())

    def test_audience_as_a_string(self):
        check_claims(claims(aud=CLIENT), expect())
        with self.assertRaises(ClaimMismatch):
            check_claims(claims(aud="other-client"), expect())

    def test_audience_as_a_list(self):
        check_claims(claims(aud=["urn:api", CLIENT]), expect())
        for aud in (["urn:api"], [], None):
            with self.subTest(aud=aud), self.assertRaises(ClaimMismatch):
                check_claims(claims(aud=aud), expect())

    def test_audience_is_not_a_substring_match(self):
        with self.assertRaises(ClaimMismatch):
            check_claims(claims(aud="demo-web-app-2"), expect())


class TestAuthorizedParty(unittest.TestCase):
    """OIDC Core §3.1.3.7 (4)–(5): with several audiences, azp names the client."""

    def test_several_audiences_need_azp_to_be_us(self):
        check_claims(claims(aud=[CLIENT, "urn:api"], azp=CLIENT), expect(azp=CLIENT))
        for azp in ("urn:api", None):
            with self.subTest(azp=azp), self.assertRaises(ClaimMismatch):
                check_claims(claims(aud=[CLIENT, "urn:api"], azp=azp), expect(azp=CLIENT))

    def test_one_audience_needs_no_azp(self):
        check_claims(claims(aud=[CLIENT]), expect(azp=CLIENT))
        check_claims(claims(aud=CLIENT), expect(azp=CLIENT))

    def test_azp_not_asked_for_is_not_checked(self):
        check_claims(claims(aud=[CLIENT, "urn:api"], azp="urn:api"), expect())


class TestNonce(unittest.TestCase):
    def test_nonce_must_equal_the_logins(self):
        check_claims(claims(), expect(nonce="n-0S6_WzA2Mj"))
        for nonce in ("n-0S6_WzA2Mk", "", None, "n-0S6_WzA2Mj "):
            with self.subTest(nonce=nonce), self.assertRaises(ClaimMismatch):
                check_claims(claims(nonce=nonce), expect(nonce="n-0S6_WzA2Mj"))

    def test_nonce_not_expected_is_not_checked(self):
        check_claims(claims(nonce="anything"), expect())

    def test_non_ascii_nonce_is_refused_not_a_crash(self):
        with self.assertRaises(ClaimMismatch):
            check_claims(claims(nonce="n-é"), expect(nonce="n-0S6_WzA2Mj"))


class TestTime(unittest.TestCase):
    """RFC 7519 §4.1.4–§4.1.6: exp required and not reached; iat and nbf not in the future."""

    def test_exp_is_required(self):
        with self.assertRaises(ExpiredToken):
            check_claims(claims(exp=None), expect())

    def test_exp_reached_is_expired(self):
        for exp in (NOW, NOW - 1):
            with self.subTest(exp=exp), self.assertRaises(ExpiredToken):
                check_time({"exp": exp}, now=NOW)
        check_time({"exp": NOW + 1}, now=NOW)

    def test_leeway_tolerates_clock_skew_and_no_more(self):
        check_time({"exp": NOW - 30}, now=NOW, leeway=31)
        with self.assertRaises(ExpiredToken):
            check_time({"exp": NOW - 30}, now=NOW, leeway=30)
        check_time({"exp": NOW + 60, "iat": NOW + 30, "nbf": NOW + 30}, now=NOW, leeway=30)

    def test_exp_that_is_not_a_finite_number_is_refused(self):
        for exp in (float("nan"), float("inf"), True, False, "9999999999", None, [NOW + 60]):
            with self.subTest(exp=exp), self.assertRaises(ExpiredToken):
                check_time({"exp": exp}, now=NOW)

    def test_iat_and_nbf_in_the_future_are_refused(self):
        for name in ("iat", "nbf"):
            with self.subTest(claim=name), self.assertRaises(ClaimMismatch):
                check_time({"exp": NOW + 600, name: NOW + 120}, now=NOW)

    def test_iat_and_nbf_must_be_numbers_when_present(self):
        for name in ("iat", "nbf"):
            for value in ("now", True, float("nan")):
                with self.subTest(claim=name, value=value), self.assertRaises(ClaimMismatch):
                    check_time({"exp": NOW + 600, name: value}, now=NOW)

    def test_iat_and_nbf_are_optional(self):
        check_time({"exp": NOW + 600}, now=NOW)

    def test_the_clock_is_the_callers(self):
        check_claims(claims(exp=NOW + 10), expect(now=NOW + 9))
        with self.assertRaises(ExpiredToken):
            check_claims(claims(exp=NOW + 10), expect(now=NOW + 10))


class TestRequire(unittest.TestCase):
    def test_required_claims_must_be_present_and_non_empty(self):
        check_claims(claims(), expect(require=("sub", "iat")))
        for body in (claims(sub=None), claims(sub="")):
            with self.subTest(body=body), self.assertRaises(ClaimMismatch):
                check_claims(body, expect(require=("sub",)))

    def test_review_finding_sub_must_be_a_non_empty_string(self):
        """OIDC Core §2: sub is a string. 0, false, [] or {} are not a subject."""
        for sub in (0, False, [], {}, 1):
            with self.subTest(sub=sub), self.assertRaises(ClaimMismatch):
                check_claims(claims(sub=sub), expect(require=("sub",)))

    def test_nothing_extra_is_required_by_default(self):
        check_claims(claims(sub=None, iat=None), expect())


if __name__ == "__main__":
    unittest.main()
