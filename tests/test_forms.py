"""core.forms.FormTokens: one CSRF token scheme for every HTML form that changes something.

A token is an HMAC of the form's purpose and its binding (the browser, a login or a
session) under a server key: a token for another purpose, another browser, or a form
without its binding is a 403 ``invalid_request``. No sockets.
"""
from __future__ import annotations

import unittest

from oauthdemo.core.errors import InvalidRequest, OAuth2Error
from oauthdemo.core.forms import FORM_FIELD, FormTokens

KEY = b"f" * 32
BROWSER, OTHER_BROWSER = "b" * 32, "x" * 32
REFUSAL = "This form did not come from this page; reload it and try again."


class TestFormTokens(unittest.TestCase):
    def setUp(self):
        self.tokens = FormTokens(KEY)

    def form_for(self, purpose: str, *binding: str) -> dict:
        return {FORM_FIELD: self.tokens.issue(purpose, *binding), "other": "field"}

    def assert_refused(self, form: dict, purpose: str, *binding: str):
        with self.assertRaises(InvalidRequest) as caught:
            self.tokens.check(form, purpose, *binding, refusal=REFUSAL)
        err = caught.exception
        self.assertEqual((err.error, err.status_code), ("invalid_request", 403))
        self.assertEqual(err.description, REFUSAL)

    def test_the_token_for_this_form_passes(self):
        self.tokens.check(self.form_for("logout", BROWSER, "sid"), "logout", BROWSER, "sid",
                          refusal=REFUSAL)

    def test_review_finding_binding_parts_cannot_be_regrouped(self):
        """Parts are length-prefixed: ("a\0b", "c") and ("a", "b\0c") sign differently."""
        self.assertNotEqual(self.tokens.issue("p", "a\0b", "c"), self.tokens.issue("p", "a", "b\0c"))
        self.assertNotEqual(self.tokens.issue("p", "ab", "c"), self.tokens.issue("p", "a", "bc"))

    def test_a_token_for_another_purpose_is_refused(self):
        self.assert_refused(self.form_for("consent", BROWSER), "logout", BROWSER)

    def test_a_token_from_another_browser_is_refused(self):
        self.assert_refused(self.form_for("logout", OTHER_BROWSER), "logout", BROWSER)

    def test_a_token_for_another_login_of_the_same_browser_is_refused(self):
        self.assert_refused(self.form_for("consent", BROWSER, "login-1"),
                            "consent", BROWSER, "login-2")

    def test_a_missing_binding_is_refused_even_with_a_matching_token(self):
        # No browser cookie: issue("logout", "") is computable by anyone, so it never passes.
        self.assert_refused(self.form_for("logout", ""), "logout", "")
        self.assert_refused(self.form_for("logout", BROWSER, ""), "logout", BROWSER, "")

    def test_a_missing_forged_or_odd_token_is_refused(self):
        for value in (None, "", "forged", "é" * 64, self.tokens.issue("logout", BROWSER)[:-1]):
            form = {} if value is None else {FORM_FIELD: value}
            with self.subTest(value=value):
                self.assert_refused(form, "logout", BROWSER)

    def test_another_key_makes_other_tokens(self):
        token = FormTokens(b"g" * 32).issue("logout", BROWSER)
        self.assertNotEqual(token, self.tokens.issue("logout", BROWSER))
        self.assert_refused({FORM_FIELD: token}, "logout", BROWSER)

    def test_a_fresh_helper_has_a_random_key(self):
        self.assertNotEqual(FormTokens().issue("logout", BROWSER),
                            FormTokens().issue("logout", BROWSER))

    def test_the_refusal_renders_as_an_rfc_error(self):
        try:
            self.tokens.check({}, "logout", BROWSER, refusal=REFUSAL)
        except OAuth2Error as err:
            self.assertEqual(err.to_dict(), {"error": "invalid_request",
                                             "error_description": REFUSAL})
        else:
            self.fail("an empty form passed")


if __name__ == "__main__":
    unittest.main()
