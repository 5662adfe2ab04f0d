"""axe-core over every page state: 360 and 1280 px wide, light and dark, zero violations.

axe-core is pinned in tests/interop/package.json (``npm ci`` in .ci/run installs it); its
script is injected into a context with ``bypass_csp`` (the pages allow no script but their
own). Every state is audited as the learner reaches it: the home page, the provider's login
and consent, the profile, the API's answer page, the walkthrough before and after logging in
(and with every step's details open) and after a denied login, the attack lab before and
after running every attack, error pages (404, a forged callback, Deny), the logout page and
the home page after logging out; issue 13's /activate pages and the device diagram; issue 12's lab: the step-through at each pause and after a
refused send, the mistakes gallery before and after a run, the walkthrough's HTTP log open. Each violation is printed with its rule id, its targets and
its help. Needs ``playwright``, ``/usr/bin/chromium`` and
axe-core; skips without them locally, fails under CI=true.
"""
from __future__ import annotations

import re
import unittest
from pathlib import Path

from oauthdemo.client.transport import http_json

from .interop_support import require_or_skip
from .test_browser_ui import NARROW, TIMEOUT_MS, WIDE, OneBrowser

AXE = Path(__file__).resolve().parent / "interop" / "node_modules" / "axe-core" / "axe.min.js"
VARIANTS = [(NARROW, "light"), (NARROW, "dark"), (WIDE, "light"), (WIDE, "dark")]
DIAGONAL = [(NARROW, "light"), (WIDE, "dark")]
RUN_AXE = """async ([within, options]) => {
  const context = within ? { include: [within] } : document;
  const result = await axe.run(context, Object.assign({ resultTypes: ["violations"] }, options));
  return result.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " -- " +
    v.nodes.slice(0, 5).map(n => n.target.join(" ")).join(" | "));
}"""
SHOW_EVERY_STEP = "document.querySelectorAll('.step-detail[hidden]').forEach(p => p.hidden = false)"


class AxeTest(OneBrowser, unittest.TestCase):
    """One browser for the module, one logged-in page shared by the tests that only read."""

    @classmethod
    def set_up_pages(cls):
        require_or_skip(AXE.exists(), f"{AXE} is missing: npm ci --prefix tests/interop")
        cls.page = cls.new_page()
        log_in(cls.page, cls.running.app_url)

    @classmethod
    def new_page(cls):
        context = cls.browser.new_context(viewport=WIDE, bypass_csp=True)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(path=str(AXE))
        return context.new_page()

    def setUp(self):
        self.violations = []

    def fresh_page(self):
        page = self.new_page()
        self.addCleanup(page.context.close)
        return page

    def audit(self, page, state: str, variants=VARIANTS, options=None, within=None):
        """axe at each width in each colour scheme; violations are collected, not raised,
        so that one failure lists every state's. ``within``: a CSS selector, to audit only
        that part of a long page (faster) once the whole page has been audited."""
        for size, scheme in variants:
            page.set_viewport_size(size)
            page.emulate_media(color_scheme=scheme)
            self.violations += [f"{state} at {size['width']} px, {scheme}: {v}"
                                for v in page.evaluate(RUN_AXE, [within, options or {}])]
        page.set_viewport_size(WIDE)
        page.emulate_media(color_scheme="light")

    def audit_every_step(self, page, state: str):
        """Every step's details at once (the page shows one at a time, hence the same pager
        landmark ten times: that rule is off here), on the diagonal of widths and schemes."""
        page.evaluate(SHOW_EVERY_STEP)
        self.audit(page, state + ", every step open", DIAGONAL,
                   {"rules": {"landmark-unique": {"enabled": False}}})

    def assert_no_violations(self):
        self.assertEqual(self.violations, [], "axe-core violations:\n" + "\n".join(self.violations))

    def go(self, page, path: str, state: str):
        page.goto(self.running.app_url + path)
        self.audit(page, state)

    # -- the states ---------------------------------------------------------------------------
    def test_home_and_error_pages_logged_out(self):
        page = self.fresh_page()
        self.go(page, "/", "home")
        self.go(page, "/no-such-page", "404 page")
        self.go(page, "/callback?state=forged&code=x", "forged callback error page")
        self.assert_no_violations()

    def test_walkthrough_before_login(self):
        page = self.fresh_page()
        self.go(page, "/walkthrough", "walkthrough before login")
        self.audit_every_step(page, "walkthrough before login")
        self.assert_no_violations()

    def test_a_denied_login_its_error_page_and_walkthrough(self):
        page = self.fresh_page()
        page.goto(self.running.app_url + "/")
        page.get_by_role("link", name="Start OAuth Login (PKCE)").click()
        page.get_by_role("button", name=re.compile("Continue with Google")).click()
        page.get_by_role("button", name="Deny").click()
        self.assertIn("access_denied", page.content())
        self.audit(page, "the error page after Deny")
        self.go(page, "/walkthrough", "walkthrough after Deny")
        self.assert_no_violations()

    def test_provider_login_consent_and_logout(self):
        page = self.fresh_page()
        log_in(page, self.running.app_url, lambda state: self.audit(page, state))
        self.go(page, "/logout", "logout page")
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(self.running.app_url + "/**")
        self.assertEqual(page.locator("[data-session=ended]").count(), 1)
        self.audit(page, "home after logging out")
        self.assert_no_violations()

    def test_profile_and_the_apis_answer_page(self):
        page = self.page
        self.go(page, "/", "profile")
        page.get_by_text("Show the access token and a curl command").click()
        self.audit(page, "profile, token shown")
        self.go(page, "/api/protected/view", "the API's answer page")
        self.assert_no_violations()

    def test_walkthrough_after_login(self):
        """Then issue 12's HTTP log with every hop open (and each secret revealed): its wide
        header tables scroll sideways at 360 px, so each scrolling box is focusable and
        named, and none of them is a landmark (a landmark's name must be unique)."""
        self.go(self.page, "/walkthrough", "walkthrough after login")
        self.page.evaluate("document.querySelectorAll('#http-log details').forEach(d => d.open = true)")
        self.audit(self.page, "walkthrough, the HTTP log open", within="#http-log")
        self.page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        self.audit_every_step(self.page, "walkthrough after login, tokens revealed")
        self.assert_no_violations()

    def test_attack_lab_before_and_after_running(self):
        page = self.page
        self.go(page, "/attacks", "attack lab")
        page.get_by_role("button", name=re.compile(r"^Run all \w+ attacks$")).click()
        page.locator("#result-h .verdict.rejected").wait_for()
        self.audit(page, "attack lab after every attack")
        self.assert_no_violations()

    # -- issue 12: the lab pages --------------------------------------------------------------
    def test_issue12_step_through_at_each_pause_and_a_refused_send(self):
        page = self.fresh_page()
        self.go(page, "/step", "step-through with no login")
        page.goto(self.running.app_url + "/login?mode=step")
        self.audit(page, "step-through, pause before the redirect")
        send(page)
        page.get_by_role("button", name=re.compile("Continue with Google")).click()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(self.running.app_url + "/step")
        self.audit(page, "step-through, pause before the token request")
        page.locator("tr:has(#f-code_verifier) summary").click()
        page.locator("#f-code_verifier").fill("A" * 43)
        send(page)
        page.locator(".forensic[data-forensic]").wait_for()
        self.audit(page, "step-through, the token request refused (forensics)")
        page.get_by_role("link", name="Restore the original values").click()
        send(page)
        self.audit(page, "step-through, pause before the API call")
        send(page)
        self.audit(page, "step-through, done")
        self.assert_no_violations()

    def test_issue12_mistakes_gallery_before_and_after_a_run(self):
        page = self.fresh_page()
        self.go(page, "/mistakes", "mistakes gallery")
        page.locator("form[data-mistake=hex] button").click()
        page.locator("#mistake-hex [data-rule]").wait_for()
        page.evaluate("document.querySelectorAll('#results details').forEach(d => d.open = true)")
        self.audit(page, "mistakes gallery after a run, its details open")
        self.assert_no_violations()

    # -- issue 13: the device login's pages -----------------------------------------------------
    def test_issue13_activate_pages_and_the_device_diagram(self):
        """/activate (empty, a wrong code), the device login's login page, its consent page,
        the done page, then the walkthrough's device diagram."""
        page, base = self.fresh_page(), self.running.auth.issuer.rstrip("/")
        device = http_json(base + "/oauth/device/code",
                           data={"client_id": self.running.auth.native_client_id,
                                 "scope": "openid profile"})[1]
        self.go_to(page, base + "/activate", "activate page")
        page.get_by_label(re.compile("Code shown on your device")).fill("BCDF-GHJK")
        page.get_by_role("button", name="Continue").click()
        self.audit(page, "activate page, a wrong code")
        self.go_to(page, device["verification_uri_complete"], "activate page, code filled in")
        page.get_by_role("button", name="Continue").click()
        self.audit(page, "the device login's login page")
        page.get_by_role("button", name=re.compile("Continue with Google")).click()
        self.audit(page, "the device consent page")
        page.get_by_role("button", name="Deny").click()
        self.audit(page, "the device login's done page")
        self.go(page, "/walkthrough", "walkthrough with a device login")
        self.assert_no_violations()

    def go_to(self, page, url: str, state: str):
        page.goto(url)
        self.audit(page, state)

    def test_the_audit_finds_a_violation(self):
        """Zero violations only means something if axe runs and would report one."""
        page = self.fresh_page()
        page.goto(self.running.app_url + "/")
        page.evaluate("document.querySelector('main').appendChild(document.createElement('img'))")
        self.audit(page, "home with an image without alt text", VARIANTS[:1])
        self.assertTrue(any("image-alt" in v for v in self.violations), self.violations)


def send(page):
    """The step-through's one action: send the request shown (then wait for the answer)."""
    page.get_by_role("button", name="Send this request").click()
    page.wait_for_load_state()


def log_in(page, app_url: str, audit=lambda state: None):
    """Log in by clicking, auditing the provider's login and consent pages on the way."""
    page.goto(app_url + "/")
    page.get_by_role("link", name="Start OAuth Login (PKCE)").click()
    audit("provider login")
    page.get_by_role("button", name=re.compile("Continue with Google")).click()
    audit("consent")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(app_url + "/")


if __name__ == "__main__":
    unittest.main()
