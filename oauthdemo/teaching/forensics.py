"""Error forensics: why did this request fail? What was sent, set against what the server stored.

A refused request says only ``invalid_grant`` or ``invalid_request`` (RFC 6749 §5.2 keeps
the answer short on purpose: it must not help an attacker). The learner wants the cause.
The embedded server knows it (``auth.inspect.truth``), so the diagnosis can say which rule
fired and show both values; against another provider (``truth=None``) it says what the
request itself lets us infer, and what only the provider could tell.

Every computation goes through ``pkce`` (one code path) and nothing here decides anything:
the check already ran, at the server, and refused. These rules only explain.

Each rule has a stable id (``Diagnosis.rule``), which the pages put in ``data-rule`` and
the tests assert: see RULES.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import urllib.parse
from dataclasses import dataclass

import pkce

from oauthdemo.client.pending import PENDING_TTL as STATE_TTL   # how long the app keeps a state
from oauthdemo.core.tables import BoundedTable
from oauthdemo.server.authorize import CODE_TTL   # RFC 6749 §4.1.2: a code lives 10 minutes
from oauthdemo.web.html import Markup, partial

CLOCK_LEEWAY = 60     # the ID token check's allowance for clock skew (client.oidc)
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
DEFAULT_PORTS = {"http": 80, "https": 443}

RULES = {   # rule id → the mistake, in a learner's words
    "pkce.mismatch": "the verifier does not hash to the stored challenge",
    "pkce.hex_digest": "the challenge is the hex digest instead of base64url of the 32 bytes",
    "pkce.standard_base64": "the challenge is standard base64 (+ / =) instead of base64url",
    "pkce.challenge_as_verifier": "the challenge was sent as the verifier",
    "pkce.other_login": "a verifier from another login",
    "pkce.missing": "no code_verifier at all",
    "redirect_uri.scheme": "redirect_uri differs in its scheme (http / https)",
    "redirect_uri.host": "redirect_uri differs in its host (localhost / 127.0.0.1)",
    "redirect_uri.port": "redirect_uri differs in its port",
    "redirect_uri.trailing_slash": "redirect_uri differs by a trailing slash",
    "redirect_uri.path": "redirect_uri differs in its path",
    "redirect_uri.other": "redirect_uri differs (query or fragment)",
    "code.redeemed": "the code was redeemed already (double redemption)",
    "code.expired": "the code expired (10 minutes)",
    "code.unknown": "the server does not know the code",
    "state.stale_tab": "a state whose login already finished (a stale tab)",
    "state.expired": "a state older than 10 minutes",
    "state.other_browser": "a state issued to another browser",
    "state.unknown": "a state the app does not hold",
    "clock.iat_future": "a clock that is off: iat in the future",
    "unexplained": "no known mistake matches",
}
PART_WORDS = {"redirect_uri.scheme": "the scheme (http / https)",
              "redirect_uri.host": "the host (localhost and 127.0.0.1 are different strings)",
              "redirect_uri.port": "the port", "redirect_uri.trailing_slash": "a trailing slash",
              "redirect_uri.path": "the path", "redirect_uri.other": "the query or fragment"}


@dataclass(frozen=True)
class Diagnosis:
    """The cause of one failure: a rule id (RULES), and the lines that show it."""
    rule: str
    lines: tuple
    certain: bool = True   # the embedded server's records decided it; False: inferred

    @property
    def title(self) -> str:
        return RULES.get(self.rule, self.rule)


def diagnose(sent: dict, answer, truth=None) -> Diagnosis:
    """Why ``sent`` got ``answer`` (an OAuth2Error or its JSON dict). ``truth``: the embedded
    server's ``auth.inspect.truth(...)`` for this request, or None for another provider."""
    error = error_code(answer)
    for rule in rules_for(error):
        found = rule(sent, truth)
        if found is not None:
            return found
    return Diagnosis("unexplained", (f"The server answered {error}; none of the common "
                                     "mistakes matches what was sent.",), certain=False)


def forensic_html(diagnosis: Diagnosis) -> Markup:
    """One diagnosis for a page: its rule id in ``data-rule`` (what tests assert), escaped."""
    how = ("the server's records say so" if diagnosis.certain
           else "inferred from the request: only the provider knows for sure")
    return partial("forensic.html", rule=diagnosis.rule, certain=str(diagnosis.certain).lower(),
                   title=diagnosis.title[:1].upper() + diagnosis.title[1:], how=how,
                   lines="\n".join(diagnosis.lines))


class UsedStates:
    """The states of logins that finished in this app (as hashes, bounded): so a stale tab's
    replayed callback can be told from a forged one. Display only: the state check itself
    is ``client.pending``'s, and it has run (and refused) before this is asked."""

    def __init__(self, limit: int = 2000):
        self.table = BoundedTable(limit)
        self.lock = threading.Lock()

    def add(self, state: str) -> None:
        with self.lock:
            self.table.put(hashlib.sha256(state.encode()).hexdigest(), True)

    def __contains__(self, state) -> bool:
        if not isinstance(state, str) or not state:
            return False
        with self.lock:
            return hashlib.sha256(state.encode()).hexdigest() in self.table


def refused_login(app, params: dict, browser: str, err) -> Markup:
    """The web app's refused callback, explained on its error page (and in the console)."""
    auth, server = app.flows.latest(browser), app.auth_server
    truth = server.inspect.truth(
        code=params.get("code"), client_id=app.client.provider.client_id,
        verifier=auth.verifier if auth else None, state=params.get("state"),
        redirect_uri=auth.redirect_uri if auth else None
    ) if server is not None else None
    found = diagnose_login(params, err, auth, truth, app.clock(), app.used_states)
    if found is None:
        return Markup("")
    narrate(app.events, "your app", found)
    return forensic_html(found)


def narrate(events, actor: str, found: Diagnosis) -> None:
    """The console's lines: the rule first, then one line per fact (the Narrator wraps)."""
    events.say(actor, f"forensics ({found.rule}): {found.lines[0]}")
    for line in found.lines[1:]:
        events.say(actor, line)


def diagnose_login(params: dict, answer, auth, truth=None, now: float = 0.0, used=()):
    """A normal login's refused callback: ``params`` its query, ``auth`` this browser's latest
    login (an AuthRequest, or None), ``used`` the UsedStates. Returns a Diagnosis, or None
    when no rule applies."""
    error = error_code(answer)
    own = auth is not None and same(params.get("state"), auth.state)
    if error == "invalid_state":
        sent = {"state": params.get("state"),
                "state_used": params.get("state") in used or (own and "id_claims" in auth.trace),
                "state_age": now - auth.created if own else None,
                "other_browser": "different browser" in str(getattr(answer, "description", ""))}
    elif own:
        sent = {"code": params.get("code"), "code_verifier": auth.verifier,
                "redirect_uri": auth.redirect_uri, "code_challenge": auth.challenge}
    else:
        return None
    found = diagnose(sent, answer, truth)
    return None if found.rule == "unexplained" else found


def same(sent, kept) -> bool:
    """Secrets (a state, a verifier) compared in constant time, as the checks themselves
    compare them (pkce.recompute_and_compare, client.pending): copy this, not ``==``."""
    return (isinstance(sent, str) and isinstance(kept, str)
            and hmac.compare_digest(sent.encode("utf-8"), kept.encode("utf-8")))


def error_code(answer) -> str:
    if isinstance(answer, dict):
        return str(answer.get("error") or "")
    return str(getattr(answer, "error", "") or "")


def rules_for(error: str) -> tuple:
    """The rules worth trying for this error code, in the server's own order of checks."""
    if error == "invalid_grant":
        return (code_rule, redirect_rule, pkce_rule)
    if error == "invalid_request":
        return (missing_verifier_rule, encoding_rule, redirect_rule)
    if error == "invalid_state":
        return (state_rule,)
    return (clock_rule, encoding_rule, redirect_rule)


# == PKCE (RFC 7636 §4.2, §4.6) ==================================================================

def encoding_rule(sent: dict, truth) -> Diagnosis | None:
    """At /authorize: a challenge in the wrong encoding (refused as malformed, §4.2)."""
    challenge, verifier = sent.get("code_challenge"), sent.get("code_verifier")
    if not isinstance(challenge, str) or pkce.is_well_formed_challenge(challenge):
        return None
    if isinstance(verifier, str) and verifier:
        digest = pkce.s256_digest(verifier)
        standard = base64.b64encode(digest).decode("ascii")
        if challenge == digest.hex():
            return bad_encoding("pkce.hex_digest", challenge, verifier, True)
        if challenge in (standard, standard.rstrip("=")):
            return bad_encoding("pkce.standard_base64", challenge, verifier, True)
    if HEX_DIGEST.fullmatch(challenge):
        return bad_encoding("pkce.hex_digest", challenge, None, False)
    if any(c in challenge for c in "+/="):
        return bad_encoding("pkce.standard_base64", challenge, None, False)
    return None


ENCODING_WORDS = {
    "pkce.hex_digest": "That is SHA-256 as a hex string. RFC 7636 §4.2 wants BASE64URL of the "
                       "32 bytes themselves: 43 characters, no padding.",
    "pkce.standard_base64": "That is standard base64 (+, / or = padding). RFC 7636 §4.2 wants "
                            "base64url: - and _ instead of + and /, and no = at the end.",
}


def bad_encoding(rule: str, challenge: str, verifier: str | None, certain: bool) -> Diagnosis:
    """The challenge as sent, why it is malformed, and (verifier known) the right one."""
    lines = [f"code_challenge sent: {challenge} ({len(challenge)} characters)",
             ENCODING_WORDS[rule]]
    if verifier:
        lines.append(f"BASE64URL(SHA-256(verifier)) = {pkce.make_challenge(verifier)}")
    return Diagnosis(rule, tuple(lines), certain)


def missing_verifier_rule(sent: dict, truth) -> Diagnosis | None:
    if "code" not in sent or sent.get("code_verifier"):
        return None
    return Diagnosis("pkce.missing", (
        "The token request carries the code but no code_verifier.",
        "RFC 7636 §4.5: the client sends the verifier it made at Step 2; without it the "
        "server cannot check the challenge it stored, so it refuses."))


def pkce_rule(sent: dict, truth) -> Diagnosis | None:
    """At the token endpoint: SHA-256(verifier sent) against the stored challenge (§4.6)."""
    verifier = sent.get("code_verifier")
    if not pkce.is_well_formed_verifier(verifier):
        return None
    stored = truth.code.challenge if truth is not None and truth.code else None
    if stored is None:
        return inferred_pkce(sent, verifier)
    recomputed, ok = pkce.recompute_and_compare(verifier, stored)
    if ok:
        return None
    lines = (f"SHA-256(verifier you sent) = {recomputed}", f"stored challenge = {stored}")
    if same(verifier, stored):
        return Diagnosis("pkce.challenge_as_verifier", lines + (
            "The verifier sent IS the stored challenge: the client sent the hash it had "
            "published instead of the secret it kept (Step 2's code_verifier).",))
    if truth.verifier_of_other_login:
        return Diagnosis("pkce.other_login", lines + (
            "That verifier hashes to the challenge of ANOTHER login this server holds: the "
            "client mixed up two logins (two tabs, a shared variable, a stale cache).",))
    return Diagnosis("pkce.mismatch", lines + (
        "They differ, so the server answers invalid_grant (RFC 7636 §4.6).",))


def inferred_pkce(sent: dict, verifier: str) -> Diagnosis | None:
    """Another provider: only the client's own record of the challenge it sent can tell."""
    own = sent.get("code_challenge")
    if not isinstance(own, str):
        return None
    recomputed, ok = pkce.recompute_and_compare(verifier, own)
    if ok:
        return None
    lines = (f"SHA-256(verifier you sent) = {recomputed}",
             f"challenge this login sent at Step 3 = {own}")
    rule = "pkce.challenge_as_verifier" if same(verifier, own) else "pkce.mismatch"
    return Diagnosis(rule, lines + ("They differ. The provider does not say which check "
                                    "failed; this one would fail anyway.",), certain=False)


# == the code (RFC 6749 §4.1.2, §4.1.3) ============================================================

def code_rule(sent: dict, truth) -> Diagnosis | None:
    """Used, expired or unknown: only the server's records can tell these apart."""
    if "code" not in sent or truth is None:
        return None if "code" not in sent else code_inferred(sent)
    if truth.code is not None and truth.code.used:
        return Diagnosis("code.redeemed", (
            "The server's record of this code says: already redeemed.",
            "RFC 6749 §4.1.2: a code works once; a second try is refused and the tokens "
            "the first one gave are revoked. A common cause: the callback handler runs "
            "twice (React StrictMode runs effects twice in development; a page reload).",))
    if truth.expired_code is not None:
        late = truth.now - truth.expired_code.expires
        return Diagnosis("code.expired", (
            f"The server issued this code, and it expired {late:.0f} s before this request.",
            f"RFC 6749 §4.1.2: codes live {CODE_TTL // 60} minutes at most here; redeem the "
            "code as soon as the callback arrives."))
    if truth.code is None:
        return Diagnosis("code.unknown", (
            "The server has no record of this code: it never issued it, or it expired and "
            "was dropped. Check that the code is passed on unchanged (URL-decoded once).",))
    return None


def code_inferred(sent: dict) -> Diagnosis | None:
    """Another provider: the client's own clock says whether the code was old."""
    age = sent.get("code_age")
    if isinstance(age, (int, float)) and age >= CODE_TTL:
        return Diagnosis("code.expired", (
            f"The code arrived {age:.0f} s before it was redeemed; providers keep codes "
            f"{CODE_TTL // 60} minutes at most (RFC 6749 §4.1.2).",), certain=False)
    if sent.get("code_redeemed_before"):
        return Diagnosis("code.redeemed", (
            "This app already sent this code once: a code works only once (RFC 6749 §4.1.2).",
            "Whether the first try succeeded only the provider knows."), certain=False)
    return None


# == redirect_uri (RFC 6749 §3.1.2.3, §4.1.3) =======================================================

def redirect_rule(sent: dict, truth) -> Diagnosis | None:
    """The redirect_uri sent against the one it must equal, character for character."""
    uri = sent.get("redirect_uri")
    if truth is not None and truth.code is None and truth.redirect_uri_accepted:
        return None   # the client's own check passed it (a native app's port varies, §7.3)
    expected = expected_redirect(sent, truth)
    if not isinstance(uri, str) or not expected or uri in expected:
        return None
    target = closest(uri, expected)
    rule = redirect_difference(uri, target)
    known = truth is not None and (truth.code is not None or truth.redirect_uris)
    return Diagnosis(rule, (f"redirect_uri sent     = {uri}", f"redirect_uri expected = {target}",
                            f"They differ in {PART_WORDS[rule]}; the server compares the "
                            "exact string (RFC 6749 §3.1.2.3)."),
                     certain=bool(known))


def expected_redirect(sent: dict, truth) -> tuple:
    if truth is not None and truth.code is not None:
        return (truth.code.redirect_uri,)   # the token request must repeat Step 3's one
    if truth is not None and truth.redirect_uris:
        return tuple(truth.redirect_uris)
    own = sent.get("registered_redirect_uri")
    return (own,) if own else ()


def closest(uri: str, candidates: tuple) -> str:
    """The registered URI the sent one most resembles (the most equal URL parts)."""
    return max(candidates, key=lambda c: sum(a == b for a, b in zip(url_parts(uri),
                                                                    url_parts(c))))


def url_parts(uri: str) -> tuple:
    parts = urllib.parse.urlsplit(uri)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        port = None
    return parts.scheme, parts.hostname, port, parts.path, parts.query


def redirect_difference(uri: str, expected: str) -> str:
    scheme, host, port, path, _ = url_parts(uri)
    e_scheme, e_host, e_port, e_path, _ = url_parts(expected)
    if scheme != e_scheme:
        return "redirect_uri.scheme"
    if host != e_host:
        return "redirect_uri.host"
    if port != e_port:
        return "redirect_uri.port"
    if path.rstrip("/") == e_path.rstrip("/") and path != e_path:
        return "redirect_uri.trailing_slash"
    return "redirect_uri.path" if path != e_path else "redirect_uri.other"


# == state (RFC 6749 §10.12) and the clock (RFC 7519 §4.1.6) ===========================================

def state_rule(sent: dict, truth) -> Diagnosis | None:
    """The app checks state itself; ``sent`` carries what it knows about this state."""
    if sent.get("other_browser"):
        return Diagnosis("state.other_browser", (
            "This state was issued to a different browser: a callback from someone else's "
            "login (login CSRF, RFC 6749 §10.12), or a link opened in another browser.",))
    if sent.get("state_used"):
        return Diagnosis("state.stale_tab", (
            "This state's login already finished: this is a stale tab (reloaded, or sent "
            "back to the callback) replaying a callback that was used once.",
            "Logins in two tabs each have their own state and both complete; a callback "
            "works once. Start a new login from this tab."))
    age = sent.get("state_age")
    if isinstance(age, (int, float)) and age >= STATE_TTL:
        return Diagnosis("state.expired", (
            f"This tab started its login {age:.0f} s ago; the app keeps a state "
            f"{STATE_TTL // 60} minutes. Start a new login.",))
    waiting = " The server still waits for that login's user." if truth and truth.state_waiting else ""
    return Diagnosis("state.unknown", (
        "The app holds no login with this state: not started here, used, or more than "
        f"{STATE_TTL // 60} minutes old.{waiting}",), certain=False)


def clock_rule(sent: dict, truth) -> Diagnosis | None:
    """An ID token 'issued in the future': the two clocks disagree by more than the leeway."""
    iat, now = sent.get("iat"), sent.get("now")
    if not isinstance(iat, (int, float)) or not isinstance(now, (int, float)):
        return None
    skew = iat - now
    if skew <= CLOCK_LEEWAY:
        return None
    return Diagnosis("clock.iat_future", (
        f"iat = {iat:.0f}, this machine's clock = {now:.0f}: the token was issued {skew:.0f} s "
        f"in the future (allowed: {CLOCK_LEEWAY} s).",
        "One of the two clocks is off. Sync this machine's clock (NTP) rather than widen "
        "the leeway."))
