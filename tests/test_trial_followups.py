"""The new-user trial's smaller findings (issue 11), each where the learner meets it: the
console's order at start-up, attack (a) told at its step, the server's Allow and logout
lines, and a demo user's button that promises nothing the page does not do."""
from __future__ import annotations

import re
import unittest

from oauthdemo import cli, runner
from oauthdemo.server.users import DEMO_USERS
from oauthdemo.teaching import attacks

from .demo_fixtures import demo_settings, log_in, start_test_demo


class TrialFollowups(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.running, cls.console = start_test_demo()

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def told_since(self, mark: int) -> str:
        return self.console.getvalue()[mark:]

    def test_trial_attack_a_is_told_under_its_step_8_header(self):
        mark = len(self.console.getvalue())
        attacks.attack_stolen_code_without_verifier(self.running.app.lab, browser="victim")
        told = self.told_since(mark)
        header = told.find("Step 8 of 10")
        refusal = told.find("token request without code_verifier")
        self.assertGreaterEqual(header, 0, told)
        self.assertGreater(refusal, header, "the refusal must sit under Step 8's header")

    def test_trial_the_server_says_the_user_pressed_allow(self):
        mark = len(self.console.getvalue())
        log_in(self.running)
        told = self.told_since(mark)
        self.assertRegex(told, r"pressed Allow: demo-web-app may have scope .*openid")
        self.assertLess(told.index("pressed Allow"), told.index("Step 6 of 10"))

    def test_trial_the_server_tells_its_side_of_a_logout(self):
        browser = log_in(self.running)
        page = browser.request(self.running.app_url + "/")
        token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
        mark = len(self.console.getvalue())
        sent = browser.request(self.running.app_url + "/logout", data={"form_token": token},
                               headers={"Origin": self.running.app_url})
        self.assertEqual(sent.status, 303)
        browser.request(sent.location)   # the browser follows it to the provider's logout
        self.assertIn("logout: this browser's session here ends", self.told_since(mark))


    def test_trial_a_device_login_is_told_in_device_steps_only(self):
        """The server's side of a device login stays in its own numbering: no 'Step 5 of
        10' heading (the code flow's) between Device step 4 and the approval."""
        from .test_cli_device import approve_at_activate
        from oauthdemo.client.transport import http_json
        auth = self.running.auth
        status, answer = http_json(auth.issuer + "oauth/device/code", data={
            "client_id": auth.clients.native_client_id, "scope": "openid"})
        self.assertEqual(status, 200, answer)
        mark = len(self.console.getvalue())
        approve_at_activate(answer["verification_uri_complete"])
        told = self.told_since(mark)
        self.assertIn("Device step 4 of 6", told)
        self.assertIn("approved the device login", told)
        self.assertNotIn("of 10", told)


    def test_trial2_a_bearer_call_without_a_session_is_tagged_as_such(self):
        """Step 10 for curl or the lab's replayed token (attack c): no login's flow, and the
        header says so instead of carrying no tag at all."""
        from oauthdemo.client.transport import http_json
        log_in(self.running)
        token = self.running.app.sessions.values(self.running.app.clock())[-1].access_token
        mark = len(self.console.getvalue())
        status, _ = http_json(self.running.app_url + "/api/protected",
                              headers={"Authorization": "Bearer " + token})
        self.assertEqual(status, 200)
        header = [line for line in self.told_since(mark).splitlines() if "Step 10 of 10" in line]
        self.assertEqual(len(header), 1, self.told_since(mark))
        self.assertTrue(header[0].rstrip().endswith("Bearer token, no session"), header[0])


class TrialStartup(unittest.TestCase):
    def test_trial_the_title_comes_before_discovery(self):
        """The command's own order: the title, then 'Before the login · Discovery', then
        who is who. Started the way cli.start_and_run starts it, on port 0."""
        self.assertEqual(runner.TITLE[-1], "OAuth 2.0 + PKCE — the complete story, run for real")
        source = cli.start_and_run.__code__.co_names
        self.assertLess(source.index("banner"), source.index("start_demo"))
        running, console = start_test_demo(demo_settings())
        try:
            self.assertNotIn("complete story", "\n".join(runner.banner(running)))
        finally:
            running.stop()


class NarratorCells(unittest.TestCase):
    def test_cells_counts_columns_with_and_without_the_ascii_fast_path(self):
        """The narrator wraps by terminal columns: ASCII one each, an East Asian wide
        character two, a combining accent none (the fast path must not change a count)."""
        from oauthdemo.teaching.narrator import cells
        self.assertEqual(cells("state=abc"), 9)
        self.assertEqual(cells("ID トークン"), 3 + 2 * 4)
        self.assertEqual(cells("e\u0301t\u00e9"), 3)
        self.assertEqual(cells("── ✔ │ …"), 8)


class TrialButtons(unittest.TestCase):
    def test_trial_no_button_promises_a_password_the_page_never_asks(self):
        for user in DEMO_USERS.values():
            label = user["button"].lower()
            if "password" in label:
                self.assertIn("no password", label)


if __name__ == "__main__":
    unittest.main()
