"""core.errors: one error root, and what each branch means at the HTTP boundary.

``as_oauth2`` turns any DemoError into an RFC answer (a JOSE failure is RFC 6750's
invalid_token; a fault of ours is a 500 server_error); ``OAuth2Error.from_response`` turns
a provider's RFC 6749 §5.2 answer into one of ours. No sockets.
"""
from __future__ import annotations

import json
import unittest

from oauthdemo.core.errors import (BadSignature, ClaimMismatch, ConfigError, DemoError,
                                   ExpiredToken, InvalidGrant, InvalidRequest, JoseError,
                                   LoginTimedOut, OAuth2Error, ProviderError, SigningFailed,
                                   TokenCacheError, as_oauth2)


class TestOneRoot(unittest.TestCase):
    def test_every_branch_is_a_demo_error(self):
        for cls in (OAuth2Error, JoseError, ConfigError, SigningFailed, LoginTimedOut,
                    TokenCacheError):
            with self.subTest(cls=cls.__name__):
                self.assertTrue(issubclass(cls, DemoError))

    def test_jose_errors_have_no_status_of_their_own(self):
        self.assertFalse(issubclass(JoseError, OAuth2Error))
        self.assertFalse(hasattr(BadSignature(), "status_code"))

    def test_a_description_can_be_given_or_defaulted(self):
        self.assertEqual(InvalidGrant("The code was used.").description, "The code was used.")
        self.assertTrue(ExpiredToken().description)


class TestAsOAuth2(unittest.TestCase):
    def test_jose_error_becomes_invalid_token_401(self):
        for err in (BadSignature(), ExpiredToken(), ClaimMismatch("aud is wrong")):
            with self.subTest(err=type(err).__name__):
                answer = as_oauth2(err)
                self.assertEqual((answer.error, answer.status_code), ("invalid_token", 401))
                self.assertEqual(answer.description, err.description)
                self.assertIn('Bearer error="invalid_token"', answer.www_authenticate())

    def test_an_oauth2_error_is_answered_as_it_is(self):
        err = InvalidGrant("The code was used.")
        self.assertIs(as_oauth2(err), err)

    def test_config_error_keeps_its_status(self):
        answer = as_oauth2(ConfigError("The database is shared.", status_code=503))
        self.assertEqual((answer.error, answer.status_code),
                         ("configuration_error", 503))
        self.assertEqual(answer.description, "The database is shared.")
        self.assertEqual(as_oauth2(ConfigError("x")).status_code, 500)

    def test_signing_failed_is_a_500_server_error_not_a_401(self):
        answer = as_oauth2(SigningFailed())
        self.assertEqual((answer.error, answer.status_code), ("server_error", 500))

    def test_any_other_demo_error_is_a_500_keeping_its_code(self):
        """Review finding: the CLI said "token_cache" before the error root; it still does."""
        for err, code in ((LoginTimedOut("too slow"), "login_timeout"),
                          (TokenCacheError("unreadable"), "token_cache"),
                          (DemoError(), "server_error")):
            with self.subTest(err=type(err).__name__):
                answer = as_oauth2(err)
                self.assertEqual((answer.error, answer.status_code), (code, 500))


class TestFromResponse(unittest.TestCase):
    """RFC 6749 §5.2: a provider's error answer, as oauthlib's raise_from_error."""

    def test_a_4xx_keeps_its_code_status_and_description(self):
        err = OAuth2Error.from_response({"error": "invalid_grant",
                                         "error_description": "Code expired"}, 400)
        self.assertIsInstance(err, ProviderError)
        self.assertEqual((err.error, err.status_code, err.description),
                         ("invalid_grant", 400, "Code expired"))

    def test_every_4xx_is_kept(self):
        for status in (400, 401, 403, 429, 499):
            with self.subTest(status=status):
                err = OAuth2Error.from_response({"error": "x"}, status)
                self.assertEqual(err.status_code, status)

    def test_a_5xx_or_odd_status_becomes_502(self):
        for status in (500, 503, 200, 302):
            with self.subTest(status=status):
                err = OAuth2Error.from_response({"error": "server_error"}, status)
                self.assertEqual((err.error, err.status_code), ("server_error", 502))

    def test_missing_members_get_defaults(self):
        err = OAuth2Error.from_response({}, 400)
        self.assertEqual(err.error, "invalid_response")
        self.assertTrue(err.description)


class TestRendering(unittest.TestCase):
    def test_json_body_has_error_and_description_and_details(self):
        err = InvalidRequest("Bad input.", details={"hint": "send S256"})
        self.assertEqual(json.loads(err.to_json()), {"error": "invalid_request",
                                                     "error_description": "Bad input.",
                                                     "hint": "send S256"})

    def test_redirect_query_carries_state_and_iss_but_no_details(self):
        err = InvalidRequest("Bad input.", details={"secret": "no"})
        query = err.redirect_query(state="s1", iss="https://as.example/")
        self.assertIn("error=invalid_request", query)
        self.assertIn("state=s1", query)
        self.assertIn("iss=https%3A%2F%2Fas.example%2F", query)
        self.assertNotIn("secret", query)

    def test_challenge_cannot_be_broken_by_a_quoted_description(self):
        err = OAuth2Error.from_response({"error": "invalid_token",
                                         "error_description": 'a"b\\c\r\nX-Evil: 1'}, 401)
        self.assertEqual(err.www_authenticate(),
                         'Bearer error="invalid_token", error_description="abcX-Evil: 1"')

    def test_review_finding_provider_error_code_cannot_add_a_challenge_parameter(self):
        """A provider's error code is quoted as safely as its description: no realm of its own."""
        err = OAuth2Error.from_response({"error": 'x", realm="evil'}, 401)
        header = err.www_authenticate()
        self.assertEqual(header.count('"'), 4)   # error="…" and error_description="…", nothing more
        self.assertNotIn('realm="evil"', header)


if __name__ == "__main__":
    unittest.main()
