"""Tests for pkce.py: the RFC 7636 Appendix B vector and the verifier rules of §4.1."""
import unittest

import pkce

# RFC 7636 Appendix B: the worked example of the S256 transformation.
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


class TestPKCE(unittest.TestCase):
    def test_rfc7636_appendix_b(self):
        self.assertEqual(pkce.make_challenge(RFC7636_VERIFIER), RFC7636_CHALLENGE)
        self.assertTrue(pkce.verify(RFC7636_VERIFIER, RFC7636_CHALLENGE))

    def test_recompute_and_compare_is_the_one_server_side_check(self):
        """The server's Step 8 (server/token.py) and pkce.verify share this comparison."""
        self.assertEqual(pkce.recompute_and_compare(RFC7636_VERIFIER, RFC7636_CHALLENGE),
                         (RFC7636_CHALLENGE, True))
        self.assertEqual(pkce.recompute_and_compare(RFC7636_VERIFIER, "A" * 43),
                         (RFC7636_CHALLENGE, False))

    def test_appendix_b_digest_bytes(self):
        # The octets listed in Appendix B for SHA256(verifier).
        expected = bytes([19, 211, 30, 150, 26, 26, 216, 236, 47, 22, 177, 12, 76, 152, 46,
                          8, 118, 168, 120, 173, 109, 241, 68, 86, 110, 225, 137, 74, 203,
                          112, 249, 195])
        self.assertEqual(pkce.s256_digest(RFC7636_VERIFIER), expected)

    def test_verifier_is_43_unreserved_characters_and_unique(self):
        seen = {pkce.make_verifier() for _ in range(200)}
        self.assertEqual(len(seen), 200)
        for v in seen:
            self.assertTrue(pkce.is_well_formed_verifier(v), v)
            self.assertEqual(len(v), 43)

    def test_wrong_verifier_fails(self):
        self.assertFalse(pkce.verify(pkce.make_verifier(), RFC7636_CHALLENGE))

    def test_plain_method_refused(self):
        self.assertFalse(pkce.verify(RFC7636_VERIFIER, RFC7636_VERIFIER, "plain"))

    def test_malformed_verifiers_refused(self):
        for bad in ["", "short", "a" * 42, "a" * 129, "a" * 42 + "!", None, 12345]:
            self.assertFalse(pkce.verify(bad, RFC7636_CHALLENGE), repr(bad))

    def test_pair_matches(self):
        verifier, challenge = pkce.make_pair()
        self.assertTrue(pkce.verify(verifier, challenge))
        self.assertTrue(pkce.is_well_formed_challenge(challenge))


if __name__ == "__main__":
    unittest.main()
