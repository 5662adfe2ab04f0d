"""The attack lab: fourteen attacks on the logins, each run for real, each stopped by one rule.

RFC 7636 §4.4.1, §4.5, §4.6 (PKCE), RFC 6749 §4.1.2, §4.1.3 and §10.12 (single-use
codes, the redirect_uri binding, CSRF), OpenID Connect Core 1.0 §3.1.3.7 and RFC 8725
§3.1 (the ID token's signature and the algorithm allowlist; its aud, nonce and exp).

Nothing here re-implements a defence. The attacker's requests go to the configured
provider's real endpoints through ``http_json``; the forged callback goes through the
app's own ``OIDCClient.complete``; the forged ID tokens through the app's own
``OIDCClient.validate_id_token``. What comes back is shown as it came.

Attacks (i), (j) and (k) present real ID tokens, signed by the real server, whose claims
are wrong for this login: one the server issued to another of its clients (aud), one from
an earlier login (nonce), one past its exp (the app's check run with its injectable clock
set later: nobody waits). The lab never signs anything: where the server issues, it is
the server's own /authorize and /oauth/token that do.

The checks under attack speak on the app's bus through ``AttackBus``: a step header that
belongs to no login of ours (a forged state, a token the attacker presents) carries the
attack's tag, never a flow's.

Attack (l) pushes the app's request (RFC 9126) and then adds the attacker's redirect_uri
and code_challenge to the browser's URL (``teaching.par_attack``); the code still goes to
the app, bound to the app's challenge.

Attack (m) is device-code phishing (RFC 8628 §5.4, ``teaching.device_attack``): the
attacker's device login, the victim's browser at /activate; only the consent page's words
stand between them, so the card shows both answers the victim can give.

Attack (n) is a mix-up at the callback (RFC 9207 §2.4, ``teaching.mixup_attack``): the lab's
own real login, its callback's iss changed to another issuer, delivered from the browser the
state was issued to; the app's Step 6 check refuses it.

Attacks (a), (b), (c) and (e) need an authorization code nobody has redeemed yet. On
the embedded server the lab gets one by driving a login itself with
``ScriptedBrowser`` and keeping the code it is redirected with: exactly where an
attacker who intercepts codes stands. Against a real provider the user logs in with
``/login?intercept=attack-lab``: the app runs its usual state check on the callback
and then hands the code to the lab unredeemed instead of exchanging it.

Each ``attack_*`` function returns a result dict: ``tried``, ``sent``, ``response``,
``stopped_by``, ``rule``, ``rejected`` (bool) and ``error`` (the RFC error code). The
lab tells the story as events on the app's bus (``AttackStarted``, then the attacker's
lines), which the console narrates; the page (``teaching.labpage``) draws the results.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import threading
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass

import pkce

from oauthdemo.core.errors import (DemoError, InvalidRequest, ProviderBadResponse, ProviderUnreachable,
                                   as_oauth2)
from oauthdemo.core.events import AttackStarted, EventBus
from oauthdemo.core.steps import Step
from oauthdemo.core.jose import b64url_encode, decode_unverified
from oauthdemo.core.text import abbreviate, mask_secret
from oauthdemo.client.oidc import CALLBACK_ISS_WHY, CLAIM_WHY, OIDCClient
from oauthdemo.client.pending import AuthRequest
from oauthdemo.client.transport import http_json
from oauthdemo.core.tables import BoundedTable
from oauthdemo.client.useragent import LoginFailed, ScriptedBrowser
from oauthdemo.client import par as client_par
from oauthdemo.teaching import device_attack, mixup_attack, par_attack

INTERCEPT_FLAG = "attack-lab"      # /login?intercept=attack-lab keeps that login's code
FORM_PURPOSE = "attack-lab"        # what the lab's form tokens are for
LAB_BROWSERS_MAX = 500             # browsers whose codes and results are remembered
INTERCEPTING_MAX = 500             # logins waiting to have their code intercepted
CODES_PER_BROWSER = 4              # intercepted codes kept per browser
CODE_TTL = 600                     # RFC 6749 §4.1.2: a code lives 10 minutes at most
LAB_COOKIE_AGE = 3600              # the lab page keeps its browser id this long
# A claim attack's card and console say why that claim is checked, as a sentence around the
# console's own clause (CLAIM_WHY).
WHY_SENTENCE = "The app checks {claim} so that every ID token it believes is {why}."
# Attack (n)'s card and console say why the callback's iss is checked, in the console's words.
ISS_WHY = f"iss in the callback: {CALLBACK_ISS_WHY[0].upper()}{CALLBACK_ISS_WHY[1:]}."
ACTOR = "attacker"                 # who speaks in the console while the lab runs
ATTACKER_REDIRECT = "https://attacker.example/callback"
# The CLI's loopback callback, on a port as its one-shot server would pick one (RFC 8252 §7.3:
# the server accepts any port on a loopback redirect).
OTHER_APP_REDIRECT = "http://127.0.0.1:49152/callback"
EXPIRED_BY = 3600                  # attack (k) replays the token this long after its exp
ATTACK_TAG = "attack {}"           # the tag of a step header that belongs to no login
FORGED_SUB = "auth0|000000000000000000000001"   # "the admin": who the attacker wants to be
VICTIM_USER, ATTACKER_USER = "alice", "bob"     # demo users at the embedded server
SECRET_FIELDS = ("client_secret", "Authorization")
TOKEN_FIELDS = ("access_token", "id_token", "refresh_token", "code")
RFC = "https://www.rfc-editor.org/rfc/"
OIDC_CORE = "https://openid.net/specs/openid-connect-core-1_0.html"


@dataclass(frozen=True)
class AttackSpec:
    """One card of the lab: what the attacker tries, what should stop it, and the rule."""
    letter: str
    title: str
    short: str          # for the at-a-glance strip
    tries: str
    defence: str
    stopper: str
    rule: str
    rule_label: str
    rule_url: str
    needs: str = ""     # "code": an unredeemed code; "id_token": a real ID token
    claim: str = ""     # an ID token claim attack: the claim whose check refuses it


ATTACKS = OrderedDict((a.letter, a) for a in (
    AttackSpec(
        "a", "A stolen code, redeemed without a verifier",
        "Stolen code, no verifier",
        "The attacker caught the authorization code on its way back to the app (a malicious "
        "app on the same device, a proxy log, browser history) and redeems it at the token "
        "endpoint. They never saw the code_verifier, so they send none.",
        "The code is bound to the code_challenge the server stored in Step 4. A token request "
        "without the verifier cannot be checked against it, so it is refused.",
        "the authorization server's PKCE check (Step 8)",
        "The client MUST send code_verifier with the code; the server MUST verify it before "
        "issuing tokens.", "RFC 7636 §4.5", RFC + "rfc7636#section-4.5", needs="code"),
    AttackSpec(
        "b", "A stolen code, redeemed with a guessed verifier",
        "Stolen code, guessed verifier",
        "Same stolen code, now with a verifier the attacker made up: well-formed, 43 "
        "characters, 256 random bits. Maybe the server only checks that one is present?",
        "The server hashes the verifier and compares the result with the stored challenge. "
        "SHA-256 cannot be run backwards, so no guess will match.",
        "the authorization server's PKCE check (Step 8)",
        "If BASE64URL(SHA256(code_verifier)) differs from the stored code_challenge, the "
        "server MUST answer invalid_grant.", "RFC 7636 §4.6", RFC + "rfc7636#section-4.6",
        needs="code"),
    AttackSpec(
        "c", "A used code, replayed",
        "Used code, replayed",
        "The app redeemed the code normally. The attacker replays the very same token "
        "request, code and verifier included (copied from a log), for a second set of tokens.",
        "Codes are single use. A code seen twice means someone holds a copy, so the server "
        "refuses it and revokes every token the first redemption issued. Only the server "
        "knows that: the revoked access token's signature and exp still check out, so an API "
        "that checks JWTs only locally accepts it until it expires. This app's API also asks "
        "the server (RFC 7662 introspection); /userinfo is the server's own.",
        "the authorization server's single-use rule for codes",
        "The server MUST deny a code used more than once and SHOULD revoke all tokens "
        "previously issued from it.", "RFC 6749 §4.1.2", RFC + "rfc6749#section-4.1.2",
        needs="code"),
    AttackSpec(
        "d", "A forged callback: login CSRF",
        "Forged callback (CSRF)",
        "The attacker starts a login in their own browser, signs in as themselves, and sends "
        "the victim a link to this app's /callback carrying their code and state. Followed, "
        "it would log the victim in to the attacker's account.",
        "The app accepts a state only if it issued it to this very browser (bound by the "
        "demo_browser cookie), unused and fresh. This browser never received that state.",
        "your app's state check (Step 6)",
        "The client MUST protect its redirect URI against CSRF, binding the request to the "
        "user agent (the state parameter).", "RFC 6749 §10.12", RFC + "rfc6749#section-10.12"),
    AttackSpec(
        "e", "A different redirect_uri at the token endpoint",
        "Another redirect_uri",
        "The attacker redeems a stolen code while naming their own redirect_uri, "
        f"{ATTACKER_REDIRECT}. To isolate this one check they even have the right verifier.",
        "The server remembers the redirect_uri each code was issued for and demands the "
        "identical value when the code is redeemed.",
        "the authorization server's redirect_uri binding",
        "If redirect_uri was in the authorization request, the token request MUST carry the "
        "identical value.", "RFC 6749 §4.1.3", RFC + "rfc6749#section-4.1.3", needs="code"),
    AttackSpec(
        "f", "An authorization request without PKCE (downgrade)",
        "No PKCE (downgrade)",
        "The attacker sends an authorization request with no code_challenge at all, hoping "
        "for a code that can later be redeemed without any verifier.",
        "The server requires PKCE (S256) from every client, so it refuses the request "
        "before any login page is shown.",
        "the authorization server's PKCE requirement (Step 4)",
        "A server that requires PKCE MUST answer invalid_request when code_challenge is "
        "missing.", "RFC 7636 §4.4.1", RFC + "rfc7636#section-4.4.1"),
    AttackSpec(
        "g", "An ID token with one claim changed",
        "ID token, one claim changed",
        f"The attacker takes a real ID token and changes one claim, sub, to {FORGED_SUB} "
        "(an administrator), keeping the original signature.",
        "The app verifies the RS256 signature with the provider's key from its JWKS before "
        "reading any claim. One changed byte and the signature no longer matches.",
        "your app's ID token signature check (Step 9)",
        "Validate the ID token's signature with the issuer's key (from its JWKS) using the "
        "algorithm the client expects.", "OpenID Connect Core §3.1.3.7",
        OIDC_CORE + "#IDTokenValidation", needs="id_token"),
    AttackSpec(
        "h", "An unsigned token: alg none",
        "alg: none",
        "The attacker rewrites the header to alg: none, changes sub and drops the "
        "signature, hoping the app lets the token choose its own algorithm.",
        "The app passes its own allowlist (RS256 only). The token's header never chooses the "
        "algorithm, and 'none' is never on the list.",
        "your app's algorithm allowlist (Step 9)",
        "Libraries MUST let the caller specify the allowed algorithms and MUST NOT accept "
        "'none' unless explicitly asked to.", "RFC 8725 §3.1", RFC + "rfc8725#section-3.1",
        needs="id_token"),
    AttackSpec(
        "i", "An ID token issued to another app",
        "ID token for another app (aud)",
        "The user also signed in to another app registered at the same provider (here the "
        "demo's CLI). That app, or whoever stole its token, presents the ID token it was "
        "given to this app: real, signed by the real server, naming the real user.",
        "The app accepts an ID token only if its aud names this app's client_id (and, with "
        "several audiences, azp does too). A token issued to another app says so in aud.",
        "your app's aud check (Step 9)",
        "The client MUST validate that the aud claim contains its client_id, and MUST reject "
        "the ID token if it does not list the client as a valid audience.",
        "OpenID Connect Core §3.1.3.7 (3)", OIDC_CORE + "#IDTokenValidation", claim="aud"),
    AttackSpec(
        "j", "An ID token from an earlier login, replayed",
        "Earlier ID token (nonce)",
        "A new login starts. The attacker holds an ID token from one of the victim's earlier "
        "logins (another device's storage, a proxy's log, a crash report: tokens are never in "
        "a URL here) and slips it in as this login's answer, playing a malicious or "
        "compromised provider or sitting in the response path behind a misconfigured TLS "
        "proxy. The token is real, signed, unexpired and names the real user.",
        "Each login sends a fresh random nonce (Step 3); the server copies it into the ID "
        "token. The app accepts only a token that carries this login's nonce.",
        "your app's nonce check (Step 9)",
        "If a nonce was sent in the authentication request, the nonce claim MUST be present "
        "and its value checked to be the same as the one sent.",
        "OpenID Connect Core §3.1.3.7 (11)", OIDC_CORE + "#IDTokenValidation",
        needs="id_token", claim="nonce"),
    AttackSpec(
        "k", "An expired ID token, replayed later",
        "Expired ID token (exp)",
        "The attacker found an ID token in a log and replays it an hour after its exp. The "
        "lab does not wait: it runs the app's own check with the app's clock set to that "
        "time (the clock is injectable).",
        "The app refuses a token whose exp has passed (60 s of clock skew allowed), so a "
        "leaked token stops working when it expires.",
        "your app's exp check (Step 9)",
        "The current time MUST be before the time represented by the exp claim, allowing "
        "for a small leeway for clock skew.",
        "OpenID Connect Core §3.1.3.7 (9)", OIDC_CORE + "#IDTokenValidation",
        needs="id_token", claim="exp"),
    AttackSpec(
        "l", "A pushed request, tampered with in the browser's URL",
        "Tampered URL after PAR",
        "The app pushed its authorization request server to server (PAR). The attacker, who "
        "can change the browser's URL (a crafted link, an extension), adds its own "
        "redirect_uri and code_challenge beside client_id and request_uri, hoping the code "
        "comes to it, bound to a verifier it knows.",
        "The pushed request is the request: the server takes every parameter from it and "
        "ignores the rest of the URL, so the code goes to the app's redirect_uri, bound to "
        "the app's challenge.",
        "the authorization server's pushed request (Step 3, RFC 9126)",
        "The authorization server uses the parameters of the pushed request; parameters "
        "outside it are not used (as with a request object, RFC 9101 §5).",
        "RFC 9126 §4", RFC + "rfc9126#section-4"),
    AttackSpec(
        "m", "Device-code phishing: the victim is sent the attacker's code",
        "Device code phishing",
        "The attacker starts a device login (RFC 8628) on its own machine and sends the "
        "victim the user code, or the link with it filled in: \"confirm your account\". If "
        "the victim logs in and approves, the tokens go to the attacker's machine, which is "
        "polling the token endpoint.",
        "Nothing in the protocol can tell this approval from a real one. The consent page "
        "names the device's client, says to approve only a login you started on your own "
        "device, and shows the code to compare; the code lives 10 minutes. A victim who "
        "denies leaves the attacker's poll with access_denied; one who approves hands over "
        "tokens (the lab shows both, and revokes those tokens at once).",
        "the device consent page's warning (Device step 4), if the user reads it and "
        "presses Deny",
        "The authorization server SHOULD tell the user that they are authorizing a device and "
        "confirm it is the device they hold, so that a code sent by someone else is refused.",
        "RFC 8628 §5.4", RFC + "rfc8628#section-5.4"),
    AttackSpec(
        "n", "A callback from another issuer (mix-up)",
        "Callback from another issuer",
        "A mix-up: a client that logs in at several providers is told that the callback came "
        "from a server other than the one the user was sent to, and would send the code to "
        "that server's token endpoint. The lab runs a real login, keeps its callback's valid "
        f"state and real code, and changes only iss to {mixup_attack.OTHER_ISSUER}; the "
        "browser the state was issued to delivers it to the app's /callback.",
        "Each login remembers the issuer it sent the user to. The provider says in its "
        "discovery document that it always sends iss, and the app accepts a callback only if "
        "its iss is exactly that issuer: another iss means another server answered.",
        "your app's iss check (Step 6)",
        "The client MUST compare the iss in the authorization response with the issuer it "
        "sent the request to, by simple string comparison, and MUST reject the response if "
        "they differ.", "RFC 9207 §2.4", RFC + "rfc9207#section-2.4"),
))


@dataclass
class StolenCode:
    """An authorization code nobody has redeemed, and the request it was issued for."""
    code: str
    request: AuthRequest
    how: str
    taken: float


class AttackLab:
    """The lab's state on the app: intercepted codes and each browser's latest results."""

    cookie_age = LAB_COOKIE_AGE

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        # Any visitor can add entries to these, so each keeps only its newest LIMIT.
        self.intercepting = BoundedTable(INTERCEPTING_MAX)
        self.codes = BoundedTable(LAB_BROWSERS_MAX)
        self.results = BoundedTable(LAB_BROWSERS_MAX)

    @property
    def client(self):
        return self.app.client

    @property
    def own_client(self):
        """The app's client as the attacker uses it for the set-up (its own logins, a code
        redeemed once): on a silent bus, so the console gets one summary line instead of
        Steps 2–9 replayed under "your app". The checks under attack use ``client``."""
        c = self.client
        return OIDCClient(c.provider, c.metadata, transport=c.transport, events=EventBus(),
                          clock=c.clock, actor=ACTOR)

    @contextlib.contextmanager
    def quiet_at_server(self, req: AuthRequest):
        """The embedded server tells this set-up's steps (4 and 5 of a login, 8 of a code
        redeemed as the app would) to nobody; the attack itself is told in full."""
        server = self.app.auth_server
        quiet = ((server.authorization.quiet_flows, server.code_grant.quiet_flows)
                 if self.embedded else ())
        for flows in quiet:
            flows.add(req.flow)
        try:
            yield
        finally:
            for flows in quiet:
                flows.discard(req.flow)

    def redeem_as_the_app(self, stolen: StolenCode, what: str) -> dict:
        """A set-up redemption (the code used once, as the app would): one line, no replay."""
        self.say(f"set-up: {what} (Steps 7 and 8 as usual, not repeated here)")
        with self.quiet_at_server(stolen.request):
            return self.own_client.exchange_code(stolen.code, stolen.request)

    @property
    def embedded(self) -> bool:
        return self.app.auth_server is not None

    @property
    def redirect_uri(self) -> str:
        return self.app.base_url + "/callback"

    @property
    def events(self):
        """The app's event bus: the console narrates the lab as the attacker."""
        return self.app.events

    def say(self, text: str):
        self.events.say(ACTOR, text)

    # -- who may press the buttons --------------------------------------------------------
    def form_token(self, browser: str) -> str:
        return self.app.forms.issue(FORM_PURPOSE, browser)

    def check_post(self, browser: str, form: dict):
        """Each run spends real logins at the provider: only this app's own lab page (the
        handler checks Origin), in this browser, may start one: a token tied to the browser id."""
        self.app.forms.check(form, FORM_PURPOSE, browser,
                             refusal="The attack lab's form token is missing or stale: reload "
                                     "/attacks and press the button again.")

    # -- "intercept the next login's code" (any provider) -----------------------------------
    def intercept(self, state: str, flag: str) -> bool:
        """/login?intercept=attack-lab (the lab page's link): keep that login's code here."""
        if flag != INTERCEPT_FLAG:
            return False
        with self.lock:
            self.intercepting.put(state, True)
        return True

    def intercepts(self, state: str | None) -> bool:
        with self.lock:
            return bool(state) and state in self.intercepting

    def keep_code(self, params: dict, browser: str) -> StolenCode:
        """The callback of a login started for the lab: the app's real state check, then the
        code goes to the lab instead of the token endpoint."""
        req, code = self.client.check_callback(params, self.app.pending, browser)
        stolen = StolenCode(code, req, "intercepted from your own login", self.app.clock())
        with self.lock:
            self.intercepting.pop(req.state, None)
            kept = [c for c in self.codes.get(browser, []) if self.fresh(c)] + [stolen]
            self.codes.put(browser, kept[-CODES_PER_BROWSER:])
        self.say(f"intercepted code {abbreviate(code)}: the app will not redeem it; it waits "
                 "in the attack lab")
        return stolen

    def fresh(self, stolen: StolenCode) -> bool:
        return self.app.clock() - stolen.taken < CODE_TTL

    def codes_waiting(self, browser: str) -> int:
        with self.lock:
            return sum(1 for c in self.codes.get(browser, []) if self.fresh(c))

    def take_intercepted(self, browser: str) -> StolenCode | None:
        with self.lock:
            kept = [c for c in self.codes.get(browser, []) if self.fresh(c)]
            stolen = kept.pop(0) if kept else None
            self.codes.put(browser, kept)
        return stolen

    # -- where stolen codes and tokens come from ---------------------------------------------
    def steal_code(self, browser: str) -> StolenCode | None:
        """An unredeemed code: one intercepted from this browser's login, else (embedded
        server only) one from a login the lab drives itself."""
        stolen = self.take_intercepted(browser)
        if stolen is None and self.embedded:
            stolen = self.scripted_login(VICTIM_USER, "lab-victim-" + secrets.token_urlsafe(12))
        return stolen

    def scripted_login(self, user: str, browser_id: str, pending: bool = False,
                       client: OIDCClient | None = None) -> StolenCode:
        """Log in at the embedded server as ``user`` and keep the callback's code unfetched.
        ``client``: another app of the same server (attack i); by default this app."""
        redirect_uri = OTHER_APP_REDIRECT if client else self.redirect_uri
        req = (client or self.own_client).begin(redirect_uri, browser=browser_id,
                                                scope=self.app.scope)
        if pending:
            self.app.pending.add(req)
        try:
            params = self.callback_of(req, user)
        except DemoError:   # a login that never reached its callback leaves no state pending
            self.app.pending.discard(req.state, browser_id)
            raise
        req.trace["callback"] = params
        self.say(f"set-up: logs in as {user} (Steps 2–5 as usual, not repeated here) and "
                 f"intercepts the redirect to {req.redirect_uri}: code "
                 f"{abbreviate(params['code'])}, never seen by the app")
        return StolenCode(params["code"], req, f"a login the lab ran as {user}",
                          self.app.clock())

    def callback_of(self, req: AuthRequest, user: str) -> dict:
        """The login at the embedded server, as ``user``: its callback's parameters."""
        try:
            with self.quiet_at_server(req):
                callback = ScriptedBrowser().login_at_provider(req.url, user=user)
        except OSError as err:      # URLError and timeouts: the server is not answering
            raise ProviderUnreachable(f"The lab could not reach {req.url}: {err}") from err
        except LoginFailed as err:
            raise ProviderBadResponse(f"The lab's scripted login failed: {err}") from err
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
        if not params.get("code"):
            raise ProviderBadResponse("The lab's scripted login came back without a code: "
                                      f"{params.get('error', 'no error either')}.")
        return params

    def real_id_token(self, browser: str, tokens: dict | None) -> tuple:
        """(id_token, where it came from), or (None, why not)."""
        if tokens and tokens.get("id_token"):
            return tokens["id_token"], "your own ID token, from this browser's session"
        stolen = self.steal_code(browser)
        if stolen is None:
            return None, "Log in first: this attack tampers with a real ID token."
        fresh = self.redeem_as_the_app(stolen, "that code is redeemed for a real ID token")
        return fresh.get("id_token"), f"a fresh ID token from {stolen.how}"

    # -- running ----------------------------------------------------------------------------
    def run(self, letter: str, browser: str, tokens: dict | None = None) -> dict:
        spec = ATTACKS.get(letter)
        if spec is None:
            raise InvalidRequest("Unknown attack: choose one of " + ", ".join(ATTACKS) + ".")
        self.events.emit(AttackStarted(ACTOR, letter, spec.title))
        try:
            result = RUNNERS[letter](self, browser=browser, tokens=tokens)
        except DemoError as err:   # the provider is down, or a lab login failed
            result = not_run(spec, f"The attack could not run: {err.description}")
        self.narrate_result(spec, result)
        with self.lock:
            mine = dict(self.results.get(browser, {}))
            mine[letter] = result
            self.results.put(browser, mine)
        return result

    def run_from_form(self, form: dict, browser: str, tokens: dict | None) -> str:
        """POST /attacks/run: one letter, or "all". Returns the fragment to show next."""
        letter = form.get("attack", "")
        for each in (ATTACKS if letter == "all" else [letter]):
            self.run(each, browser, tokens)
        return "results" if letter == "all" else f"attack-{letter}"

    def results_for(self, browser: str) -> dict:
        with self.lock:
            return dict(self.results.get(browser, {}))

    def narrate_result(self, spec: AttackSpec, result: dict):
        """The attacker's last words: refused (one ✘, for the attacker), what stopped it (said
        once, unmarked) and, for a claim, why the app checks it."""
        if not result["ran"]:
            self.say(f"not run: {result['stopped_by']}")
        elif result["rejected"]:
            how = " redirect back with the error" if result["response"].get("location") else ""
            # One mark for one event: a ✘ for the attacker, "stopped" said once.
            self.events.check(ACTOR, f"refused: {result['error']} "
                                     f"(HTTP {result['response']['status']}{how})", ok=False)
            self.say(f"stopped by {spec.stopper}: {spec.rule_label}")
            if result.get("why"):
                self.say(result["why"].partition(": ")[2])
        else:
            self.events.check(ACTOR, "NOT refused: this provider let the attack through", ok=False)


# == the attacks =============================================================================

def attack_stolen_code_without_verifier(lab: AttackLab, *, browser: str = "",
                                        tokens: dict | None = None) -> dict:
    return stolen_code_attack(lab, "a", browser, {"code_verifier": None},
                              "redeems the stolen code with no code_verifier at all",
                              "Redeem the code from {how} at the token endpoint, sending no "
                              "code_verifier.")


def attack_stolen_code_wrong_verifier(lab: AttackLab, *, browser: str = "",
                                      tokens: dict | None = None) -> dict:
    guess = pkce.make_verifier()
    return stolen_code_attack(lab, "b", browser, {"code_verifier": guess},
                              f"redeems the stolen code with a made-up verifier {guess}",
                              "Redeem the code from {how} with a guessed code_verifier "
                              "(well-formed, random).")


def attack_code_replay(lab: AttackLab, *, browser: str = "", tokens: dict | None = None) -> dict:
    spec = ATTACKS["c"]
    stolen = lab.steal_code(browser)
    if stolen is None:
        return needs_code(spec)
    first = lab.redeem_as_the_app(stolen, "the code is redeemed once, as the app would")
    lab.say("replays the same token request: same code, same verifier")
    result = token_attack(lab, spec, stolen, {},
                          f"The app redeemed the code from {stolen.how}; then replay the "
                          "identical token request.")
    result["extra"] = revocation_checks(lab, first)
    return result


def attack_forged_callback(lab: AttackLab, *, browser: str = "", tokens: dict | None = None) -> dict:
    spec = ATTACKS["d"]
    params, how = attacker_callback(lab)
    lab.say(f"sends the victim a link: /callback?code=…&state={params['state'][:10]}… (the "
            "attacker's own state)")
    sent = [f"GET {lab.redirect_uri}?…  (followed by the victim's browser)"]
    sent += [f"{k}={v}" for k, v in shown_fields(params).items()]
    tried = (f"Make this browser deliver the attacker's callback ({how}) to the app's "
             "/callback, with a state this browser never received.")
    app = checker(lab, spec.letter)
    try:
        app.complete(params, lab.app.pending, browser)
    except DemoError as err:   # the app's own refusal, under its Step 6 header
        app_refuses(app, f"state {params['state'][:10]}…", err)
        return outcome(spec, tried, sent, raised("OIDCClient.complete (the app's /callback)", err))
    return accepted(spec, tried, sent, "OIDCClient.complete (the app's /callback)")


def attack_redirect_uri_swap(lab: AttackLab, *, browser: str = "",
                             tokens: dict | None = None) -> dict:
    return stolen_code_attack(lab, "e", browser, {"redirect_uri": ATTACKER_REDIRECT},
                              f"redeems the stolen code naming redirect_uri={ATTACKER_REDIRECT}",
                              "Redeem the code from {how} with the right verifier but "
                              f"redirect_uri={ATTACKER_REDIRECT}.")


def attack_pkce_downgrade(lab: AttackLab, *, browser: str = "", tokens: dict | None = None) -> dict:
    spec = ATTACKS["f"]
    params = downgraded_authorize_params(lab)
    url = lab.client.metadata["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)
    lab.say("sends an authorization request without code_challenge / code_challenge_method")
    try:
        page = ScriptedBrowser().get(url)
    except OSError as err:
        raise ProviderUnreachable(f"The authorization endpoint did not answer: {err}") from err
    response = authorize_answer(page, lab.redirect_uri)
    sent = [f"GET {lab.client.metadata['authorization_endpoint']}?…"]
    sent += [f"{k}={v}" for k, v in params.items()] + ["(no code_challenge, no code_challenge_method)"]
    tried = "Ask for an authorization code without PKCE."
    error = response["body"].get("error")
    if error or response["status"] >= 400:
        return outcome(spec, tried, sent, response, error or f"HTTP {response['status']}")
    return accepted(spec, tried, sent, response["request"], response)


def attack_tampered_id_token(lab: AttackLab, *, browser: str = "",
                             tokens: dict | None = None) -> dict:
    spec, token, source = id_token_for(lab, "g", browser, tokens)
    if token is None:
        return source
    forged = with_claim(token, "sub", FORGED_SUB)
    lab.say(f"changes sub to {FORGED_SUB} in {source}; keeps the signature")
    return id_token_attack(lab, spec, forged, token,
                           f"Present {source} with sub changed to {FORGED_SUB}.")


def attack_alg_none(lab: AttackLab, *, browser: str = "", tokens: dict | None = None) -> dict:
    spec, token, source = id_token_for(lab, "h", browser, tokens)
    if token is None:
        return source
    forged = unsigned(token, "sub", FORGED_SUB)
    lab.say('rewrites the header to {"alg":"none"}, changes sub, drops the signature')
    return id_token_attack(lab, spec, forged, token,
                           f"Present {source} re-encoded with alg none, sub={FORGED_SUB} and "
                           "an empty signature.")


def attack_other_apps_id_token(lab: AttackLab, *, browser: str = "",
                               tokens: dict | None = None) -> dict:
    spec = ATTACKS["i"]
    if not lab.embedded:
        return not_run(spec, "This attack needs a second app registered at the same provider; "
                             "the embedded server has one (the CLI). Run the demo with it.")
    token, other = other_apps_id_token(lab)
    claims = decode_unverified(token)[1]
    lab.say(f"presents the ID token the server issued to {other} (aud={claims.get('aud')}) "
            "to this app")
    sent = ["id_token = " + abbreviate(token), f"aud: {json.dumps(claims.get('aud'))}  "
            f"(this app is {json.dumps(lab.client.provider.client_id)})",
            f"iss: {claims.get('iss')}  (the right server)", f"sub: {claims.get('sub')}"]
    return claim_attack(lab, spec, token, claims.get("nonce"), sent,
                        f"Present the ID token issued to {other}, the same user's login at "
                        "another app of this provider, to this app's ID token check.")


def attack_earlier_id_token(lab: AttackLab, *, browser: str = "",
                            tokens: dict | None = None) -> dict:
    spec, token, source = id_token_for(lab, "j", browser, tokens)
    if token is None:
        return source
    new = lab.own_client.begin(lab.redirect_uri, browser=browser or ACTOR, scope=lab.app.scope)
    old = str(decode_unverified(token)[1].get("nonce", ""))
    lab.say(f"set-up: a new login starts with nonce {new.nonce[:10]}… (Steps 2 and 3 as "
            f"usual, not repeated here); the attacker injects {source}, nonce {old[:10]}…")
    sent = ["id_token = " + abbreviate(token), f"nonce in the token: {old[:10]}…  (an "
            "earlier login's)", f"nonce this login sent: {new.nonce[:10]}…"]
    return claim_attack(lab, spec, token, new.nonce, sent,
                        f"Answer a new login with {source}, from an earlier login.")


def attack_expired_id_token(lab: AttackLab, *, browser: str = "",
                            tokens: dict | None = None) -> dict:
    spec, token, source = id_token_for(lab, "k", browser, tokens)
    if token is None:
        return source
    claims = decode_unverified(token)[1]
    later = float(claims.get("exp", 0)) + EXPIRED_BY
    lab.say(f"replays {source} an hour after its exp: the lab sets the app's clock to "
            f"{int(later)} (injectable; nobody waits)")
    sent = ["id_token = " + abbreviate(token), f"exp: {claims.get('exp')}",
            f"the app's clock: {int(later)}  (exp + {EXPIRED_BY} s)"]
    return claim_attack(lab, spec, token, claims.get("nonce"), sent,
                        f"Present {source} an hour after it expired.", clock=lambda: later)


def attack_tampered_pushed_request(lab: AttackLab, *, browser: str = "",
                                   tokens: dict | None = None) -> dict:
    spec = ATTACKS["l"]
    if not lab.client.metadata.get(client_par.ENDPOINT):
        return not_run(spec, "This provider offers no pushed_authorization_request_endpoint.")
    if not lab.embedded:
        return not_run(spec, "This attack plays the user at the embedded server's login page.")
    seen = par_attack.run(lab)
    sent = [f"GET {seen['url'].split('?')[0]}?client_id=…&request_uri=…"]
    sent += [f"&{k}={v}" for k, v in seen["added"].items()]
    tried = "Change the pushed request by adding parameters to the browser's URL."
    where = seen["landed"].split("?")[0]
    response = {"request": "GET /authorize?client_id&request_uri&redirect_uri&code_challenge",
                "status": 303, "body": {"code sent to": where, "bound to": "the app's challenge"
                         if seen["bound_to_app"] else "another challenge"}}
    if seen["to_app"] and seen["bound_to_app"]:
        return outcome(spec, tried, sent, response, "tampered parameters ignored")
    return accepted(spec, tried, sent, response["request"], response)


def attack_device_code_phishing(lab: AttackLab, *, browser: str = "",
                                tokens: dict | None = None) -> dict:
    spec = ATTACKS["m"]
    if not (lab.embedded and lab.client.metadata.get(device_attack.ENDPOINT)):
        return not_run(spec, "This attack plays the victim at the embedded server's /activate.")
    seen = device_attack.run(lab)
    tried = "Send the victim the user code of a device login the attacker started."
    status, body = seen["denied"]
    response = {"request": "POST /oauth/token (grant_type=device_code, after Deny)",
                "status": status, "body": shown_fields(body)}
    allowed = seen["approved"]
    result = (outcome(spec, tried, device_attack.story(seen), response) if
              device_attack.refused(seen) else
              accepted(spec, tried, device_attack.story(seen), response["request"], response))
    # The defence is a page's words and a user who reads them: the verdict says so.
    result["condition"] = device_attack.CONDITION
    result["extra"] = [{"label": "Had the victim pressed Allow: the attacker's poll (the lab "
                                 "revokes those tokens at once)",
                        "request": "POST /oauth/token (grant_type=device_code, after Allow)",
                        "status": allowed[0], "body": shown_fields(allowed[1]),
                        "revoked": allowed[0] == 200, "works": False}]
    return result


def attack_mixup_callback(lab: AttackLab, *, browser: str = "",
                          tokens: dict | None = None) -> dict:
    spec = ATTACKS["n"]
    if mixup_attack.why_not(lab):
        return not_run(spec, mixup_attack.why_not(lab))
    params, real, lab_browser = mixup_attack.forged_callback(lab, VICTIM_USER)
    lab.say(f"changes only the callback's iss: {real} → {mixup_attack.OTHER_ISSUER}; state "
            "and code stay as the server sent them")
    sent = [f"GET {lab.redirect_uri}?…  (from the browser the state was issued to)"]
    sent += [f"{k}={v}" for k, v in shown_fields(params).items()]
    tried = ("Deliver this browser's own callback (a real login's valid state and code) to "
             f"the app's /callback with iss changed to {mixup_attack.OTHER_ISSUER}.")
    call = "OIDCClient.check_callback (the app's /callback)"
    app = checker(lab, spec.letter)
    err = mixup_attack.deliver(app, lab, params, lab_browser)
    if err is None:
        result = accepted(spec, tried, sent, call)
    else:   # the app's own refusal, under its Step 6 header
        app_refuses(app, "the callback", err)
        result = outcome(spec, tried, sent, raised(call, err))
    result["why"] = ISS_WHY
    return result


RUNNERS = {"a": attack_stolen_code_without_verifier, "b": attack_stolen_code_wrong_verifier,
           "c": attack_code_replay, "d": attack_forged_callback, "e": attack_redirect_uri_swap,
           "f": attack_pkce_downgrade, "g": attack_tampered_id_token, "h": attack_alg_none,
           "i": attack_other_apps_id_token, "j": attack_earlier_id_token,
           "k": attack_expired_id_token, "l": attack_tampered_pushed_request,
           "m": attack_device_code_phishing, "n": attack_mixup_callback}


# == the attacks' moving parts ==================================================================

def stolen_code_attack(lab: AttackLab, letter: str, browser: str, change: dict, narration: str,
                       tried: str) -> dict:
    """Steal a fresh code, then redeem it with the token request changed by ``change``."""
    spec = ATTACKS[letter]
    stolen = lab.steal_code(browser)
    if stolen is None:
        return needs_code(spec)
    lab.say(narration)
    return token_attack(lab, spec, stolen, change, tried.format(how=stolen.how))


def token_attack(lab: AttackLab, spec: AttackSpec, stolen: StolenCode, change: dict,
                 tried: str) -> dict:
    """POST the app's own token request, changed as the attacker likes, to the real endpoint.

    The client's secret (if it has one) is included: assume the worst, so what stops the
    attack is the rule on the card and not a missing password.
    """
    data, headers = lab.client.token_request_body(stolen.code, stolen.request.redirect_uri,
                                                  stolen.request.verifier)
    for name, value in change.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    endpoint = lab.client.metadata["token_endpoint"]
    status, body = http_json(endpoint, data=data, headers=headers, timeout=lab.client.timeout)
    sent = [f"POST {endpoint}"] + [f"{k}: {v}" for k, v in shown_fields(headers).items()]
    sent += [f"{k}={v}" for k, v in shown_fields(data).items()]
    sent += [f"(no {k})" for k, v in change.items() if v is None]
    response = {"request": f"POST {endpoint}", "status": status, "body": shown_fields(body)}
    if status == 200:
        discard(lab, body)
        return accepted(spec, tried, sent, response["request"], response)
    return outcome(spec, tried, sent, response, str(body.get("error") or f"HTTP {status}"))


def revocation_checks(lab: AttackLab, first: dict) -> list:
    """After a replay: do the first redemption's tokens still work? Ask the provider."""
    checks = []
    endpoint = lab.client.metadata.get("userinfo_endpoint")
    if endpoint and first.get("access_token"):
        status, body = http_json(endpoint, headers={"Authorization": "Bearer " +
                                                    first["access_token"]},
                                 timeout=lab.client.timeout)
        checks.append({"label": "The access token from the first redemption, at /userinfo",
                       "request": f"GET {endpoint}", "status": status, "body": shown_fields(body),
                       "revoked": status == 401, "works": status == 200})
    if first.get("refresh_token"):
        data, headers = lab.client.with_client_auth({
            "grant_type": "refresh_token", "client_id": lab.client.provider.client_id,
            "refresh_token": first["refresh_token"]})
        endpoint = lab.client.metadata["token_endpoint"]
        status, body = http_json(endpoint, data=data, headers=headers, timeout=lab.client.timeout)
        checks.append({"label": "The refresh token from the first redemption",
                       "request": f"POST {endpoint} (grant_type=refresh_token)",
                       "status": status, "body": shown_fields(body), "revoked": status != 200})
    if first.get("access_token") and lab.app.base_url:
        checks.append(api_check(lab, first["access_token"]))
    for check in checks:
        lab.say(f"{check['label']}: HTTP {check['status']} "
                f"{'(revoked)' if check['revoked'] else '(still works)' if check['works'] else '(no answer about it)'}")
    return checks


def api_check(lab: AttackLab, access_token: str) -> dict:
    """The same token at this app's own API: its answer says what the local JWT check saw
    and what the authorization server said, side by side."""
    url = lab.app.base_url + "/api/protected"
    status, body = http_json(url, headers={"Authorization": "Bearer " + access_token},
                             timeout=lab.client.timeout)
    return {"label": "The access token from the first redemption, at this app's API",
            "request": f"GET {url}", "status": status, "body": shown_fields(body),
            "revoked": status == 401, "works": status == 200}


def attacker_callback(lab: AttackLab) -> tuple:
    """The attacker's own login at this app, stopped before its callback: (params, how)."""
    attacker_browser = "attacker-" + secrets.token_urlsafe(16)
    if lab.embedded:
        stolen = lab.scripted_login(ATTACKER_USER, attacker_browser, pending=True)
        return stolen.request.trace["callback"], f"their own login as {ATTACKER_USER}"
    req = lab.own_client.begin(lab.redirect_uri, browser=attacker_browser, scope=lab.app.scope)
    lab.say("set-up: the attacker starts a login of its own (Steps 2 and 3, not repeated here)")
    lab.app.pending.add(req)
    # Against a real provider the lab cannot log the attacker in; the state is real, and
    # the app checks state before it ever looks at the code.
    params = {"code": "the-attackers-own-code", "state": req.state, "iss": req.issuer}
    return params, "a login the attacker started in their own browser"


def downgraded_authorize_params(lab: AttackLab) -> dict:
    """The app's own authorization parameters, minus PKCE (built without narrating a login)."""
    now = lab.app.clock()
    req = AuthRequest(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                      verifier="", challenge="", redirect_uri=lab.redirect_uri,
                      issuer=lab.client.provider.issuer, scope=lab.app.scope, created=now)
    params = lab.client.authorize_params(req, None)
    return {k: v for k, v in params.items() if not k.startswith("code_challenge")}


def authorize_answer(page, redirect_uri: str) -> dict:
    """What /authorize did: an error sent back to the client, a page, or a redirect onward."""
    location = page.location or ""
    response = {"request": "GET /authorize?… (no code_challenge)", "status": page.status,
                "body": {}}
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    if location:   # shown with the values elided: the body below carries the ones that matter
        response["location"] = (location.split("?")[0] + "?" +
                                "&".join(f"{k}=…" for k in query)).rstrip("?")
    if location.startswith(redirect_uri):
        response["body"] = {k: query[k] for k in ("error", "error_description") if k in query}
    elif page.status >= 400:
        response["body"] = {"page": page.text[:200]}
    return response


def id_token_attack(lab: AttackLab, spec: AttackSpec, forged: str, original: str,
                    tried: str) -> dict:
    header, claims = decode_unverified(forged)
    sent = ["id_token = " + abbreviate(forged), "header: " + json.dumps(header),
            f"sub: {decode_unverified(original)[1].get('sub')} → {claims.get('sub')}"]
    call = "OIDCClient.validate_id_token (the app's own check)"
    try:
        checker(lab, spec.letter).validate_id_token(forged, claims.get("nonce"))
    except DemoError as err:
        return outcome(spec, tried, sent, raised(call, err))
    return accepted(spec, tried, sent, call)


def id_token_for(lab: AttackLab, letter: str, browser: str, tokens: dict | None) -> tuple:
    """(spec, a real ID token, where it came from); without one, (spec, None, the card's
    result asking for a login)."""
    spec = ATTACKS[letter]
    token, source = lab.real_id_token(browser, tokens)
    return spec, token, source if token else not_run(spec, source, action="login")


def claim_attack(lab: AttackLab, spec: AttackSpec, token: str, nonce: str | None, sent: list,
                 tried: str, clock=None) -> dict:
    """A real, signed ID token whose claims are wrong for this login, through the app's own
    check (verify_jwt via validate_id_token); the card says why that claim is checked, in
    the console's words (CLAIM_WHY)."""
    call = "OIDCClient.validate_id_token (the app's own check)"
    app = checker(lab, spec.letter, clock)
    try:
        app.validate_id_token(token, nonce)
    except DemoError as err:   # the app's own refusal, under its Step 9 header
        app_refuses(app, "the ID token", err)
        result = outcome(spec, tried, sent, raised(call, err))
    else:
        result = accepted(spec, tried, sent, call)
    why = WHY_SENTENCE.format(claim=spec.claim, why=CLAIM_WHY[spec.claim])
    result["why"] = f"{spec.claim}: {why}"
    return result


def app_refuses(app: OIDCClient, what: str, err: DemoError):
    """The app's own refusal line, under the header its check opened (one ✘, the app's)."""
    app.events.check(app.actor, f"refuses {what}: {err.description}", ok=False)


def other_apps_id_token(lab: AttackLab) -> tuple:
    """(id_token, whose): the same user's login at another client of the embedded server,
    the CLI, redeemed as the CLI would. The server issues it, through its own endpoints."""
    other_id = lab.app.auth_server.native_client_id
    provider = dataclasses.replace(lab.client.provider, client_id=other_id,
                                   client_secret=None, audience=None)
    c = lab.client
    other = OIDCClient(provider, c.metadata, transport=c.transport, events=EventBus(),
                       clock=c.clock, actor=ACTOR)
    lab.say(f"set-up: {VICTIM_USER} also uses another app of this provider, the CLI "
            f"(client_id {other_id})")
    stolen = lab.scripted_login(VICTIM_USER, "lab-other-app-" + secrets.token_urlsafe(12),
                                client=other)
    with lab.quiet_at_server(stolen.request):
        tokens = other.exchange_code(stolen.code, stolen.request)
    try:
        return tokens["id_token"], f"the CLI ({other_id})"
    finally:   # only the ID token is needed: the grant behind it ends now (RFC 7009)
        lab.say("set-up: the lab revokes the CLI's access and refresh tokens it just made "
                "(only the ID token is needed)")
        for name in ("refresh_token", "access_token"):
            if tokens.get(name):
                other.revoke(tokens[name])


class AttackBus(EventBus):
    """The app's bus as a check under attack speaks on it: a step header with no login of
    its own (a forged state, a token the attacker presents) carries the attack's tag, so
    it is never shown as if it were a flow (issue 11 item 2)."""

    def __init__(self, inner: EventBus, tag: str):
        super().__init__()
        self.inner, self.tag = inner, tag

    def emit(self, event) -> None:
        self.inner.emit(event)

    def step(self, actor: str, step: Step, *, flow: str | None = "", context: str = ""):
        # Even a login's own flow (attack n's callback is the lab's login): the lab's set-up
        # was never narrated as a flow, so its header is the attack's.
        self.inner.step(actor, step, flow=self.tag, context=context)


def checker(lab: AttackLab, letter: str, clock=None) -> OIDCClient:
    """The app's own client, the same checks and the keys it already trusts, speaking on an
    ``AttackBus``; ``clock``: the app's clock set later (attack k), instead of waiting."""
    c = lab.client
    view = OIDCClient(c.provider, c.metadata, transport=c.transport,
                      events=AttackBus(c.events, ATTACK_TAG.format(letter)),
                      clock=clock or c.clock, actor=c.actor)
    view.jwks = c.jwks
    return view


def with_claim(token: str, name: str, value) -> str:
    """The same token with one claim changed and the original signature kept."""
    header_part, _, signature = token.split(".")
    _, claims = decode_unverified(token)
    claims[name] = value
    return f"{header_part}.{encode_part(claims)}.{signature}"


def unsigned(token: str, name: str, value) -> str:
    """An 'alg: none' token (RFC 7519 §6): the claims, one changed, and no signature at all."""
    _, claims = decode_unverified(token)
    claims[name] = value
    return f"{encode_part({'alg': 'none', 'typ': 'JWT'})}.{encode_part(claims)}."


def encode_part(obj: dict) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def discard(lab: AttackLab, tokens: dict):
    """If an attack got tokens, give them back: the lab keeps nothing it should not have."""
    for name in ("refresh_token", "access_token"):
        if tokens.get(name):
            lab.client.revoke(tokens[name])


# == results ===================================================================================

def outcome(spec: AttackSpec, tried: str, sent: list, response: dict, error: str | None = None) -> dict:
    """The attack was refused: what was tried, what came back, what stopped it and why."""
    error = error or response["body"].get("error")
    description = response["body"].get("error_description")
    stopped = spec.stopper[0].upper() + spec.stopper[1:]
    return {"letter": spec.letter, "title": spec.title, "ran": True, "tried": tried,
            "sent": sent, "response": response, "rejected": True, "error": error,
            "stopped_by": f"{stopped}: “{description}”" if description else stopped,
            "rule": spec.rule, "rule_label": spec.rule_label, "rule_url": spec.rule_url,
            "extra": []}


def accepted(spec: AttackSpec, tried: str, sent: list, request: str,
             response: dict | None = None) -> dict:
    """The attack was NOT refused: said plainly, in red, on the card and the console."""
    result = outcome(spec, tried, sent, response or {"request": request, "status": 200,
                                                     "body": {}})
    result.update(rejected=False, error=None,
                  stopped_by=f"Nothing: {spec.stopper} did not refuse this. The provider or "
                             "client configuration needs fixing.")
    return result


def raised(request: str, err: DemoError) -> dict:
    """What the check raised, and what it becomes over HTTP (a JOSE failure: invalid_token)."""
    answer = as_oauth2(err)
    return {"request": request, "status": answer.status_code, "raised": type(err).__name__,
            "body": answer.to_dict()}


def not_run(spec: AttackSpec, why: str, action: str = "") -> dict:
    return {"letter": spec.letter, "title": spec.title, "ran": False, "rejected": False,
            "error": None, "stopped_by": why, "action": action, "tried": "", "sent": [],
            "response": {}, "rule": spec.rule, "rule_label": spec.rule_label,
            "rule_url": spec.rule_url, "extra": []}


def needs_code(spec: AttackSpec) -> dict:
    return not_run(spec, "This attack needs an authorization code nobody has redeemed. Log "
                         "in once with interception: the app checks the callback as usual, "
                         "then leaves the code to the lab.", action="intercept")


def shown_fields(fields: dict) -> dict:
    """Secrets masked, tokens and codes abbreviated: enough to recognise, too little to use."""
    shown = {}
    for name, value in fields.items():
        if name in SECRET_FIELDS:
            value = mask_secret(str(value))
        elif name in TOKEN_FIELDS:
            value = abbreviate(str(value))
        shown[name] = value
    return shown
