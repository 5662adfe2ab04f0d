"""Issue 14's interop findings 1–7, one named test (or a few) each.

An interop bench ran independent clients and providers against the demo; each finding
below is a rule one of them enforced and we broke. The end-to-end ones use the real demo
(app + embedded server) on port 0, shared by the class; the others the client without
sockets (its transport seam), as tests/test_client_units.py does.
"""
from __future__ import annotations

import ast
import json
import os
import re
import tempfile
import unittest
import urllib.parse
from pathlib import Path
from unittest import mock

from oauthdemo import cli, settings
from oauthdemo.client.oidc import OIDCClient
from oauthdemo.client.useragent import ScriptedBrowser
from oauthdemo.core import errors
from oauthdemo.core.errors import ConfigError, OAuth2Error
from oauthdemo.core.events import EventBus, Recorder, Shown
from oauthdemo.core.loopback import is_loopback_callback
from oauthdemo.server.clients import ClientRegistry
from oauthdemo.settings import Provider

from . import interop_support
from .demo_fixtures import (Clock, demo_settings, latest_session, log_in, query_of,
                            start_test_demo)
from .test_cli_login import CommandRun
from .test_interop import free_port

ISSUER = "https://provider.example/"
REDIRECT_URI = "http://127.0.0.1:8091/callback"
OFFLINE = "openid profile email offline_access"
# RFC 6749 §4.1.2.1 / §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )
DESCRIPTION_ABNF = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]+")
ROOT = Path(__file__).resolve().parent.parent


def client_for(kind: str = "oidc", secret: str | None = None, method: str | None = None,
               events: EventBus | None = None, **meta) -> OIDCClient:
    doc = {"issuer": ISSUER, "authorization_endpoint": ISSUER + "authorize",
           "token_endpoint": ISSUER + "oauth/token", "jwks_uri": ISSUER + "jwks", **meta}
    provider = Provider(kind, ISSUER, "rp", secret,
                        **({"token_auth_method": method} if method else {}))
    return OIDCClient(provider, doc, events=events)


def authorize_params(client: OIDCClient, scope: str) -> dict:
    return query_of(client.begin(REDIRECT_URI, scope=scope).url)


class TestFinding1OfflineAccess(unittest.TestCase):
    """OIDC Core §11: offline_access is ignored unless prompt includes consent."""

    def test_finding1_prompt_consent_with_offline_access_at_a_generic_provider(self):
        self.assertEqual(authorize_params(client_for("oidc"), OFFLINE).get("prompt"), "consent")

    def test_finding1_no_prompt_without_offline_access_or_at_auth0(self):
        self.assertNotIn("prompt", authorize_params(client_for("oidc"), "openid profile"))
        self.assertNotIn("prompt", authorize_params(client_for("auth0"), OFFLINE))
        self.assertNotIn("prompt", authorize_params(client_for("embedded"), OFFLINE))

    def test_finding1_step3_says_why_consent_is_asked(self):
        recorder, events = Recorder(), EventBus()
        events.subscribe(recorder)
        client_for("oidc", events=events).begin(REDIRECT_URI, scope=OFFLINE)
        shown = {e.label.strip(): e for e in recorder.of(Shown)}
        self.assertEqual(shown["prompt"].value, "consent")
        self.assertIn("§11", shown["prompt"].note)


class TestFinding3Loopback(unittest.TestCase):
    """RFC 8252 §7.3: the port varies, the path is registered; both / and /callback for
    demo-cli (google-auth-oauthlib sends /), exact matching everywhere else."""

    def test_finding3_demo_cli_accepts_root_and_callback_on_any_port(self):
        cli = ClientRegistry()["demo-cli"]
        for uri in ("http://127.0.0.1:54321/", "http://127.0.0.1:8/callback",
                    "http://localhost:65535/", "http://[::1]:1234/"):
            self.assertTrue(cli.accepts_redirect(uri), uri)

    def test_finding3_everything_else_stays_exact(self):
        registry = ClientRegistry()
        for uri in ("http://127.0.0.1:54321/other", "http://127.0.0.1:54321//",
                    "http://127.0.0.1:54321/?x=1", "https://127.0.0.1:54321/",
                    "http://127.0.0.1:54321/callback/", "http://evil.example:80/"):
            self.assertFalse(registry["demo-cli"].accepts_redirect(uri), uri)
        self.assertFalse(registry["demo-backend"].accepts_redirect("http://127.0.0.1:5000/"))
        self.assertFalse(registry["demo-web-app"].accepts_redirect("http://127.0.0.1:5000/"))
        self.assertFalse(is_loopback_callback("http://127.0.0.1:5000/"))   # default: /callback


class TestFinding4AsciiDescriptions(unittest.TestCase):
    """RFC 6749 §4.1.2.1, §5.2: error_description is printable ASCII without '"' and '\\'."""

    def test_finding4_every_error_class_describes_itself_in_ascii(self):
        for cls in all_subclasses(OAuth2Error):
            with self.subTest(cls=cls.__name__):
                self.assert_protocol_ascii(cls.description, cls)

    def test_finding4_every_error_the_server_raises_is_ascii_on_the_wire(self):
        raised = list(raised_descriptions())
        self.assertGreater(len(raised), 20)   # the scan found the server's raises
        for cls, text in raised:
            with self.subTest(text=text[:50]):
                self.assert_protocol_ascii(text, cls)

    def test_finding4_pages_keep_the_rich_text(self):
        err = errors.MissingCodeChallenge()
        self.assertIn("§", err.description)
        self.assertIn("section 4.4.1", err.to_dict()["error_description"])
        self.assertIn("section+4.4.1", err.redirect_query("s"))

    def assert_protocol_ascii(self, text: str, cls):
        try:
            err = cls(text)
        except TypeError:   # a class built from other arguments (405's method and path)
            err = OAuth2Error(text)
        said = err.to_dict()["error_description"]
        self.assertRegex(said, DESCRIPTION_ABNF)
        self.assertIsNotNone(DESCRIPTION_ABNF.fullmatch(said), said)
        challenge = err.www_authenticate()
        self.assertTrue(challenge.isascii(), challenge)


def all_subclasses(cls) -> list:
    found = []
    for sub in cls.__subclasses__():
        found += [sub] + all_subclasses(sub)
    return found


def raised_descriptions():
    """(error class, the words) of each ``raise SomeError("…")`` in the server and the
    modules it raises from; an f-string's holes become "x"."""
    classes = {c.__name__: c for c in all_subclasses(OAuth2Error)}
    files = sorted((ROOT / "oauthdemo" / "server").glob("*.py")) + [
        ROOT / "oauthdemo" / "core" / name for name in ("forms.py", "tables.py")] + [
        ROOT / "oauthdemo" / "web" / "httpkit.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            call = node.exc if isinstance(node, ast.Raise) else None
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and call.func.id in classes and call.args):
                text = literal_text(call.args[0])
                if text:
                    yield classes[call.func.id], text


def literal_text(node) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(literal_text(v) or "x" for v in node.values)
    if isinstance(node, ast.BinOp):
        return literal_text(node.left) + literal_text(node.right)
    return ""


class TestFinding6ClientAuthentication(unittest.TestCase):
    """RFC 6749 §2.3.1: Basic by default where offered; post when registered so."""

    BOTH = {"token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "client_secret_basic"]}

    def auth_of(self, client) -> tuple:
        data, headers = client.with_client_auth({"grant_type": "refresh_token"})
        return "client_secret" in data, headers.get("Authorization", "")[:6]

    def test_finding6_basic_when_the_provider_offers_both(self):
        self.assertEqual(self.auth_of(client_for(secret="s3", **self.BOTH)), (False, "Basic "))
        self.assertEqual(self.auth_of(client_for(secret="s3")), (False, "Basic "))   # default

    def test_finding6_post_only_when_configured_or_basic_unsupported(self):
        configured = client_for(secret="s3", method="client_secret_post", **self.BOTH)
        self.assertEqual(self.auth_of(configured), (True, ""))
        only_post = client_for(secret="s3", token_endpoint_auth_methods_supported=[
            "client_secret_post"])
        self.assertEqual(self.auth_of(only_post), (True, ""))

    def test_finding6_a_public_client_sends_no_secret(self):
        self.assertEqual(self.auth_of(client_for(**self.BOTH)), (False, ""))

    def test_finding6_the_setting_is_read_and_checked(self):
        base = {"OIDC_ISSUER": ISSUER, "OIDC_CLIENT_ID": "rp"}
        provider = settings.pick_provider({**base, "OIDC_TOKEN_AUTH_METHOD":
                                           "client_secret_post"}, "web")
        self.assertEqual(provider.token_auth_method, "client_secret_post")
        auth0 = settings.pick_provider({"AUTH0_DOMAIN": "t.example", "AUTH0_CLIENT_ID": "c",
                                        "AUTH0_TOKEN_AUTH_METHOD": "client_secret_basic"}, "w")
        self.assertEqual(auth0.token_auth_method, "client_secret_basic")
        with self.assertRaises(ConfigError):
            settings.pick_provider({**base, "OIDC_TOKEN_AUTH_METHOD": "private_key_jwt"}, "w")


class TestFinding7Hints(unittest.TestCase):
    """A hint names the cause the error says, or says nothing."""

    def hint(self, error: str, description: str) -> str:
        from oauthdemo.client.explain import hint_for   # new with this finding
        return hint_for(error, description)

    def test_finding7_par_required_refusal_gets_the_par_hint(self):
        hint = self.hint("invalid_request", "Pushed Authorization Request must be used")
        self.assertIn("RFC 9126", hint)
        self.assertNotIn("redirect URI", hint)

    def test_finding7_each_cause_its_own_hint(self):
        callback = self.hint("invalid_request", "redirect_uri did not match any registered")
        self.assertIn("redirect URI", callback)
        self.assertIn("redirect URI", self.hint("invalid_redirect_uri", "no"))
        self.assertIn("PKCE", self.hint("invalid_grant", "grant request is invalid"))
        self.assertIn("TOKEN_AUTH_METHOD", self.hint("invalid_client", "auth failed"))
        self.assertIn("Deny", self.hint("access_denied", "End-User aborted interaction"))
        # An invalid_request whose cause we do not know gets no (wrong) hint at all.
        self.assertEqual(self.hint("invalid_request", "nonce is required"), "")


class TestFindingsAtTheEmbeddedServer(unittest.TestCase):
    """Findings 2, 3, 4 and 5 over real sockets, one demo for the class."""

    @classmethod
    def setUpClass(cls):
        cls.clock = Clock()
        cls.running, cls.console = start_test_demo(clock=cls.clock)
        cls.auth = cls.running.auth
        cls.meta = cls.running.client.metadata
        log_in(cls.running)
        cls.id_token = latest_session(cls.running).tokens["id_token"]

    @classmethod
    def tearDownClass(cls):
        cls.running.stop()

    def logout(self, **params):
        return ScriptedBrowser().get(self.meta["end_session_endpoint"] + "?"
                                     + urllib.parse.urlencode(params))

    # -- finding 2: RP-Initiated Logout 1.0 §2 ----------------------------------------
    def test_finding2_logout_by_id_token_hint_alone(self):
        home = self.running.app_url + "/"
        resp = self.logout(id_token_hint=self.id_token, post_logout_redirect_uri=home,
                           state="s1")
        self.assertEqual((resp.status, resp.location), (302, home + "?state=s1"))

    def test_finding2_an_expired_hint_still_names_its_client(self):
        now = self.clock.now
        self.clock.now = json_claims(self.id_token)["exp"] + 86400
        try:
            resp = self.logout(id_token_hint=self.id_token,
                               post_logout_redirect_uri=self.running.app_url + "/")
        finally:
            self.clock.now = now
        self.assertEqual(resp.status, 302)

    def test_finding2_a_forged_or_mismatched_hint_is_refused(self):
        head, body, sig = self.id_token.split(".")
        claims = json_claims(self.id_token)
        forged = ".".join((head, b64(json.dumps({**claims, "aud": "demo-cli"})), sig))
        home = self.running.app_url + "/"
        for params in ({"id_token_hint": forged}, {"id_token_hint": "not.a.jwt"},
                       {"id_token_hint": self.id_token, "client_id": "demo-cli"}):
            with self.subTest(params=list(params)):
                resp = self.logout(post_logout_redirect_uri=home, **params)
                self.assertEqual(resp.status, 400)
                self.assertIsNone(resp.location)

    # -- finding 3: the native client's loopback / ------------------------------------
    def test_finding3_authorize_accepts_demo_cli_at_root_path(self):
        params = {"response_type": "code", "client_id": "demo-cli",
                  "redirect_uri": "http://127.0.0.1:40123/", "scope": "openid",
                  "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                  "code_challenge_method": "S256", "state": "st"}
        url = self.meta["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)
        self.assertEqual(ScriptedBrowser().get(url).status, 200)   # the login page
        params["redirect_uri"] = "http://127.0.0.1:40123/elsewhere"
        url = self.meta["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)
        self.assertEqual(ScriptedBrowser().get(url).status, 400)   # never redirected

    # -- finding 4: the wire, not just the classes -------------------------------------
    def test_finding4_authorize_error_redirect_is_ascii(self):
        params = {"response_type": "code", "client_id": "demo-web-app",
                  "redirect_uri": self.running.app_url + "/callback", "scope": "openid",
                  "state": "st"}   # no code_challenge: RFC 7636 §4.4.1
        url = self.meta["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)
        said = query_of(ScriptedBrowser().get(url).location)
        self.assertEqual(said["error"], "invalid_request")
        self.assertIsNotNone(DESCRIPTION_ABNF.fullmatch(said["error_description"]))

    # -- finding 5: the challenges ------------------------------------------------------
    def test_finding5_invalid_client_challenge_has_a_realm(self):
        resp = ScriptedBrowser().request(self.meta["token_endpoint"], data={
            "grant_type": "authorization_code", "client_id": "nobody", "code": "x"})
        self.assertEqual(resp.status, 401)
        self.assertRegex(resp.headers["WWW-Authenticate"], r'^Basic realm="[^"]+", ')

    def test_finding5_userinfo_without_credentials_gets_a_bare_bearer_challenge(self):
        resp = ScriptedBrowser().get(self.meta["userinfo_endpoint"])
        self.assertEqual(resp.status, 401)
        challenge = resp.headers["WWW-Authenticate"]
        self.assertRegex(challenge, r'^Bearer realm="[^"]+"$')
        self.assertNotIn("error", challenge)
        bad = ScriptedBrowser().get(self.meta["userinfo_endpoint"],
                                    headers={"Authorization": "Bearer x.y.z"})
        self.assertIn('error="invalid_token"', bad.headers["WWW-Authenticate"])


class TestFindingsAtOidcProvider(unittest.TestCase):
    """Findings 1 and 2's peer: Node's oidc-provider (OpenID Certified), one process for the
    class. Our web app and our CLI ask for offline_access there and get a refresh token
    (prompt=consent, OIDC Core §11); the app logs out by RP-Initiated Logout 1.0."""

    @classmethod
    def setUpClass(cls):
        interop_support.require_or_skip(interop_support.node_available(),
                                        "node or tests/interop/node_modules is missing")
        cls.app_port, cls.cli_port = free_port(), free_port()
        uris = (f"http://localhost:{cls.app_port}/callback "
                f"http://127.0.0.1:{cls.cli_port}/callback")
        cls.provider = interop_support.OidcProviderProcess(uris)
        cls.provider.start()
        cls.addClassCleanup(cls.provider.stop)
        cfg = demo_settings(port=cls.app_port, provider=Provider(
            "oidc", cls.provider.issuer, cls.provider.client_id))
        cls.running, cls.console = start_test_demo(cfg)
        cls.addClassCleanup(cls.running.stop)

    def test_finding1_web_app_gets_a_refresh_token_at_oidc_provider(self):
        browser = ScriptedBrowser()
        browser.login(self.running.app_url, "erin", at_provider=interop_support.drive_login)
        tokens = latest_session(self.running).tokens
        self.assertTrue(tokens.get("refresh_token"), sorted(tokens))
        self.assertIn("offline_access", tokens.get("scope", ""))

    def test_finding2_web_app_logs_out_by_rp_initiated_logout(self):
        browser = ScriptedBrowser()
        browser.login(self.running.app_url, "fay", at_provider=interop_support.drive_login)
        out = browser.submit(browser.get(self.running.app_url + "/"))   # the Log out form
        self.assertTrue(out.location.startswith(self.provider.issuer), out.location)
        confirm = browser.follow(out.location)
        self.assertEqual(confirm.status, 200, confirm.text[:300])
        done = browser.submit(confirm, extra={"logout": "yes"})   # "Yes, sign me out"
        self.assertEqual((done.status, done.location), (303, self.running.app_url + "/"))

    def test_finding1_cli_login_save_then_refresh_at_oidc_provider(self):
        with tempfile.TemporaryDirectory() as cache, mock.patch.dict(
                os.environ, {"OAUTH_DEMO_CACHE_DIR": cache}):
            env = Path(cache) / "provider.env"
            env.write_text(f"OIDC_ISSUER={self.provider.issuer}\n"
                           f"OIDC_CLIENT_ID={self.provider.client_id}\n", encoding="utf-8")
            login = CommandRun(cli.login_main, ["--no-browser", "--timeout", "20", "--port",
                                                str(self.cli_port), "--env-file", str(env),
                                                "--save"])
            callback = interop_support.drive_login(ScriptedBrowser(), login.authorize_url(),
                                                   "gus")
            self.assertEqual(ScriptedBrowser().get(callback).status, 200)
            self.assertEqual(login.finish(), cli.EXIT_OK, login.output)
            saved = json.loads((Path(cache) / "tokens.json").read_text())["tokens"]
            self.assertTrue(saved.get("refresh_token"), sorted(saved))
            again = CommandRun(cli.login_main, ["--env-file", str(env), "--refresh"])
            self.assertEqual(again.finish(), cli.EXIT_OK, again.output)
            rotated = json.loads((Path(cache) / "tokens.json").read_text())["tokens"]
            self.assertNotEqual(rotated["access_token"], saved["access_token"])


def b64(text: str) -> str:
    import base64
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def json_claims(jwt: str) -> dict:
    import base64
    body = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


if __name__ == "__main__":
    unittest.main()
