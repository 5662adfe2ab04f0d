"""The cold review of ceee71b, findings 1, 3, 12, 13 and 14: the HTTP log's ownership and
masking, and the labs.

1: the authorization server's hops join a login only once its own browser's callback passed
   the client's checks with the code they carried (never "the first browser to bring its
   state"), and a code in them is never revealed;
3: a token answer is masked whatever its content type, however deep, and never shown raw
   when it could not be parsed (cut at HTTP_BODY_KEPT);
12: client secrets masked whatever events did (percent-encoded, Basic);
13: the labs' set-up logins leave no grant alive;
14: the step-through's forensics read the server's records only of the login's own code.
End to end on one demo (real sockets, port 0, the real embedded server); the rules of the
subscriber and the masker fed events made by the real HttpExchange constructor.
"""
from __future__ import annotations

import json
import unittest
import urllib.parse

from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core.events import HTTP_BODY_KEPT, HttpExchange, kept_body
from oauthdemo.teaching.httplog import HttpLog, Masker

from .demo_fixtures import log_in
from .test_forensics import shared_demo
from .test_step_mode import attrs

APP, AS_ = "app", "as"
OWNER, VICTIM_AS, OWNER_AS = "b" * 32, "victim-at-as", "owner-at-as"
AUTHORIZE = "http://as/authorize?client_id=c&code_challenge=x&state="


def exchange(actor, url, *, status=200, cookie="", answer=(), started=1.0):
    return HttpExchange(actor, "front", "GET", url, (("Cookie", cookie),) if cookie else (),
                        b"", status, tuple(answer), b"", 0, started, 0.001, 1)


def login_with_server_hops() -> HttpLog:
    """The owner's browser starts login S; the victim's browser (sent its /authorize link)
    and the owner's own each go through the server, each getting their own code."""
    log = HttpLog(app_actor=APP, browser_cookie="demo_browser", server_actor=AS_,
                  server_cookie="as_browser", clock=lambda: 10.0)
    log(exchange(APP, "http://app/login", status=302, cookie=f"demo_browser={OWNER}",
                 answer=[("Location", AUTHORIZE + "S")]))
    for n, (browser, code) in enumerate(((VICTIM_AS, "VICTIMCODE"), (OWNER_AS, "OWNCODE"))):
        log(exchange(AS_, AUTHORIZE + "S", cookie=f"as_browser={browser}", started=2.0 + n))
        log(exchange(AS_, "http://as/authorize/consent", status=303, started=3.0 + n,
                     cookie=f"as_browser={browser}",
                     answer=[("Location", f"http://app/callback?code={code}&state=S")]))
    return log


def callback(log: HttpLog, code: str, status: int = 303) -> list:
    log(exchange(APP, f"http://app/callback?code={code}&state=S", status=status,
                 cookie=f"demo_browser={OWNER}", started=9.0))
    return log.latest_for(OWNER).entries


def server_browsers(entries) -> set:
    return {dict(e.request_headers)["Cookie"] for e in entries if e.actor == AS_}


class Finding1ServerHopsOwnedByProof(unittest.TestCase):

    def test_review_1_bringing_a_state_to_the_server_owns_nothing(self):
        log = login_with_server_hops()
        self.assertEqual([e.actor for e in log.latest_for(OWNER).entries], [APP])

    def test_review_1_server_hops_join_when_the_owners_callback_brings_their_code(self):
        entries = callback(login_with_server_hops(), "OWNCODE")
        self.assertEqual(server_browsers(entries), {f"as_browser={OWNER_AS}"})
        self.assertEqual(len(entries), 4)        # /login, its two server hops, the callback

    def test_review_1_a_callback_with_another_code_or_refused_owns_nothing(self):
        for code, status in (("GUESSED", 303), ("VICTIMCODE", 400), ("OWNCODE", 400)):
            with self.subTest(code=code, status=status):
                entries = callback(login_with_server_hops(), code, status)
                self.assertEqual(server_browsers(entries), set())

    def test_review_1_a_code_at_the_server_is_never_revealed(self):
        e = exchange(AS_, "http://as/authorize/consent", status=303,
                     answer=[("Location", "http://app/callback?code=OWNCODE&state=S")])
        masker = Masker(reveal=True, server_hop=True)
        self.assertNotIn("OWNCODE", str(masker.headers(e.response_headers)))
        self.assertEqual([s.revealable for s in masker.found], [False])


class Finding3And12Masking(unittest.TestCase):
    ANSWER = {"access_token": "AT-SECRET", "refresh_token": "RT-SECRET",
              "nested": {"id_token": "IT-SECRET", "list": [{"code": "CODE-SECRET"}]}}

    def test_review_3_token_answer_masked_whatever_its_content_type(self):
        for kind in ("text/plain", "", "application/octet-stream"):
            with self.subTest(kind=kind):
                shown = Masker().body(json.dumps(self.ANSWER).encode(), kind)
                for value in ("AT-SECRET", "RT-SECRET", "IT-SECRET", "CODE-SECRET"):
                    self.assertNotIn(value, shown)

    def test_review_3_nested_json_masked_and_refresh_token_never_revealed(self):
        shown = Masker(reveal=True).body(json.dumps(self.ANSWER).encode(), "application/json")
        self.assertIn("IT-SECRET", shown)           # revealed on purpose: a revealable one
        self.assertNotIn("RT-SECRET", shown)        # never shown, revealed or not

    def test_review_3_a_cut_token_answer_never_shows_a_secret_raw(self):
        answer = dict(self.ANSWER, padding="x" * HTTP_BODY_KEPT)
        answer = {"refresh_token": "RT-SECRET", "access_token": "AT-SECRET", **answer}
        kept = kept_body(json.dumps(answer).encode(), "application/json")
        self.assertEqual(len(kept), HTTP_BODY_KEPT)        # cut: no longer JSON
        for reveal in (False, True):
            shown = Masker(reveal=reveal).body(kept, "application/json")
            self.assertNotIn("RT-SECRET", shown)
            self.assertNotIn("AT-SECRET", shown)
        form = Masker(reveal=True).body(b"junk refresh_token=RT-SECRET&a=1", "text/plain")
        self.assertNotIn("RT-SECRET", form)

    def test_review_12_percent_encoded_client_secret_masked(self):
        body = b"grant_type=authorization_code&client%5Fsecret=HUNTER2"
        e = HttpExchange("c", "back", "POST", "http://as/oauth/token", (), body, 200, (), b"",
                         0, 0.0, 0.0)
        self.assertNotIn(b"HUNTER2", e.request_body)
        shown = Masker(reveal=True).body(body, "application/x-www-form-urlencoded")
        self.assertNotIn("HUNTER2", shown)

    def test_review_12_basic_credentials_always_replaced(self):
        masker = Masker(reveal=True)
        self.assertNotIn("Y2xpZW50OnNlY3JldA", masker.header("Authorization",
                                                             "basic Y2xpZW50OnNlY3JldA=="))


class ReviewEndToEnd(unittest.TestCase):
    """One demo (shared): an attacker, a victim, a learner in the step-through, the labs."""

    @classmethod
    def setUpClass(cls):
        cls.running, _, _ = shared_demo()     # the issue-12 files' one demo
        cls.url = cls.running.app_url

    def har(self, browser: ScriptedBrowser) -> dict:
        answer = browser.get(self.url + "/trace.har?reveal=1")
        self.assertEqual(answer.status, 200)
        return json.loads(answer.body)

    def test_review_1_victims_code_never_in_the_attackers_har(self):
        attacker, victim = ScriptedBrowser(), ScriptedBrowser()
        authorize_url = attacker.get(self.url + "/login").location
        back = victim.login_at_provider(authorize_url, "alice")     # the victim follows it
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))["code"]
        self.assertEqual(victim.get(back).status, 400)             # not the victim's login
        text = json.dumps(self.har(attacker))
        self.assertNotIn(code, text)
        self.assertNotIn("/authorize/consent", text)

    def test_review_1_own_har_has_the_server_hops_but_not_their_code(self):
        alice = log_in(self.running, "alice")
        entries = self.har(alice)["log"]["entries"]
        at_server = [e for e in entries if "⇄ your app" not in e["comment"]
                     and "back channel" not in e["comment"]]
        self.assertTrue(any(e["request"]["url"].split("?")[0].endswith("/authorize/consent")
                            for e in at_server))
        own = next(e["request"]["url"] for e in entries if "/callback?" in e["request"]["url"])
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(own).query))["code"]
        self.assertNotIn(code, json.dumps(at_server))

    def alive_grants(self) -> int:
        return sum(not g.revoked for g in self.running.app.auth_server.store.grants())

    def test_review_13_labs_leave_no_grant_alive(self):
        before = self.alive_grants()
        self.assertTrue(self.running.app.mistakes.run("stale", "review-13")["ran"])
        self.running.app.lab.run("i", "review-13")
        self.assertEqual(self.alive_grants(), before)

    def test_review_14_forensics_never_read_another_logins_code(self):
        learner, other = ScriptedBrowser(), ScriptedBrowser()
        page, _ = self.to_token_pause(learner)
        other_page, other_challenge = self.to_token_pause(other)
        other_code = other_page.forms()[0]["fields"]["p_code"]
        learner.submit(page, extra={"p_code": other_code})
        refused = learner.get(self.url + "/step")
        self.assertEqual(attrs(refused)["error"], "invalid_grant")
        self.assertNotEqual(attrs(refused)["forensic"], "pkce.other_login")
        self.assertNotIn(other_challenge, refused.text)

    def to_token_pause(self, browser: ScriptedBrowser) -> tuple:
        """(pause 2's page, the challenge this login sent)."""
        browser.get(self.url + "/login?mode=step")
        authorize = browser.get(self.url + "/step")
        challenge = authorize.forms()[0]["fields"]["p_code_challenge"]
        sent = browser.submit(authorize)
        browser.get(browser.login_at_provider(sent.location, "alice"))
        return browser.get(self.url + "/step"), challenge


if __name__ == "__main__":
    unittest.main()


class Finding4OneSecretTable(unittest.TestCase):
    """Code-quality finding 4: one table of secret names and one mask (core.text), used by
    the HTTP log and the device history, at least as strict as each was alone."""

    def test_finding4_http_log_masks_any_token_name_and_device_history_every_secret(self):
        from oauthdemo.server.device import masked_answer
        value = "s3cr3t-" + "x" * 30
        masker = Masker()
        for name in ("access_token", "subject_token", "device_code", "code_verifier"):
            self.assertNotIn(value, masker.value(name, value), name)
        self.assertNotIn(value, masker.unparsed(f"subject_token={value}"))
        shown = dict(masked_answer({"access_token": value, "refresh_token": value,
                                    "id_token": value, "device_code": value,
                                    "client_secret": value, "token_type": "Bearer"}))
        self.assertEqual(shown.pop("token_type"), "Bearer")
        for name, masked in shown.items():
            self.assertNotIn(value, masked, name)
            self.assertIn("hidden", masked, name)
