"""Review findings on grants, revocation and flooding (issue 9): each a named regression test.

Everything runs against the real demo on port 0 (the embedded authorization server and
the app), with an injected clock; table caps are set small so the floods stay small.
"""
from __future__ import annotations

import re
import unittest
import urllib.parse

import pkce
from oauthdemo.core.loopback import is_loopback_callback
from oauthdemo.core.jose import verify_jws
from oauthdemo.server import authserver
from oauthdemo.server.token import ACCESS_TOKEN_TTL, GRANT_TTL
from oauthdemo.core import errors
from oauthdemo.client.transport import basic_authorization, http_json
from oauthdemo.client.useragent import ScriptedBrowser

from .demo_fixtures import Clock, latest_session, log_in, query_of, start_test_demo


class GrantCase(unittest.TestCase):
    """A running demo, and helpers to log in straight at the server (no app in between)."""

    def setUp(self):
        self.clock = Clock()
        self.running, self.console = start_test_demo(clock=self.clock)
        self.addCleanup(self.running.stop)
        self.auth = self.running.auth
        self.app = self.running.app
        self.redirect_uri = self.running.app_url + "/callback"

    def url(self, path: str) -> str:
        return self.auth.url(path)

    def authorize_url(self, client_id="demo-web-app", redirect_uri=None, **extra) -> str:
        self.verifier, challenge = pkce.make_pair()
        params = {"response_type": "code", "client_id": client_id,
                  "redirect_uri": redirect_uri or self.redirect_uri,
                  "scope": "openid profile email offline_access", "code_challenge": challenge,
                  "code_challenge_method": "S256", "state": "st-" + self.verifier[:8],
                  "nonce": "n-1", "audience": self.auth.audience, **extra}
        return self.url("/authorize") + "?" + urllib.parse.urlencode(params)

    def get_code(self, **kwargs) -> str:
        return query_of(ScriptedBrowser().login_at_provider(self.authorize_url(**kwargs)))["code"]

    def token(self, **data) -> tuple:
        return http_json(self.url("/oauth/token"), data=data)

    def tokens(self) -> dict:
        status, body = self.token(grant_type="authorization_code", client_id="demo-web-app",
                                  code=self.get_code(), redirect_uri=self.redirect_uri,
                                  code_verifier=self.verifier)
        self.assertEqual(status, 200, body)
        return body

    def refresh(self, refresh_token: str) -> tuple:
        return self.token(grant_type="refresh_token", client_id="demo-web-app",
                          refresh_token=refresh_token)

    def userinfo_status(self, access_token: str) -> int:
        return http_json(self.url("/userinfo"),
                         headers={"Authorization": f"Bearer {access_token}"})[0]

    def revoke(self, token: str) -> int:
        return http_json(self.url("/oauth/revoke"),
                         data={"token": token, "client_id": "demo-web-app"})[0]

    def introspect(self, token: str, secret: str | None = None) -> tuple:
        api = self.auth.clients[self.auth.resource_client_id]
        auth = basic_authorization(api.client_id, api.secret if secret is None else secret)
        return http_json(self.url("/oauth/introspect"), data={"token": token},
                         headers={"Authorization": auth})


class TestRefreshReuse(GrantCase):
    """Finding 1: a stale refresh token of a known grant is reuse, however old it is."""

    def test_finding1_reuse_detected_after_many_rotations(self):
        victims = self.tokens()
        status, thief = self.refresh(victims["refresh_token"])   # the thief uses it first …
        for _ in range(60):                                      # … then rotates 60 more times
            status, thief = self.refresh(thief["refresh_token"])
            self.assertEqual(status, 200, thief)
        status, body = self.refresh(victims["refresh_token"])   # the victim's copy comes back
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))
        status, body = self.refresh(thief["refresh_token"])     # so the thief's grant is dead
        self.assertEqual((status, body.get("error")), (403, "invalid_grant"))
        self.assertEqual(self.userinfo_status(thief["access_token"]), 401)

    def test_finding1_forged_refresh_token_is_refused_without_revoking(self):
        tokens = self.tokens()
        grant_id, generation, _ = tokens["refresh_token"].split(".")
        forged = f"{grant_id}.{generation}.{'A' * 43}"
        status, body = self.refresh(forged)
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))
        self.assertEqual(self.refresh(tokens["refresh_token"])[0], 200)   # still the owner's

    def test_finding1_memory_per_grant_does_not_grow_with_rotations(self):
        tokens = self.tokens()
        for _ in range(20):
            tokens = self.refresh(tokens["refresh_token"])[1]
        self.assertEqual(self.auth.store.sizes()["grants"], 1)
        self.assertEqual(self.auth.store.sizes()["revoked"], 0)


class TestRevocationLasts(GrantCase):
    """Finding 2: a revocation lasts until the token's exp, whatever else happens."""

    def test_finding2_revoking_a_grant_kills_every_access_token_it_issued(self):
        tokens = self.tokens()
        issued = [tokens["access_token"]]
        for _ in range(60):                         # more than the old per-grant history of 51
            tokens = self.refresh(tokens["refresh_token"])[1]
            issued.append(tokens["access_token"])
        self.assertEqual(self.revoke(tokens["refresh_token"]), 200)
        self.assertEqual({self.userinfo_status(t) for t in issued}, {401})

    def test_finding2_full_revocation_table_revokes_the_grant_instead_of_forgetting(self):
        first, second = self.tokens(), self.tokens()
        self.auth.store.set_limits(revoked=1)
        self.assertEqual(self.revoke(first["access_token"]), 200)
        self.assertEqual(self.revoke(second["access_token"]), 200)    # the table is full now
        self.assertEqual(self.userinfo_status(first["access_token"]), 401)   # not forgotten
        self.assertEqual(self.userinfo_status(second["access_token"]), 401)
        self.assertEqual(self.refresh(second["refresh_token"])[1]["error"], "invalid_grant")
        self.assertEqual(self.refresh(first["refresh_token"])[0], 200)   # only a token went

    def test_finding2_revocation_records_are_pruned_by_time_only(self):
        tokens = self.tokens()
        self.revoke(tokens["access_token"])
        self.auth.prune()
        self.assertEqual(self.auth.store.sizes()["revoked"], 1)
        self.clock.advance(ACCESS_TOKEN_TTL + 1)   # the token itself has expired
        self.auth.prune()
        self.assertEqual(self.auth.store.sizes()["revoked"], 0)

    def test_finding2_access_tokens_never_outlive_their_grant(self):
        tokens = self.tokens()
        self.clock.advance(GRANT_TTL - 60)
        tokens = self.refresh(tokens["refresh_token"])[1]
        _, claims = verify_jws(tokens["access_token"], algorithms=["RS256"],
                               key_for_kid=self.auth.access_tokens.key_for_kid)
        grant = self.auth.inspect.grants()[-1]
        self.assertEqual(claims["grant_id"], grant.grant_id)
        self.assertLessEqual(claims["exp"], grant.expires)


class TestIntrospection(GrantCase):
    """Finding 3: RFC 7662 at the server; the app's API asks it, and says what each check knew."""

    def api(self, headers: dict) -> tuple:
        return http_json(self.running.app_url + "/api/protected", headers=headers)

    def test_finding3_discovery_offers_introspection(self):
        meta = http_json(self.url("/.well-known/openid-configuration"))[1]
        self.assertEqual(meta["introspection_endpoint"], self.url("/oauth/introspect"))

    def test_finding3_rfc7662_active_then_inactive(self):
        tokens = self.tokens()
        status, body = self.introspect(tokens["access_token"])
        self.assertEqual((status, body["active"], body["client_id"]), (200, True, "demo-web-app"))
        self.assertEqual(self.introspect(tokens["refresh_token"])[1]["active"], True)
        self.revoke(tokens["refresh_token"])
        self.assertEqual(self.introspect(tokens["access_token"])[1], {"active": False})
        self.assertEqual(self.introspect(tokens["refresh_token"])[1], {"active": False})
        self.assertEqual(self.introspect("not-a-token")[1], {"active": False})

    def test_finding3_only_an_authenticated_resource_server_may_introspect(self):
        token = self.tokens()["access_token"]
        status, body = self.introspect(token, secret="wrong")
        self.assertEqual((status, body["error"]), (401, "invalid_client"))
        status, body = http_json(self.url("/oauth/introspect"),
                                 data={"token": token, "client_id": "demo-web-app"})
        self.assertEqual((status, body["error"]), (401, "invalid_client"))

    def test_finding3_api_refuses_a_token_the_server_revoked(self):
        tokens = self.tokens()
        status, body = self.api({"Authorization": f"Bearer {tokens['access_token']}"})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["checks"]["authorization_server"].startswith("active"))
        self.revoke(tokens["access_token"])
        status, body = self.api({"Authorization": f"Bearer {tokens['access_token']}"})
        self.assertEqual((status, body["error"]), (401, "invalid_token"))
        self.assertTrue(body["checks"]["local_jwt"].startswith("valid"))       # side by side:
        self.assertTrue(body["checks"]["authorization_server"].startswith("NOT active"))

    def test_finding3_walkthrough_shows_both_checks_of_the_last_api_call(self):
        browser = log_in(self.running)
        session = latest_session(self.running)
        self.assertEqual(browser.get(self.running.app_url + "/api/protected").status, 200)
        self.revoke(session.tokens["access_token"])
        self.assertEqual(browser.get(self.running.app_url + "/api/protected").status, 401)
        page = browser.get(self.running.app_url + "/walkthrough").text
        self.assertRegex(page, r'data-check="local_jwt" data-status="passed"')
        self.assertRegex(page, r'data-check="authorization_server" data-status="failed"')

    def test_finding3_not_asked_is_never_shown_as_passed(self):
        from oauthdemo.client.explain import check_status
        self.app.client.metadata.pop("introspection_endpoint")   # as at Auth0
        tokens = self.tokens()
        status, body = self.api({"Authorization": f"Bearer {tokens['access_token']}"})
        self.assertEqual(status, 200)
        self.assertEqual(check_status(body["checks"]["authorization_server"]), "not_checked")
        self.assertNotIn("✔ asked the authorization server", self.console.getvalue())


class TestRedirectUriShape(GrantCase):
    """Finding 6 (first half): a loopback redirect URI is matched as a whole, strict shape."""

    # The first: a lenient parser drops the CR LF and sees /callback; the raw string would
    # then split the Location header of the error redirect.
    BAD = ("http://127.0.0.1:5000/call\r\nback", "http://127.0.0.1:5000/callback\r\nX: y", "http://127.0.0.1:5000/callback\n",
           "http://127.0.0.1:5000/call\tback", " http://127.0.0.1:5000/callback",
           "http://127.0.0.1:+80/callback", "http://user@127.0.0.1:80/callback",
           "http://127.0.0.1:5000/callback?", "http://127.0.0.1:5000/callback#",
           "http://127.0.0.1:99999/callback", "http://127.0.0.1:0/callback", "http://127.0.0.1:00080/callback",
           "http://127.0.0.1:5000/callback/", "https://127.0.0.1:5000/callback",
           "http://127.0.0.1:５０００/callback")

    def test_finding6_loopback_matcher_refuses_controls_and_odd_shapes(self):
        for uri in self.BAD:
            with self.subTest(uri=uri):
                self.assertFalse(is_loopback_callback(uri))
        for uri in ("http://127.0.0.1:5000/callback", "http://localhost:1/callback",
                    "http://[::1]:65535/callback"):
            self.assertTrue(is_loopback_callback(uri), uri)

    def test_finding6_crlf_redirect_uri_never_reaches_location(self):
        url = self.authorize_url(client_id="demo-cli", redirect_uri=self.BAD[0],
                                 code_challenge_method="plain")   # an error that would redirect
        page = ScriptedBrowser().get(url)
        self.assertEqual(page.status, 400)
        self.assertIsNone(page.location)

    def test_finding6_backend_refuses_crlf_redirect_uri(self):
        status, body = http_json(self.running.app_url + "/auth/exchange", data={
            "code": "c", "code_verifier": pkce.make_verifier(), "nonce": "n",
            "redirect_uri": self.BAD[0]})
        self.assertEqual((status, body["error"]), (400, "invalid_request"))


class TestCodeReuseByAnotherClient(GrantCase):
    """Finding 10: only the code's own client can trigger the revocation a reuse causes."""

    def redeem_as(self, client_id: str, code: str) -> tuple:
        return self.token(grant_type="authorization_code", client_id=client_id, code=code,
                          redirect_uri=self.redirect_uri, code_verifier=self.verifier)

    def test_finding10_used_code_from_another_client_does_not_revoke(self):
        code = self.get_code()
        status, tokens = self.redeem_as("demo-web-app", code)
        self.assertEqual(status, 200)
        status, body = self.redeem_as("demo-cli", code)          # someone who saw the code
        self.assertEqual((status, body["error"]), (403, "invalid_grant"))
        self.assertEqual(self.userinfo_status(tokens["access_token"]), 200)   # not revoked

    def test_finding10_reuse_by_its_own_client_still_revokes(self):
        code = self.get_code()
        tokens = self.redeem_as("demo-web-app", code)[1]
        self.assertEqual(self.redeem_as("demo-web-app", code)[1]["error"], "invalid_grant")
        self.assertEqual(self.userinfo_status(tokens["access_token"]), 401)


class TestFloods(GrantCase):
    """Finding 12: a full table refuses newcomers (503 + Retry-After); it never evicts."""

    def test_finding12_login_flood_never_evicts_an_inflight_login(self):
        self.app.pending.table.limit = 20
        victim = ScriptedBrowser()
        start = victim.get(self.running.app_url + "/login")
        statuses = [ScriptedBrowser().get(self.running.app_url + "/login").status
                    for _ in range(30)]
        self.assertEqual((statuses.count(302), statuses.count(503)), (19, 11))
        refused = ScriptedBrowser().get(self.running.app_url + "/login")
        self.assertGreaterEqual(int(refused.headers["Retry-After"]), 1)
        done = victim.get(victim.login_at_provider(start.location))   # the victim finishes
        self.assertEqual(done.status, 303)
        self.clock.advance(601)                                        # the flood expires …
        self.assertEqual(ScriptedBrowser().get(self.running.app_url + "/login").status, 302)

    def test_finding12_authorize_flood_never_evicts_a_pending_authorization(self):
        self.auth.store.set_limits(transactions=10)
        victim = ScriptedBrowser()
        page = victim.get(self.authorize_url())
        victim_verifier = self.verifier
        flood = [ScriptedBrowser().get(self.authorize_url()).status for _ in range(15)]
        self.assertEqual((flood.count(200), flood.count(503)), (9, 6))
        logged_in = victim.submit(page, 0)                 # 303 to the consent page (PRG)
        consent = victim.get(urllib.parse.urljoin(page.url, logged_in.location))
        done = victim.submit(consent, 0, button=("decision", "allow"))
        self.assertIn("code", query_of(done.location))
        self.assertTrue(victim_verifier)

    def test_finding12_session_flood_never_evicts_a_live_session(self):
        self.app.sessions.limit = 3
        victim = log_in(self.running)
        for _ in range(2):
            log_in(self.running)
        late = ScriptedBrowser()
        start = late.get(self.running.app_url + "/login")
        refused = late.get(late.login_at_provider(start.location))
        self.assertEqual(refused.status, 503)
        self.assertIn("Retry-After", refused.headers)
        self.assertEqual(victim.get(self.running.app_url + "/api/protected").status, 200)

    def test_finding12_sessions_stay_alive_while_used(self):
        browser = log_in(self.running)
        for _ in range(3):                       # 3 × 7 h: longer than one idle period
            self.clock.advance(7 * 3600)
            self.assertEqual(browser.get(self.running.app_url + "/api/protected").status, 200)
        self.clock.advance(8 * 3600 + 1)         # idle past the limit: gone
        self.assertEqual(browser.get(self.running.app_url + "/api/protected").status, 401)

    def test_finding12_full_code_table_answers_temporarily_unavailable_on_the_redirect(self):
        self.auth.store.set_limits(codes=1)
        self.get_code()
        callback = ScriptedBrowser().login_at_provider(self.authorize_url())
        self.assertEqual(query_of(callback)["error"], "temporarily_unavailable")


class TestReviewFollowUps(GrantCase):
    def test_grant_without_refresh_token_lives_as_long_as_its_access_token(self):
        code = self.get_code(scope="openid profile")
        self.token(grant_type="authorization_code", client_id="demo-web-app", code=code,
                   redirect_uri=self.redirect_uri, code_verifier=self.verifier)
        grant = self.auth.inspect.grants()[-1]
        self.assertEqual(grant.expires - int(self.auth.now()), ACCESS_TOKEN_TTL)

    def test_duplicate_embedded_client_ids_are_refused(self):
        with self.assertRaises(errors.ConfigError):
            authserver.AuthorizationServer(self.auth.keys, web_client_id="demo-api")


class TestRefreshTokenStaysOnTheServer(GrantCase):
    """Finding 15: the refresh token never reaches the browser, not even on a teaching page."""

    def test_finding15_refresh_token_not_in_any_page(self):
        browser = log_in(self.running)
        refresh_token = latest_session(self.running).tokens["refresh_token"]
        for path in ("/", "/walkthrough", "/attacks"):
            with self.subTest(path=path):
                page = browser.get(self.running.app_url + path)
                self.assertEqual(page.status, 200)
                self.assertFalse(refresh_token in page.text, f"refresh token in {path}")
                self.assertFalse(refresh_token[-20:] in page.text, f"its tail in {path}")


class TestErrorsCarryRetryAfter(unittest.TestCase):
    def test_table_full_is_a_503_with_retry_after(self):
        from oauthdemo.core.tables import ExpiringTable
        table = ExpiringTable(1, "things")
        table.add("a", 1, expires=100, now=0)
        with self.assertRaises(errors.TableFull) as ctx:
            table.add("b", 2, expires=100, now=40)
        self.assertEqual((ctx.exception.status_code, ctx.exception.error),
                         (503, "temporarily_unavailable"))
        self.assertEqual(ctx.exception.retry_after, 60)
        table.add("b", 2, expires=200, now=100)   # "a" has expired: room again
        self.assertIsNone(table.get("a", 100))
        self.assertTrue(re.fullmatch(r"[0-9]+", str(ctx.exception.retry_after)))


if __name__ == "__main__":
    unittest.main()
