"""The walkthrough's ten step panels, filled with one login's real values.

Each ``detail_*`` function shows what one step (``core.steps.Step``) did in this browser's
latest login: the values from the login's trace and, with the embedded server, that
server's own records (read-only, through the ``FlowView``). Nothing here checks anything;
it shows what the checks did. Every value is escaped (``web.html.Markup``).
"""
from __future__ import annotations

import re

from oauthdemo.client.explain import PARAM_NOTES, check_status, describe_claim, human_duration
from oauthdemo.client.jwks import ID_TOKEN_ALGORITHMS
from oauthdemo.client.oidc import (CALLBACK_ISS_WHY, CLAIM_SHORT, CLAIM_WHY, CLAIMS_CHECKED,
                                   DISCOVERY_PATH, NO_AZP, NONCE_MATCHED)
from oauthdemo.core.steps import OIDC_CORE, RFC, Step
from oauthdemo.core.text import abbreviate
from oauthdemo.server.users import DEMO_USERS
from oauthdemo.teaching.fragments import (NOTHING, check_item, check_list, code, note, pre_lines,
                                          request_block, rows_table, section, utc, when)
from oauthdemo.web.html import Markup, partial

# A time claim's age, relative to now (as this page is drawn); the checks below say their
# own age, relative to the moment the app checked the token.
CLAIM_TIMES = {"exp": ("expires in {}", "expired {} ago"),
               "iat": ("issued in {}", "issued {} before this page was drawn"),
               "auth_time": ("in {}", "you authenticated {} before this page was drawn"),
               "nbf": ("valid from {} from now", "valid since {} ago")}
# The profile marks Step 9's checks, all of them: the signature, then each claim's (short).
PROFILE_CHECKS = {"signature": "the provider signed it, not the token's own say", **CLAIM_SHORT}
DURATION_UNIT = re.compile(r"(\d) (s|min|h|d)\b")   # a number and its unit, kept together
# The refresh token is the long-lived credential: it never goes to the browser, not even
# behind a reveal widget on a teaching page (anything in the HTML is in the browser).
NEVER_REVEALED = {"refresh_token": "kept on the server only: it never goes to the browser"}
# A refused login, by its RFC error code: the error page's title, what the code means (one
# sentence), and where to read more: the attack card that provokes it, and the rule.
FAILURES = {
    "access_denied": (
        "You denied access",
        "The user, or the authorization server, refused at consent: the server sent the "
        "browser back with this error instead of a code, so nothing was shared.",
        (("RFC 6749 §4.1.2.1", RFC + "rfc6749#section-4.1.2.1"),)),
    "invalid_state": (
        "This callback was refused",
        "The callback's state is not one this app issued to this browser, unused and under "
        "10 minutes old: a forged (login CSRF), replayed or stale callback is refused before "
        "its code is used.",
        (("Attack (d): a forged callback", "/attacks#attack-d"),
         ("RFC 6749 §10.12", RFC + "rfc6749#section-10.12"))),
    "invalid_issuer": (
        "The callback names another server",
        "The callback's iss is not the authorization server this login went to, so the code "
        "may come from another server (a mix-up attack).",
        (("RFC 9207 §2.4", RFC + "rfc9207#section-2.4"),)),
    "invalid_grant": (
        "The code was refused at the token endpoint",
        "The authorization server would not trade the code for tokens: the code_verifier did "
        "not hash to the stored code_challenge, or the code was used, expired or issued for "
        "another redirect_uri.",
        (("Attack (b): a guessed verifier", "/attacks#attack-b"),
         ("RFC 7636 §4.6", RFC + "rfc7636#section-4.6"))),
    "invalid_token": (
        "The ID token failed validation",
        "The ID token's signature, algorithm or a claim (iss, aud, exp, iat, nonce) did not "
        "check out, so the app believed none of it and made no session.",
        (("Attack (g): an ID token with one claim changed", "/attacks#attack-g"),
         ("OpenID Connect Core §3.1.3.7", OIDC_CORE + "#IDTokenValidation"))),
}
FAILURE_DEFAULT = ("The login was refused",
                   "The app stopped this login here and made no session.",
                   (("RFC 6749 §5.2", RFC + "rfc6749#section-5.2"),))
API_CHECK_NAMES = (("local_jwt", "Checked locally (signature, iss, aud, exp, iat)"),
                   ("authorization_server", "Asked the authorization server (RFC 7662)"))


def token_reveal(token: str | None, held: bool) -> Markup:
    """A token abbreviated, with the whole of it behind a native disclosure widget."""
    if not token:
        return code("(none)", "")
    short = code(abbreviate(token), "")
    if not held:
        return short + Markup('<span class="note">no longer held: the session has ended</span>')
    return short + partial("walk_reveal.html", token=code(token))


def claim_value(name: str, value, now: float) -> Markup:
    """Times get words: 'expires in 9 h 59 min'."""
    if name in CLAIM_TIMES and isinstance(value, (int, float)) and not isinstance(value, bool):
        future, past = CLAIM_TIMES[name]
        words = (future if value > now else past).format(human_duration(value - now))
        return partial("walk_time_claim.html", value=code(value, ""), words=words, date=utc(value))
    return code(describe_claim(name, value, now))


def url_lines(method: str, endpoint: str, pairs) -> Markup:
    """A URL one parameter a line, as a learner reads it."""
    params = [("?" if i == 0 else "&") + pair for i, pair in enumerate(p for p in pairs if p)]
    return request_block([f"{method} {endpoint}"], params)


# == a refused login =============================================================================

def failure_words(error: str) -> tuple:
    """(title, meaning) for a refused login's error code."""
    title, meaning, _ = FAILURES.get(error, FAILURE_DEFAULT)
    return title, meaning


def failure_links(error: str) -> Markup:
    return Markup(" ").join(Markup('<a class="spec" href="{}">{}</a>').format(url, label)
                            for label, url in FAILURES.get(error, FAILURE_DEFAULT)[2])


def failure_box(failure: dict) -> Markup:
    """The refusal drawn at its step: the code, what it means, the error's own words."""
    return partial("walk_failure.html", error=failure["error"],
                   meaning=failure_words(failure["error"])[1],
                   description=note(failure["description"]) if failure["description"]
                   else NOTHING, links=failure_links(failure["error"]))


# Issue 12: each panel points at its own hops in the HTTP log below it. Two steps have no hop
# of their own: the server stores the challenge (Step 4) while answering Step 3's GET
# /authorize, and the PKCE check (Step 8) is made inside the token request's answer.
HOPS_SHOWN_AT = {Step.CHALLENGE_STORED: Step.REDIRECT, Step.PKCE_CHECK: Step.TOKEN_REQUEST}


def http_link(step: Step, view) -> Markup:
    """A link to this step's hops (#http-step-N), when this login's log has any."""
    at = HOPS_SHOWN_AT.get(step, step)
    count = view.http_steps.get(at.number)
    if not count:
        return NOTHING
    hops = f"{count} HTTP hop{'s' if count > 1 else ''}"
    words = (f"The raw HTTP of this step: its {hops}" if at is step
             else f"The raw HTTP: it travels in {at.label}’s {hops}")
    return partial("walk_http_link.html", n=at.number, words=words)


def with_http_link(step: Step, detail):
    return lambda view: detail(view) + http_link(step, view)


def failed_detail(step: Step, view) -> Markup:
    """A refused step: the refusal, then what this login did get as far as that step."""
    shown = {Step.TOKEN_REQUEST: detail_token_request, Step.PKCE_CHECK: detail_pkce_check,
             Step.ID_TOKEN: lambda v: (section("Token response", token_response_table(v))
                                       + section("Where the keys come from", key_sources(v)))}
    more = shown.get(step)
    return failure_box(view.failure) + (more(view) if more else NOTHING) + http_link(step, view)


# == Steps 1–3: your app starts the login ======================================================

def detail_login(view) -> Markup:
    p = view.params
    return rows_table([
        ("request", code("GET /login"), "a plain link: nothing secret has happened yet"),
        ("started", when(view.trace.get("started"), view.now), ""),
        ("state", code(p.get("state")), "anti-CSRF: single use, 10 minutes, bound to this "
                                        "browser by the HttpOnly demo_browser cookie"),
        ("nonce", code(p.get("nonce")), "must come back inside the ID token (Step 9)"),
        ("flow tag", code(view.state[:6], "", "flow-tag"), "the console tags this login's "
                                                         "lines with it"),
    ])


def detail_pkce(view) -> Markup:
    t = view.trace
    digest = t.get("digest_hex", "")
    return partial("walk_pkce.html", verifier_length=len(t["verifier"]),
                   verifier=code(t["verifier"], "wrap secret", "pkce-verifier"),
                   digest=code(" ".join(digest[i:i + 2] for i in range(0, len(digest), 2)),
                               "wrap hex", "pkce-digest"),
                   challenge_length=len(t["challenge"]),
                   challenge=code(t["challenge"], "wrap public", "pkce-challenge"))


def detail_redirect(view) -> Markup:
    endpoint, _, query = view.trace.get("authorize_url", "").partition("?")
    rows = [(name, code(value), PARAM_NOTES.get(name, ""))
            for name, value in view.params.items()]
    if "par" in view.trace:
        return detail_pushed(view, endpoint, query, rows)
    return (url_lines("GET", endpoint, query.split("&"))
            + rows_table(rows, "Each parameter, and why it is there"))


def detail_pushed(view, endpoint: str, query: str, rows: list) -> Markup:
    """RFC 9126: Step 3 as a back-channel POST; the browser's URL carries two parameters."""
    pushed = view.trace["par"]
    return (pre_lines([f"POST {pushed['endpoint']}"] + [f"  {name}={value}" for name, value
                                                         in view.params.items()], "url")
            + rows_table(rows, "Pushed server to server (RFC 9126): no browser sees these")
            + rows_table([("request_uri", code(pushed["request_uri"]),
                           "the server's answer (201): one use, for this client only"),
                          ("expires_in", code(pushed.get("expires_in")), "seconds")],
                         "What the server answered")
            + url_lines("GET", endpoint, query.split("&"))
            + note("The browser's URL carries only client_id and request_uri: a parameter "
                   "changed there cannot change the pushed request."))


# == Steps 4–6: at the authorization server, and back ===========================================

def detail_store(view) -> Markup:
    sent = view.trace["challenge"]
    txn, record = view.transaction, view.code_record
    stored = (txn.challenge if txn else record.challenge if record else None)
    if stored is None:
        return rows_table([
            ("code_challenge", code(sent, "wrap public"), "as sent in Step 3; the provider "
                                                          "keeps it with the request (its "
                                                          "storage is not visible from here)"),
            ("method", code("S256", ""), "")])
    where = "this login's pending request" if txn else "the code it issued"
    return rows_table([
        ("stored challenge", code(stored, "wrap public"),
         f"read from the embedded server's record of {where}"),
        ("method", code("S256", ""), "'plain' is refused: it would be the verifier itself"),
        ("client_id", code(view.params.get("client_id")), "registered"),
        ("redirect_uri", code(view.params.get("redirect_uri")), "matches a registered URI "
                                                                 "exactly"),
    ]) + check_list([(stored == sent, "the stored challenge is the one your app sent")])


def detail_authenticate(view) -> Markup:
    claims = view.trace.get("id_claims") or {}
    txn = view.transaction
    user = DEMO_USERS.get(txn.user) if txn is not None and txn.user else None
    user = user or next((u for u in DEMO_USERS.values() if u["sub"] == claims.get("sub")), None)
    rows = []
    if user or claims:
        who = user or claims
        rows.append(("who", f"{who.get('name') or who.get('sub')} <{who.get('email', '')}>", ""))
        rows.append(("sub", code(who.get("sub")), "the stable user id"))
    if user:
        rows.append(("connection", user["connection"], "one click in this demo"))
    rows.append(("scope asked for", code(view.params.get("scope")), "shown on the consent page"))
    return rows_table(rows) + note("Your password, or your Google session, is seen only by the "
                                   "authorization server and the identity provider. The app "
                                   "will receive a one-time code.")


def detail_callback(view) -> Markup:
    cb = view.trace["callback"]
    notes = {"state": "one this app issued to this browser; now used up",
             "iss": "the issuer the app sent you to (RFC 9207 mix-up defence)",
             "code": "one use, minutes to live, bound to the challenge"}
    rows = [(k, token_reveal(v, True) if k == "code" else code(v), notes.get(k, ""))
            for k, v in cb.items()]
    checks = [(True, "state: issued by this app, to this browser, unused, under 10 minutes")]
    if "iss" in cb:
        checks.append((True, f"iss = {cb['iss']} (RFC 9207) — {CALLBACK_ISS_WHY}"))
    pairs = [f"{k}={abbreviate(v).split(' (')[0] if k == 'code' else v}" for k, v in cb.items()]
    return (url_lines("GET", view.params.get("redirect_uri", "/callback"), pairs)
            + rows_table(rows) + check_list(checks))


# == Steps 7–9: the token exchange ================================================================

def detail_token_request(view) -> Markup:
    req = view.trace["token_request"]
    notes = {"code_verifier": "THE SECRET, revealed only now, only to the server",
             "client_secret": "never printed, never shown", "code": "from Step 6"}
    rows = [(k, token_reveal(v, True) if k == "code" else
             code(v, "wrap secret" if k == "code_verifier" else "wrap"), notes.get(k, ""))
            for k, v in req.items()]
    endpoint = view.metadata.get("token_endpoint", "/oauth/token")
    return (pre_lines([f"POST {endpoint}", "Content-Type: application/x-www-form-urlencoded"],
                      "url") + rows_table(rows)
            + note("Server to server: this request never passes through your browser, so "
                   "nothing in it can leak from there."))


def detail_pkce_check(view) -> Markup:
    entry = view.pkce
    if entry is None:
        return rows_table([
            ("code_verifier", code(view.trace["verifier"], "wrap secret"), "sent in Step 7"),
            ("code_challenge", code(view.trace["challenge"], "wrap public"), "sent in Step 3"),
        ]) + note("The provider runs this check on its side and does not show it. Its answer "
                  "in Step 9, tokens instead of invalid_grant, says it passed.")
    return rows_table([
        ("received code_verifier", code(entry.verifier, "wrap secret"), ""),
        ("SHA-256 → base64url", code(entry.recomputed, "wrap public"), "recomputed by the "
                                                                          "server"),
        ("stored code_challenge", code(entry.stored_challenge, "wrap public"), "from Step 4"),
    ], "The embedded server's own record of the check") + check_list([
        (entry.match, "equal, compared with hmac.compare_digest (constant time)" if
         entry.match else "different: the server answered invalid_grant")])


def detail_tokens(view) -> Markup:
    # The checks first (the trial: a learner hunted 1,300 px for them), then what they read.
    return (section("Your app's checks: the signature, then each claim", signature_checks(view))
            + section("ID token claims (verified)", claims_table(view))
            + section("ID token header", header_table(view))
            + section("Token response", token_response_table(view))
            + section("Where the keys come from", key_sources(view)))


def token_response_table(view) -> Markup:
    resp, held = view.trace.get("token_response", {}), view.tokens is not None
    rows = []
    for name, value in resp.items():
        if name in NEVER_REVEALED:
            rows.append((name, code(abbreviate(value), ""), NEVER_REVEALED[name]))
        elif name.endswith("_token"):
            rows.append((name, token_reveal(value, held), ""))
        elif name == "expires_in" and isinstance(value, int):
            rows.append((name, code(value, ""), f"seconds: {human_duration(value)}"))
        else:
            rows.append((name, code(value), ""))
    return rows_table(rows)


def key_sources(view) -> Markup:
    """The two fetches behind the signature check: discovery names the JWKS, the JWKS holds
    the public keys (the private half never leaves the server)."""
    issuer = str(view.metadata.get("issuer", "")).rstrip("/")
    jwks = view.trace.get("jwks_uri") or view.metadata.get("jwks_uri", "")
    return rows_table([
        ("1 · discovery", link_code("GET", issuer + DISCOVERY_PATH),
         "read at start-up: names the issuer, the endpoints and the jwks_uri"),
        ("2 · JWKS", link_code("GET", jwks),
         "the server's public keys; it signs with the private half, which never leaves it"),
    ], "Two fetches before any signature is checked (OpenID Connect Discovery §4, RFC 7517)")


def link_code(method: str, url: str) -> Markup:
    """A URL the learner can open; only http(s) ones become links (a provider's document
    chose them)."""
    if not url.startswith(("https://", "http://")):
        return code(f"{method} {url}")
    return Markup('<code class="wrap">{} <a href="{}">{}</a></code>').format(method, url, url)


def header_table(view) -> Markup:
    notes = {"alg": "checked against the app's allowlist, not trusted",
             "kid": "only names which key of the provider's own published JWKS to try"}
    return rows_table([(k, code(v), notes.get(k, ""))
                       for k, v in (view.trace.get("id_header") or {}).items()])


def claims_table(view) -> Markup:
    return rows_table([(k, claim_value(k, v, view.now), claim_mark(k))
                       for k, v in (view.trace.get("id_claims") or {}).items()])


def profile_claim_rows(claims: dict, now: float) -> Markup:
    """The profile's "ID token claims (verified)": Step 9's checks first, in its order (the
    signature, then CLAIMS_CHECKED, an absent azp said so), then the claims merely present."""
    checked = [("signature", "verified with a key from the provider's JWKS")] + [
        (k, describe_claim(k, claims[k], now) if k in claims else NO_AZP)
        for k in CLAIMS_CHECKED if k in claims or k == "azp"]
    present = [(k, describe_claim(k, v, now)) for k, v in claims.items() if k not in CLAIM_SHORT]
    return NOTHING.join(kv_row(k, Markup('<code class="wrap">{}</code>').format(whole_units(said)),
                               claim_mark(k)) for k, said in checked + present)


def kv_row(name: str, value, mark) -> Markup:
    """One row of a key/value table (the shared walk_kv_row.html), its mark after the value."""
    return partial("walk_kv_row.html", name=name, value=value, note=Markup(" {}").format(mark))


def whole_units(text: str) -> str:
    """'0 s ago' never wraps between the 0 and its s (the UI review, at 360 px)."""
    return DURATION_UNIT.sub("\\1\u00a0\\2", text)


def claim_mark(name: str) -> Markup:
    """Which claims the app checked (and why, short) and which are merely present."""
    if name in PROFILE_CHECKS:
        return Markup('<span class="note" data-claim-checked="{}">checked: {}</span>').format(
            name, PROFILE_CHECKS[name])
    return Markup('<span class="note" data-claim-present="{}">present, not checked</span>'
                  ).format(name)


def signature_checks(view) -> Markup:
    kid, jwks = view.trace.get("kid"), view.trace.get("jwks_uri")
    alg = (view.trace.get("id_header") or {}).get("alg")
    signature = check_item(True, f"signature verified ({alg}) with the JWKS key kid={kid}")
    rows = Markup('<ul class="checks" data-checked-by="app">{}</ul>').format(signature + NOTHING.join(
        claim_check(name, detail) for name, detail in view.trace.get("checks", [])))
    return partial("walk_signature.html", jwks_uri=jwks, kid=kid,
                   algorithms=code(", ".join(ID_TOKEN_ALGORITHMS), ""), checks=rows)


def claim_check(name: str, detail: str) -> Markup:
    """One claim's check, with what it protects against: the same words the console prints
    (which says no why for a nonce that was not sent, so none was matched)."""
    why = CLAIM_WHY.get(name, "")
    if name == "nonce" and detail != NONCE_MATCHED:
        why = ""
    return partial("walk_claim_check.html", claim=name, detail=detail,
                   has_why="yes" if why else "no", why=f" — {why}" if why else "")


# == Step 10: the session and the protected API ======================================================

def detail_session(view) -> Markup:
    expires = (view.tokens or {}).get("expires_in")
    return rows_table([
        ("browser holds", code("demo_session", ""), "a random id: HttpOnly, SameSite=Lax"),
        ("server holds", "access, ID and refresh tokens", "never in a URL or in page script"),
        ("access token", f"good for {human_duration(expires)}" if expires else "—", ""),
    ]) + api_checks(view) + partial("walk_session_api.html")


def api_checks(view) -> Markup:
    """The last API call of this session, both checks side by side: a signature and an exp
    can be fine while the issuer has revoked the token, and only the issuer knows that."""
    checks = view.trace.get("api_checks")
    if not checks:
        return NOTHING
    rows = NOTHING.join(api_check_row(key, label, checks.get(key, "—"))
                        for key, label in API_CHECK_NAMES)
    return section("The last call to /api/protected", partial("walk_api_checks.html", rows=rows))


def api_check_row(key: str, label: str, said: str) -> Markup:
    """A passed or failed check gets its mark; one that was not made gets none (no ✔)."""
    status = check_status(said)
    cell = said if status == "not_checked" else check_list([(status == "passed", said)])
    return partial("walk_api_check.html", key=key, status=status, label=label, cell=cell)


DETAILS = {step: with_http_link(step, detail) for step, detail in {
    Step.LOGIN: detail_login, Step.PKCE_SECRETS: detail_pkce,
    Step.REDIRECT: detail_redirect, Step.CHALLENGE_STORED: detail_store,
    Step.AUTHENTICATION: detail_authenticate, Step.CALLBACK: detail_callback,
    Step.TOKEN_REQUEST: detail_token_request, Step.PKCE_CHECK: detail_pkce_check,
    Step.ID_TOKEN: detail_tokens, Step.PROTECTED_API: detail_session}.items()}


# == Step 10 as a page: the protected API's JSON answer, field by field =======================

# validated_by in the API's answer: how the API knew the access token (client.resource).
VALIDATED_BY = {
    "jwt": "jwt: the API verified the JWT itself (signature with a JWKS key, iss, aud, exp, iat)",
    "userinfo": "userinfo: not a JWT for this API, so the API asked the provider's userinfo "
                "endpoint whose token it is (OIDC Core §5.3)"}


def api_field_rows(fields) -> Markup:
    """(name, value) of each leaf of the answer: the value, and what it means."""
    fields = list(fields)
    values = dict(fields)
    return NOTHING.join(kv_row(name, api_value(name, value), api_field_note(name, value, values))
                        for name, value in fields)


def api_value(name: str, value) -> Markup:
    """A sub wraps at its "|" (provider|id) or not at all; other values as usual."""
    if name == "user.sub" and isinstance(value, str):
        return Markup('<code class="keep-whole">{}</code>').format(
            Markup("|<wbr>").join(value.split("|")))
    return code(value)


def api_field_note(name: str, value, values: dict) -> Markup:
    if name == "expires_at" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return Markup('<span class="note" data-field="expires_at">{} (a Unix time)</span>'
                      ).format(utc(value))
    if name != "validated_by":
        return NOTHING
    ran = [VALIDATED_BY.get(value, str(value))]
    if "checks.authorization_server" in values:
        ran.append("it also asked the authorization server whether the token is still active "
                   "(introspection, RFC 7662)")
    return Markup('<span class="note" data-field="validated_by" data-ran="{}">{}</span>').format(
        " ".join(k.split(".")[1] for k in values if k.startswith("checks.")), "; ".join(ran))
