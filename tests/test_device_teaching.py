"""Issue 13's teaching and server loose ends: the device login's own login page, one
consent form for both flows, the device-code phishing card (RFC 8628 §5.4), the device
flow drawn in /walkthrough, and introspection (RFC 7662) of client-credentials tokens.

Real sockets, the real embedded server, one running demo for the class; the clock is
injected, so polls are never "too fast" and nobody waits.
"""
from __future__ import annotations

import json
import re
import unittest
import urllib.parse

from oauthdemo.client.transport import basic_authorization, http_json
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.server.device import GRANT_TYPE
from oauthdemo.server.token import ACCESS_TOKEN_TTL
from oauthdemo.teaching import attacks

from .demo_fixtures import Clock, start_test_demo


class DeviceTeachingCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.clock = Clock()
        cls.running, cls.console = start_test_demo(clock=cls.clock)
        cls.auth = cls.running.auth
        cls.base = cls.auth.issuer.rstrip("/")

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def post(self, path: str, data: dict, headers: dict | None = None) -> tuple:
        resp = ScriptedBrowser().request(self.base + path, data=data, headers=headers)
        return resp.status, json.loads(resp.text)

    def start_device(self) -> dict:
        status, body = self.post("/oauth/device/code", {"client_id": "demo-cli",
                                                        "scope": "openid profile"})
        self.assertEqual(status, 200, body)
        return body

    def device_login_page(self, device: dict):
        browser = ScriptedBrowser()
        form = browser.get(device["verification_uri_complete"])
        return browser, browser.submit(form)

    def consent(self, browser: ScriptedBrowser, login):
        index = next(i for i, f in enumerate(login.forms()) if f["fields"].get("user") == "alice")
        moved = browser.submit(login, index)
        return browser.get(urllib.parse.urljoin(moved.url, moved.location))


class TestDevicePagesLabAndIntrospection(DeviceTeachingCase):
    """Items 2–5 on one running demo."""

    def test_device_login_page_has_the_device_steps_and_no_pkce(self):
        _, login = self.device_login_page(self.start_device())
        self.assertEqual(login.status, 200)
        self.assertIn('data-step="4"', login.text)
        self.assertIn("Device step 4 of 6", login.text)
        self.assertNotIn("Step 5 of", login.text)
        self.assertIn('data-stored="device"', login.text)
        self.assertNotIn('data-stored="pkce"', login.text)
        self.assertNotIn("code_challenge</strong>", login.text)

    def test_code_flow_login_page_keeps_step_5_and_its_challenge(self):
        browser = ScriptedBrowser()
        page = browser.follow(self.running.app_url + "/login", stop_prefix=self.base)
        page = browser.get(page.location) if page.status in (302, 303) else page
        self.assertIn('data-step="5"', page.text)
        self.assertIn("Step 5 of 10", page.text)
        self.assertIn('data-stored="pkce"', page.text)

    def test_both_consent_pages_share_one_decision_form(self):
        browser, login = self.device_login_page(self.start_device())
        device_consent = self.consent(browser, login)
        forms = device_consent.forms()
        self.assertEqual([f["action"] for f in forms], ["/activate/consent"] * 2)
        web = ScriptedBrowser()
        page = web.follow(self.running.app_url + "/login", stop_prefix=self.base)
        page = web.get(page.location) if page.status in (302, 303) else page
        consent = self.consent(web, page)
        self.assertEqual([f["action"] for f in consent.forms()], ["/authorize/consent"] * 2)
        for each in (device_consent, consent):   # one partial: the same two buttons
            self.assertEqual(re.findall(r'name="decision" value="(\w+)"', each.text),
                             ["allow", "deny"])


    # -- item 5: introspection of a client-credentials token (RFC 7662) -------------------
    def introspect(self, token: str) -> dict:
        api = self.auth.clients[self.auth.resource_client_id]
        return http_json(self.auth.url("/oauth/introspect"), data={"token": token},
                         headers={"Authorization": basic_authorization(api.client_id,
                                                                       api.secret)})[1]

    def service_token(self) -> str:
        status, body = self.post("/oauth/token", {
            "grant_type": "client_credentials", "client_id": "demo-service",
            "client_secret": self.auth.service_secret})
        self.assertEqual(status, 200, body)
        return body["access_token"]

    def test_rfc7662_client_credentials_token_is_active_while_valid(self):
        token = self.service_token()
        answer = self.introspect(token)
        self.assertEqual((answer["active"], answer["client_id"], answer["sub"]),
                         (True, "demo-service", "demo-service"))
        self.assertEqual(answer["aud"], self.auth.audience)
        self.clock.advance(ACCESS_TOKEN_TTL + 1)
        self.assertEqual(self.introspect(token), {"active": False})

    def test_rfc7662_revoked_client_credentials_token_is_not_active(self):
        token = self.service_token()
        status, _ = self.post("/oauth/revoke", {"token": token, "client_id": "demo-service",
                                                "client_secret": self.auth.service_secret})
        self.assertEqual(status, 200)
        self.assertEqual(self.introspect(token), {"active": False})


    # -- item 2: the device-code phishing card (RFC 8628 §5.4) ---------------------------
    def test_rfc8628_device_code_phishing_card(self):
        result = attacks.attack_device_code_phishing(self.running.app.lab, browser="victim")
        self.assertTrue(result["ran"] and result["rejected"], result)
        self.assertEqual((result["error"], result["response"]["status"]), ("access_denied", 400))
        self.assertTrue(any("authorization_pending" in line for line in result["sent"]))
        self.assertTrue(any("Only approve if you started this on your own device" in line
                            for line in result["sent"]))
        allowed = result["extra"][0]
        self.assertEqual(allowed["status"], 200)          # approving hands over tokens …
        self.assertTrue(allowed["revoked"])               # … which the lab revokes at once

    def test_rfc8628_phishing_card_on_the_lab_page(self):
        self.assertIn("m", attacks.ATTACKS)
        self.assertIs(attacks.RUNNERS["m"], attacks.attack_device_code_phishing)
        page = ScriptedBrowser().get(self.running.app_url + "/attacks").text
        self.assertIn('id="attack-m"', page)
        self.assertIn("RFC 8628 §5.4", page)


class TestDeviceWalkthrough(DeviceTeachingCase):
    def walkthrough(self) -> str:
        page = ScriptedBrowser().get(self.running.app_url + "/walkthrough")
        self.assertEqual(page.status, 200)
        return page.text

    def poll(self, device: dict) -> tuple:
        return self.post("/oauth/token", {"grant_type": GRANT_TYPE, "client_id": "demo-cli",
                                          "device_code": device["device_code"]})

    def test_rfc8628_walkthrough_draws_this_runs_device_login(self):
        page = self.walkthrough()
        self.assertIn('data-device-status="none"', page)          # none yet: the hint
        self.assertIn("login --device", page)
        device = self.start_device()
        self.assertEqual(self.poll(device)[1]["error"], "authorization_pending")
        page = self.walkthrough()
        self.assertIn('data-device-status="pending"', page)
        self.assertNotIn(device["user_code"], page)   # a pending code is a phisher's bait
        browser, login = self.device_login_page(device)
        consent = self.consent(browser, login)
        browser.submit(consent, 0, button=("decision", "allow"))
        self.clock.advance(device["interval"])
        status, tokens = self.poll(device)
        self.assertEqual(status, 200, tokens)
        page = self.walkthrough()
        self.assertIn('data-device-status="used"', page)
        for value in (device["user_code"], device["verification_uri"], "authorization_pending",
                      "tokens issued"):
            self.assertIn(value, page)
        self.assertEqual(page.count('data-device-step="'), 6)
        self.assertEqual(len(re.findall(r'class="seq-row reached[^"]*" id="device-arrow-', page)), 6)
        for secret in (device["device_code"], tokens["access_token"], tokens["id_token"]):
            self.assertNotIn(secret, page)
            self.assertNotIn(secret[:24], page)


if __name__ == "__main__":
    unittest.main()
