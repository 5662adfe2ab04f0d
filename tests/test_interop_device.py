"""An independent client completes the device grant (RFC 8628) at our embedded server:
Authlib's OAuth2Session asks for the codes, a scripted browser plays the user at
/activate, Authlib polls the token endpoint (pending first, then the tokens), and PyJWT
is not needed: Authlib's own answer is checked. Skips locally without Authlib; fails
under CI=true (interop_support.require_or_skip), like tests/test_interop.py."""
from __future__ import annotations

import importlib.util
import unittest
import urllib.parse

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.server.device import GRANT_TYPE

from . import interop_support
from .demo_fixtures import Clock, start_test_demo


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def approve_at_activate(page_url: str, user: str = "alice") -> int:
    """Play the user: the prefilled code, the login, Allow. Returns the final status."""
    browser = ScriptedBrowser()
    login = browser.submit(browser.get(page_url))
    index = next(i for i, f in enumerate(login.forms()) if f["fields"].get("user") == user)
    moved = browser.submit(login, index)
    consent = browser.get(urllib.parse.urljoin(moved.url, moved.location))
    return browser.submit(consent, 0, button=("decision", "allow")).status


class TestAuthlibDeviceGrant(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Checked first: without Authlib there is no demo to start (and nothing to wait for).
        interop_support.require_or_skip(have("authlib") and have("requests"),
                                        "Authlib and requests are not installed")
        cls.clock = Clock()
        cls.running, cls.console = start_test_demo(clock=cls.clock)
        cls.meta = cls.running.auth.metadata()

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def test_authlib_completes_the_device_grant(self):
        from authlib.integrations.requests_client import OAuth2Session
        from authlib.integrations.base_client.errors import OAuthError
        session = OAuth2Session("demo-cli", scope="openid profile email",
                                token_endpoint_auth_method="none")
        session.trust_env = False
        device = session.post(self.meta["device_authorization_endpoint"],
                              data={"client_id": "demo-cli",
                                    "scope": "openid profile email"},
                              withhold_token=True).json()   # no token yet: that is the point
        poll = dict(grant_type=GRANT_TYPE, device_code=device["device_code"])
        with self.assertRaises(OAuthError) as pending:
            session.fetch_token(self.meta["token_endpoint"], **poll)
        self.assertEqual(pending.exception.error, "authorization_pending")
        self.assertEqual(approve_at_activate(device["verification_uri_complete"]), 303)
        self.clock.advance(device["interval"])
        token = session.fetch_token(self.meta["token_endpoint"], **poll)
        self.assertEqual(token["token_type"], "Bearer")
        self.assertIn("id_token", token)
        info = session.get(self.meta["userinfo_endpoint"]).json()
        self.assertEqual(info["email"], "alice@example.com")


if __name__ == "__main__":
    unittest.main()
