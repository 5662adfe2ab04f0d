"""The teaching pages: this browser's own login as a sequence diagram, and the attack lab.

The walkthrough page draws RFC 6749 §4.1 (the authorization code grant) with RFC 7636
(PKCE), RFC 9207 (iss) and OpenID Connect Core 1.0 §3.1.3.7 (ID token validation) as
ten numbered arrows, the same ten steps the console narrates. Each arrow opens that
step with the real values of this browser's latest login: they come from the login's
``trace`` (filled by oidc as each step runs) and, when the embedded server is in
use, from that server's own records (the challenge it stored, its PKCE check).

Nothing here checks anything; it shows what the checks did. Every value goes through
``esc``; the pages need no inline script or style, so they work under the strict CSP.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from oauthdemo.teaching import attacks
from oauthdemo.server.authserver import DEMO_USERS
from oauthdemo.web.html import Markup, esc
from oauthdemo.web.httpkit import Response, render
from oauthdemo.core.text import abbreviate
from oauthdemo.core.tables import BoundedTable
from oauthdemo.client.oidc import (ID_TOKEN_ALGORITHMS, PARAM_NOTES, check_status, describe_claim,
                          human_duration)

FLOWS_MAX = 1000          # browsers whose latest login is remembered (oldest evicted)
FLOW_TTL = 8 * 3600       # no longer than a session lives
RFC = "https://www.rfc-editor.org/rfc/"
OIDC_CORE = "https://openid.net/specs/openid-connect-core-1_0.html"
LANES = (("browser", "Browser", "you"), ("app", "Your app", "the OAuth client"),
         ("as", "Authorization server", ""), ("idp", "Identity provider", "Google · GitHub"))
SERVER_NAMES = {"embedded": "Auth0 stand-in", "auth0": "Auth0", "oidc": "OpenID provider"}
CLAIM_TIMES = {"exp": ("expires in {}", "expired {} ago"), "iat": ("issued in {}", "issued {} ago"),
               "auth_time": ("in {}", "you authenticated {} ago"),
               "nbf": ("valid from {} from now", "valid since {} ago")}


@dataclass(frozen=True)
class Step:
    """One arrow of the diagram: the same number as the console's step."""
    number: int
    title: str
    wire: str                # what travels, in protocol terms
    segments: tuple          # ((from_lane, to_lane), ...), lanes 1–4; equal lanes: "thinks"
    explain: str
    specs: tuple             # ((label, url), ...)


STEPS = (
    Step(1, "You click “Start OAuth Login”", "GET /login", ((1, 2),),
         "Your browser asks the app to log you in. The app makes three random values: "
         "state, nonce and the PKCE code_verifier, and remembers them for this browser.",
         (("RFC 6749 §4.1", RFC + "rfc6749#section-4.1"),)),
    Step(2, "The app makes the PKCE secrets", "verifier → SHA-256 → challenge", ((2, 2),),
         "The code_verifier stays in the app. Only its SHA-256 hash, base64url-encoded, "
         "will travel: the code_challenge. Nobody can run SHA-256 backwards.",
         (("RFC 7636 §4.1", RFC + "rfc7636#section-4.1"),
          ("RFC 7636 §4.2", RFC + "rfc7636#section-4.2"))),
    Step(3, "Redirect to the authorization server", "302 → GET /authorize?code_challenge=…",
         ((2, 1), (1, 3)),
         "The app answers with a redirect; your browser carries the request to the "
         "authorization server. It holds the challenge, never the verifier.",
         (("RFC 6749 §4.1.1", RFC + "rfc6749#section-4.1.1"),
          ("RFC 7636 §4.3", RFC + "rfc7636#section-4.3"),
          ("OpenID Connect Core §3.1.2.1", OIDC_CORE + "#AuthRequest"))),
    Step(4, "The server stores the challenge", "code_challenge + S256, kept with the request",
         ((3, 3),),
         "The authorization server checks the client and the exact redirect_uri, then keeps "
         "the code_challenge: the code it will issue is bound to it.",
         (("RFC 7636 §4.4", RFC + "rfc7636#section-4.4"),
          ("RFC 6749 §3.1.2", RFC + "rfc6749#section-3.1.2"))),
    Step(5, "You log in and consent", "Continue with … → who are you? → Allow",
         ((3, 4), (4, 3)),
         "You prove who you are to the identity provider and agree to share. The app never "
         "sees your password or your Google session.",
         (("OpenID Connect Core §3.1.2.3", OIDC_CORE + "#Authenticates"),
          ("§3.1.2.4", OIDC_CORE + "#Consent"))),
    Step(6, "The code comes back", "303 → GET /callback?code=…&state=…&iss=…", ((3, 1), (1, 2)),
         "The server sends your browser back to the app with a one-time code. The app "
         "checks state (its own, for this browser, once) and iss before anything else.",
         (("RFC 6749 §4.1.2", RFC + "rfc6749#section-4.1.2"),
          ("RFC 6749 §10.12", RFC + "rfc6749#section-10.12"),
          ("RFC 9207 §2", RFC + "rfc9207#section-2"))),
    Step(7, "Token request: code + verifier", "POST /oauth/token (server to server)", ((2, 3),),
         "The app redeems the code directly with the server, no browser involved, and "
         "reveals the code_verifier for the first time.",
         (("RFC 6749 §4.1.3", RFC + "rfc6749#section-4.1.3"),
          ("RFC 7636 §4.5", RFC + "rfc7636#section-4.5"))),
    Step(8, "The server's PKCE check", "BASE64URL(SHA-256(verifier)) = stored challenge?",
         ((3, 3),),
         "The server hashes the verifier it just received and compares it with the challenge "
         "it stored in Step 4. Only the app that made the challenge can pass.",
         (("RFC 7636 §4.6", RFC + "rfc7636#section-4.6"),)),
    Step(9, "Tokens arrive; the app verifies the ID token", "200 {access_token, id_token} → JWKS",
         ((3, 2), (2, 2)),
         "The server answers with tokens. Before believing the ID token the app checks its "
         "signature with a key from the provider's JWKS, then iss, aud, exp, iat and nonce.",
         (("RFC 6749 §5.1", RFC + "rfc6749#section-5.1"),
          ("OpenID Connect Core §3.1.3.7", OIDC_CORE + "#IDTokenValidation"),
          ("RFC 7517", RFC + "rfc7517"))),
    Step(10, "Logged in; the protected API", "303 / + session cookie → GET /api/protected",
         ((2, 1), (1, 2)),
         "Your browser gets a session cookie; the tokens stay on the server (the profile "
         "page shows the access token only so you can try the API with curl). The protected "
         "API checks the access token locally, then asks the authorization server whether "
         "it is still active: only the server knows if it was revoked.",
         (("RFC 6750 §2.1", RFC + "rfc6750#section-2.1"),
          ("RFC 7662 §2", RFC + "rfc7662#section-2"))),
)


class LatestFlows:
    """Each browser's most recent login (its AuthRequest), for /walkthrough.

    Keyed by the demo_browser cookie, so a page only ever shows its own browser's flow;
    bounded and expiring, because any visitor can add an entry by opening /login.
    """

    def __init__(self, limit: int = FLOWS_MAX, ttl: int = FLOW_TTL, clock=time.time):
        self.ttl, self.clock = ttl, clock
        self.table = BoundedTable(limit)
        self.lock = threading.Lock()

    def remember(self, browser: str, auth):
        with self.lock:
            self.table.pop(browser, None)     # a new login moves this browser to the newest end
            self.table.put(browser, auth)

    def forget(self, browser: str):
        """On logout: the trace holds the tokens, and they must not outlive the session."""
        with self.lock:
            self.table.pop(browser, None)

    def latest(self, browser: str):
        with self.lock:
            auth = self.table.get(browser) if browser else None
        if auth is not None and self.clock() - auth.created > self.ttl:
            return None
        return auth


@dataclass
class FlowView:
    """What the page knows about one login: its trace, and what the servers recorded."""
    trace: dict
    state: str
    tokens: dict | None      # the live session's tokens (None once logged out)
    now: float
    auth: object | None      # the embedded AuthorizationServer, when in use
    metadata: dict
    reached: frozenset = field(default_factory=frozenset)

    @property
    def params(self) -> dict:
        return self.trace.get("authorize_params", {})


def find_flow(app, browser: str, session) -> FlowView | None:
    """This browser's latest login, else the one its session came from."""
    auth_req = app.flows.latest(browser)
    trace = auth_req.trace if auth_req is not None else (session.trace if session else None)
    if not trace or "authorize_params" not in trace:
        return None
    tokens = session.tokens if session is not None and session.trace is trace else None
    view = FlowView(trace, trace["authorize_params"]["state"], tokens, app.clock(),
                    app.auth_server, app.client.metadata)
    view.reached = reached_steps(view)
    return view


def reached_steps(view: FlowView) -> frozenset:
    t, done = view.trace, {1, 2, 3}
    txn = server_transaction(view)
    if "callback" in t:
        done |= {4, 5, 6}
    elif txn is not None:
        done |= {4, 5} if txn.user else {4}
    if "token_request" in t:
        done.add(7)
    if "token_response" in t or pkce_entry(view):
        done.add(8)
    if "id_claims" in t:
        done.add(9)
    if view.tokens is not None:
        done.add(10)
    return frozenset(done)


# -- what the embedded server recorded (read only) ------------------------------------------

def server_transaction(view: FlowView):
    """The embedded server's stored request for this login, while it waits for the user."""
    if view.auth is None:
        return None
    return view.auth.transaction_for_state(view.state)


def server_code_record(view: FlowView):
    code = view.trace.get("callback", {}).get("code")
    if view.auth is None or not code:
        return None
    return view.auth.code_record(code)


def pkce_entry(view: FlowView) -> dict | None:
    if view.auth is None:
        return None
    return view.auth.pkce_record(view.trace.get("challenge"))


# == small HTML pieces (every value through esc) ============================================

def code(value, cls: str = "wrap", ident: str = "") -> str:
    ident = f' id="{esc(ident)}"' if ident else ""
    return f'<code class="{cls}"{ident}>{esc(value)}</code>'


def rows_table(rows, caption: str = "") -> str:
    """rows: (name, html, note). Names and notes are escaped here; html is ours already."""
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    body = "".join(f'<tr><th scope="row">{esc(name)}</th><td>{html}{note_span(note)}</td></tr>'
                   for name, html, note in rows)
    return f'<div class="table-scroll"><table class="kv">{cap}{body}</table></div>'


def note_span(note: str) -> str:
    return f'<span class="note">{esc(note)}</span>' if note else ""


def token_reveal(token: str | None, held: bool) -> str:
    """A token abbreviated, with the whole of it behind a native disclosure widget."""
    if not token:
        return code("(none)", "")
    short = code(abbreviate(token), "")
    if not held:
        return short + '<span class="note">no longer held: the session has ended</span>'
    return (f'{short}<details class="reveal"><summary>Reveal the whole value</summary>'
            f'{code(token)}</details>')


def utc(ts: float) -> str:
    """<time> for a Unix time: words for people, ISO 8601 for machines."""
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    return f'<time datetime="{iso}">{time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))}</time>'


def when(ts: float | None, now: float) -> str:
    if not isinstance(ts, (int, float)):
        return esc("unknown")
    rel = f"in {human_duration(ts - now)}" if ts > now else f"{human_duration(now - ts)} ago"
    return f'{utc(ts)} <span class="rel">({esc(rel)})</span>'


def claim_value(name: str, value, now: float) -> str:
    """Times get words: 'expires in 9 h 59 min'."""
    if name in CLAIM_TIMES and isinstance(value, (int, float)) and not isinstance(value, bool):
        future, past = CLAIM_TIMES[name]
        words = (future if value > now else past).format(human_duration(value - now))
        return (f'{code(value, "")} <span class="human">{esc(words)}</span>'
                f'<span class="note">{utc(value)}</span>')
    return code(describe_claim(name, value, now))


def pre_lines(lines, cls: str = "") -> str:
    return f'<pre class="wrap {cls}">{esc(chr(10).join(str(x) for x in lines))}</pre>'


def check_list(items) -> str:
    """items: (ok, text). A tick or a cross, with words for screen readers."""
    lis = "".join(f'<li class="{"ok" if ok else "bad"}"><span class="mark" aria-hidden="true">'
                  f'{"✔" if ok else "✘"}</span><span class="visually-hidden">'
                  f'{"passed" if ok else "failed"}: </span>{esc(text)}</li>'
                  for ok, text in items)
    return f'<ul class="checks">{lis}</ul>'


def section(title: str, html: str) -> str:
    return f'<div class="sub"><h4>{esc(title)}</h4>{html}</div>'


# == the ten step details (reached) =============================================================

def detail_login(view: FlowView) -> str:
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


def detail_pkce(view: FlowView) -> str:
    t = view.trace
    digest = t.get("digest_hex", "")
    spaced = " ".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    return (
        '<ol class="pipeline">'
        f'<li class="value"><span class="pipe-label">code_verifier · {len(t["verifier"])} '
        f'characters, 256 random bits, kept by the app</span>{code(t["verifier"], "wrap secret", "pkce-verifier")}</li>'
        '<li class="op">SHA-256 over its ASCII bytes</li>'
        f'<li class="value"><span class="pipe-label">the 32-byte digest, in hex</span>'
        f'{code(spaced, "wrap hex", "pkce-digest")}</li>'
        '<li class="op">BASE64URL, without “=” padding</li>'
        f'<li class="value"><span class="pipe-label">code_challenge · {len(t["challenge"])} '
        f'characters, sent in Step 3</span>{code(t["challenge"], "wrap public", "pkce-challenge")}</li>'
        '</ol><p class="note">The verifier is shown here only because this page teaches. A '
        'real app never sends it to a browser; here it goes only to the token endpoint, in '
        'Step 7.</p>')


def detail_redirect(view: FlowView) -> str:
    endpoint, _, query = view.trace.get("authorize_url", "").partition("?")
    rows = [(name, code(value), PARAM_NOTES.get(name, ""))
            for name, value in view.params.items()]
    return (url_lines("GET", endpoint, query.split("&"))
            + rows_table(rows, "Each parameter, and why it is there"))


def url_lines(method: str, endpoint: str, pairs) -> str:
    """A URL one parameter a line, as a learner reads it."""
    lines = [f"{method} {endpoint}"] + [("  ?" if i == 0 else "  &") + pair
                                         for i, pair in enumerate(p for p in pairs if p)]
    return pre_lines(lines, "url")


def detail_store(view: FlowView) -> str:
    sent = view.trace["challenge"]
    txn, record = server_transaction(view), server_code_record(view)
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


def detail_authenticate(view: FlowView) -> str:
    claims = view.trace.get("id_claims") or {}
    txn = server_transaction(view)
    user = DEMO_USERS.get(txn.user) if txn is not None and txn.user else None
    user = user or next((u for u in DEMO_USERS.values() if u["sub"] == claims.get("sub")), None)
    rows = []
    if user or claims:
        who = (user or claims)
        rows.append(("who", esc(f"{who.get('name') or who.get('sub')} <{who.get('email', '')}>"), ""))
        rows.append(("sub", code((user or claims).get("sub")), "the stable user id"))
    if user:
        rows.append(("connection", esc(user["connection"]), "one click in this demo"))
    rows.append(("scope asked for", code(view.params.get("scope")), "shown on the consent page"))
    return rows_table(rows) + ('<p class="note">Your password, or your Google session, is '
                               'seen only by the authorization server and the identity '
                               'provider. The app will receive a one-time code.</p>')


def detail_callback(view: FlowView) -> str:
    cb = view.trace["callback"]
    notes = {"state": "one this app issued to this browser; now used up",
             "iss": "the issuer the app sent you to (RFC 9207 mix-up defence)",
             "code": "one use, minutes to live, bound to the challenge"}
    rows = [(k, token_reveal(v, True) if k == "code" else code(v), notes.get(k, ""))
            for k, v in cb.items()]
    checks = [(True, "state: issued by this app, to this browser, unused, under 10 minutes")]
    if "iss" in cb:
        checks.append((True, f"iss = {cb['iss']}"))
    pairs = [f"{k}={abbreviate(v).split(' (')[0] if k == 'code' else v}" for k, v in cb.items()]
    return (url_lines("GET", view.params.get("redirect_uri", "/callback"), pairs)
            + rows_table(rows) + check_list(checks))


def detail_token_request(view: FlowView) -> str:
    req = view.trace["token_request"]
    notes = {"code_verifier": "THE SECRET, revealed only now, only to the server",
             "client_secret": "never printed, never shown", "code": "from Step 6"}
    rows = [(k, token_reveal(v, True) if k == "code" else
             code(v, "wrap secret" if k == "code_verifier" else "wrap"), notes.get(k, ""))
            for k, v in req.items()]
    endpoint = view.metadata.get("token_endpoint", "/oauth/token")
    return (pre_lines([f"POST {endpoint}", "Content-Type: application/x-www-form-urlencoded"],
                      "url") + rows_table(rows)
            + '<p class="note">Server to server: this request never passes through your '
              'browser, so nothing in it can leak from there.</p>')


def detail_pkce_check(view: FlowView) -> str:
    entry = pkce_entry(view)
    if entry is None:
        return (rows_table([
            ("code_verifier", code(view.trace["verifier"], "wrap secret"), "sent in Step 7"),
            ("code_challenge", code(view.trace["challenge"], "wrap public"), "sent in Step 3"),
        ]) + '<p class="note">The provider runs this check on its side and does not show '
             'it. Its answer in Step 9, tokens instead of invalid_grant, says it passed.</p>')
    return rows_table([
        ("received code_verifier", code(entry["verifier"], "wrap secret"), ""),
        ("SHA-256 → base64url", code(entry["recomputed"], "wrap public"), "recomputed by the "
                                                                          "server"),
        ("stored code_challenge", code(entry["stored_challenge"], "wrap public"), "from Step 4"),
    ], "The embedded server's own record of the check") + check_list([
        (entry["match"], "equal, compared with hmac.compare_digest (constant time)" if
         entry["match"] else "different: the server answered invalid_grant")])


def detail_tokens(view: FlowView) -> str:
    return (section("Token response", token_response_table(view))
            + section("ID token header", header_table(view))
            + section("ID token claims (verified)", claims_table(view))
            + section("Signature and checks", signature_checks(view)))


# The refresh token is the long-lived credential: it never goes to the browser, not even
# behind a reveal widget on a teaching page (anything in the HTML is in the browser).
NEVER_REVEALED = {"refresh_token": "kept on the server only: it never goes to the browser"}


def token_response_table(view: FlowView) -> str:
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


def header_table(view: FlowView) -> str:
    notes = {"alg": "checked against the app's allowlist, not trusted",
             "kid": "which of the provider's keys signed it"}
    return rows_table([(k, code(v), notes.get(k, ""))
                       for k, v in (view.trace.get("id_header") or {}).items()])


def claims_table(view: FlowView) -> str:
    return rows_table([(k, claim_value(k, v, view.now), "")
                       for k, v in (view.trace.get("id_claims") or {}).items()])


def signature_checks(view: FlowView) -> str:
    kid, jwks = view.trace.get("kid"), view.trace.get("jwks_uri")
    alg = (view.trace.get("id_header") or {}).get("alg")
    items = [(True, f"signature verified ({alg}) with the JWKS key kid={kid}")]
    items += [(True, f"{name}: {detail}") for name, detail in view.trace.get("checks", [])]
    return (f'<p>Key from <code class="wrap">{esc(jwks)}</code>, kid '
            f'<code class="wrap" id="jwks-kid">{esc(kid)}</code>. Allowed algorithms: '
            f'{code(", ".join(ID_TOKEN_ALGORITHMS), "")}; the token\'s own header never picks '
            f'the key or the algorithm.</p>' + check_list(items))


def detail_session(view: FlowView) -> str:
    expires = (view.tokens or {}).get("expires_in")
    return rows_table([
        ("browser holds", code("demo_session", ""), "a random id: HttpOnly, SameSite=Lax"),
        ("server holds", esc("access, ID and refresh tokens"), "never in a URL or in page script"),
        ("access token", esc(f"good for {human_duration(expires)}" if expires else "—"), ""),
    ]) + api_checks(view) + (
        '<p class="actions"><a class="button" href="/api/protected">Call the protected '
        'API</a></p><p class="note">The API takes the session cookie, or '
        '<code>Authorization: Bearer &lt;access_token&gt;</code> from a terminal.</p>')


API_CHECK_NAMES = (("local_jwt", "Checked locally (signature, iss, aud, exp)"),
                   ("authorization_server", "Asked the authorization server (RFC 7662)"))


def api_checks(view: FlowView) -> str:
    """The last API call of this session, both checks side by side: a signature and an exp
    can be fine while the issuer has revoked the token, and only the issuer knows that."""
    checks = view.trace.get("api_checks")
    if not checks:
        return ""
    rows = "".join(api_check_row(key, label, checks.get(key, "—")) for key, label in API_CHECK_NAMES)
    return section("The last call to /api/protected",
                   f'<div class="table-scroll"><table class="kv" id="api-checks">{rows}</table></div>')


def api_check_row(key: str, label: str, said: str) -> str:
    """A passed or failed check gets its mark; one that was not made gets none (no ✔)."""
    status = check_status(said)
    cell = esc(said) if status == "not_checked" else check_list([(status == "passed", said)])
    return (f'<tr data-check="{esc(key)}" data-status="{status}">'
            f'<th scope="row">{esc(label)}</th><td>{cell}</td></tr>')



DETAILS = {1: detail_login, 2: detail_pkce, 3: detail_redirect, 4: detail_store,
           5: detail_authenticate, 6: detail_callback, 7: detail_token_request,
           8: detail_pkce_check, 9: detail_tokens, 10: detail_session}


def peek(number: int, view: FlowView) -> str:
    """A real value on the arrow itself, so the diagram is this login at a glance."""
    t = view.trace
    values = {2: "challenge " + t.get("challenge", "")[:10] + "…",
              6: "code " + abbreviate(t.get("callback", {}).get("code", ""))[:12] + "…",
              8: "✔ match" if "token_response" in t else "",
              9: "kid " + str(t.get("kid") or "")[:10] + "…" if t.get("kid") else ""}
    text = values.get(number, "")
    return f' <span class="peek">{esc(text)}</span>' if text else ""


# == the diagram ==================================================================================

ICONS = {
    "browser": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="M3 9h18"/>'
               '<path d="M6 6.5h.01M8.5 6.5h.01"/>',
    "app": '<rect x="3" y="3" width="18" height="18" rx="3"/><path d="M10 9l-3 3 3 3M14 9l3 3-3 3"/>',
    "as": '<path d="M12 2.5l7.5 3v5.8c0 4.6-3.2 8.4-7.5 10.2-4.3-1.8-7.5-5.6-7.5-10.2V5.5z"/>'
          '<circle cx="12" cy="10.5" r="2"/><path d="M12 12.5v3.5"/>',
    "idp": '<circle cx="12" cy="8" r="3.8"/><path d="M4.5 20.5c.6-4 3.8-6.5 7.5-6.5s6.9 2.5 7.5 6.5"/>',
}


def icon(key: str) -> str:
    return (f'<svg class="icon" viewBox="0 0 24 24" width="28" height="28" fill="none" '
            f'stroke="currentColor" stroke-width="1.8" stroke-linecap="round" '
            f'stroke-linejoin="round" aria-hidden="true" focusable="false">{ICONS[key]}</svg>')


def lane_heads(provider_kind: str) -> str:
    server = SERVER_NAMES.get(provider_kind, "")
    heads = "".join(f'<li class="actor actor-{key}">{icon(key)}<span class="actor-name">'
                    f'{esc(name)}</span><span class="actor-sub">{esc(sub or server)}'
                    f'</span></li>' for key, name, sub in LANES)
    return f'<ol class="actors" aria-label="The four actors">{heads}</ol>'


def segment(a: int, b: int) -> str:
    if a == b:
        return f'<span class="seg self x{a}"></span>'
    direction = "ltr" if b > a else "rtl"
    return f'<span class="seg x{min(a, b)} w{abs(b - a)} {direction}"></span>'


def lanes_text(step: Step) -> str:
    names = [LANES[step.segments[0][0] - 1][1]] + [LANES[b - 1][1] for _, b in step.segments]
    path = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
    return " → ".join(path) if len(path) > 1 else f"{path[0]}, on its own"


def arrow_row(step: Step, view: FlowView | None) -> str:
    n, reached = step.number, view is not None and step.number in view.reached
    sender = LANES[step.segments[0][0] - 1][0]
    segs = "".join(segment(a, b) for a, b in step.segments)
    status = "" if reached else '<span class="visually-hidden"> (not reached yet)</span>'
    return (f'<li class="seq-row {"reached" if reached else "pending"} from-{sender}">'
            f'<a class="step-link" id="arrow-{n}" href="#step-{n}" data-step="{n}" '
            f'aria-controls="step-{n}"><span class="step-text"><span class="badge">'
            f'<span class="visually-hidden">Step </span>{n}</span><span class="step-words">'
            f'<span class="step-title">{esc(step.title)}</span>{status} <code class="wire">'
            f'{esc(step.wire)}</code>{peek(n, view) if reached else ""}</span></span>'
            f'<span class="lanes n{len(step.segments)}" aria-hidden="true">{segs}</span></a></li>')


def diagram(view: FlowView | None, provider_kind: str) -> Markup:
    rows = "".join(arrow_row(step, view) for step in STEPS)
    return Markup(f'<div class="seq">{lane_heads(provider_kind)}'
                  f'<ol class="seq-steps">{rows}</ol></div>')


def not_yet(view: FlowView | None) -> str:
    if view is None:
        return ('<p class="not-yet">Not reached yet: this browser has not started a login. '
                '<a href="/login">Start one</a> and this step fills in with your values.</p>')
    return ('<p class="not-yet">Not reached yet in this login. <a href="'
            f'{esc(view.trace.get("authorize_url", "/login"))}">Continue it at the '
            'authorization server</a>, or <a href="/login">start again</a>.</p>')


def detail_panel(step: Step, view: FlowView | None, current: int) -> str:
    n, reached = step.number, view is not None and step.number in view.reached
    sender = LANES[step.segments[0][0] - 1][0]
    body = DETAILS[n](view) if reached else not_yet(view)
    specs = " ".join(f'<a class="spec" href="{esc(url)}">{esc(label)}</a>'
                     for label, url in step.specs)
    prev_link = (f'<a class="step-nav" href="#step-{n - 1}" data-step="{n - 1}">← Step {n - 1}</a>'
                 if n > 1 else "<span></span>")
    next_link = (f'<a class="step-nav" href="#step-{n + 1}" data-step="{n + 1}">Step {n + 1} →</a>'
                 if n < len(STEPS) else "")
    return (f'<section class="step-detail from-{sender} {"reached" if reached else "pending"}" '
            f'id="step-{n}" aria-labelledby="step-{n}-title" tabindex="-1"'
            f'{"" if n == current else " hidden"}>'
            f'<p class="eyebrow">Step {n} of {len(STEPS)} · {esc(lanes_text(step))}</p>'
            f'<h3 id="step-{n}-title"><span class="badge">{n}</span> {esc(step.title)}</h3>'
            f'<p class="explain">{esc(step.explain)}</p>{body}'
            f'<p class="specs"><span class="specs-label">The rule:</span> {specs}</p>'
            f'<nav class="pager" aria-label="Neighbouring steps">{prev_link}{next_link}</nav>'
            f'</section>')


def flow_status(view: FlowView | None) -> tuple:
    """(headline, lede) for the top of the page."""
    if view is None:
        return ("No login yet in this browser",
                "Every grey arrow below is a step still to come. Start a login and they light "
                "up, one by one, with the real values of your flow.")
    claims = view.trace.get("id_claims") or {}
    if 10 in view.reached:
        return ("Your login, as it happened",
                f"Logged in as {claims.get('name') or claims.get('sub')}. These are the ten "
                "steps that just happened, with the exact values that went over the wire.")
    if 9 in view.reached:
        return ("Your login, as it happened",
                "This login finished; its session has since ended, so the tokens are no "
                "longer held. The values below are what happened.")
    return ("Your login, in progress",
            f"Reached step {max(view.reached)} of {len(STEPS)}. Finish logging in at the "
            "authorization server and the remaining arrows light up.")


def progress(view: FlowView | None) -> Markup:
    done = len(view.reached) if view else 0
    cells = "".join(f'<li class="{"done" if view and s.number in view.reached else "todo"}">'
                    f'</li>' for s in STEPS)
    return Markup(f'<div class="progress"><ol class="progress-bar" aria-hidden="true">{cells}'
                  f'</ol><span class="progress-text">{done} of {len(STEPS)} steps</span></div>')


def opening_step(view: FlowView | None) -> int:
    """The step shown first: the latest one reached; for a finished login, the PKCE secrets."""
    if view is None:
        return 1
    return 2 if 10 in view.reached else max(view.reached)


def walkthrough_page(app, browser: str, session) -> Response:
    view = find_flow(app, browser, session)
    current = opening_step(view)
    headline, lede = flow_status(view)
    provider = app.client.provider
    details = "".join(detail_panel(step, view, current) for step in STEPS)
    start = ("Start OAuth Login (PKCE)" if view is None or 10 not in view.reached
             else "Log in again (a fresh flow)")
    return render("walkthrough.html", title="Your OAuth flow, step by step",
                  headline=headline, lede=lede, progress=progress(view),
                  diagram=diagram(view, provider.kind), details=Markup(details),
                  start_label=start, provider=provider.label, flow=flow_label(view))


def flow_label(view: FlowView | None) -> Markup:
    """The flow tag the console prints beside this login's steps."""
    if view is None:
        return Markup("no login yet")
    return Markup(f'flow <span class="flow">{esc(view.state[:6])}</span>')


# == the attack lab page =========================================================================

def attack_lab_page(app, browser: str) -> Response:
    lab = app.lab
    results = lab.results_for(browser)
    token = lab.form_token(browser)
    cards = "".join(attack_card(spec, results.get(spec.letter), token)
                    for spec in attacks.ATTACKS.values())
    provider = app.client.provider
    return render("attacks.html", title="Attack lab · OAuth 2.0 + PKCE",
                  provider=provider.label, issuer=provider.issuer, cards=Markup(cards),
                  form_token=token, scoreboard=scoreboard(results), summary=summary(results),
                  code_source=Markup(code_source(lab, browser)))


def scoreboard(results: dict) -> Markup:
    ran = [r for r in results.values() if r["ran"]]
    stopped = sum(1 for r in ran if r["rejected"])
    total = len(attacks.ATTACKS)
    if not ran:
        text = f"{total} attacks ready. None run yet in this browser."
    else:
        text = f"{len(ran)} of {total} run · {stopped} stopped"
        if stopped < len(ran):
            text += f" · {len(ran) - stopped} NOT stopped"
    good = " all-stopped" if ran and stopped == len(ran) else ""
    return Markup(f'<p class="scoreboard{good}" id="scoreboard" role="status">{esc(text)}</p>')


def summary(results: dict) -> Markup:
    """The eight attacks at a glance: the slide to show after "Run all"."""
    tiles = []
    for spec in attacks.ATTACKS.values():
        result = results.get(spec.letter)
        if result is None or not result["ran"]:
            kind, status = "idle", "not run yet" if result is None else "needs a code or a login"
        elif result["rejected"]:
            kind, status = "stopped", f"✔\u00a0{result['error']}"
        else:
            kind, status = "through", "✘ NOT stopped"
        tiles.append(f'<li class="tile {kind}"><a href="#attack-{esc(spec.letter)}">'
                     f'<span class="attack-letter" aria-hidden="true">{esc(spec.letter)}</span>'
                     f'<span class="tile-name">{esc(spec.short)}</span>'
                     f'<span class="tile-status">{esc(status)}</span></a></li>')
    return Markup(f'<ol class="lab-summary" id="summary" aria-label="Results at a glance">'
                  f'{"".join(tiles)}</ol>')


def code_source(lab, browser: str) -> str:
    waiting = lab.codes_waiting(browser)
    link = (f'<a class="button" href="/login?intercept={esc(attacks.INTERCEPT_FLAG)}">'
            'Log in and let the lab intercept the code</a>')
    letters = [a.letter for a in attacks.ATTACKS.values() if a.needs == "code"]
    need = f"Attacks {', '.join(letters[:-1])} and {letters[-1]} need an authorization code nobody has redeemed."
    if lab.embedded:
        text = (f"{need} The lab gets one the way an attacker would: it drives a login at the "
                "embedded server as Alice and keeps the code from the redirect before the app "
                "can use it.")
    else:
        text = (f"{need} Log in with interception: the app checks the callback's state as "
                "usual, then leaves the code to the lab instead of redeeming it. One login, "
                "one code.")
    return (f'<p>{esc(text)}</p><p class="actions">{link} <span class="pill">'
            f'{esc(waiting)} intercepted code{"" if waiting == 1 else "s"} waiting</span></p>')


def attack_card(spec, result: dict | None, token: str) -> str:
    letter = esc(spec.letter)
    outcome = result_html(result) if result else ('<p class="verdict idle">Not run yet.</p>')
    return (f'<article class="attack card" id="attack-{letter}" aria-labelledby="attack-{letter}-title">'
            f'<header class="attack-head"><span class="attack-letter" aria-hidden="true">{letter}'
            f'</span><h2 id="attack-{letter}-title"><span class="visually-hidden">Attack '
            f'{letter}: </span>{esc(spec.title)}</h2></header>'
            f'<p><strong>The attacker tries:</strong> {esc(spec.tries)}</p>'
            f'<p><strong>What should stop it:</strong> {esc(spec.defence)} '
            f'<a class="spec" href="{esc(spec.rule_url)}">{esc(spec.rule_label)}</a></p>'
            f'<form method="post" action="/attacks/run" class="attack-run" data-attack="{letter}">'
            f'<input type="hidden" name="attack" value="{letter}">'
            f'<input type="hidden" name="form_token" value="{esc(token)}">'
            f'<button type="submit" class="button danger">Run attack ({letter})</button></form>'
            f'<div class="attack-result" id="result-{letter}" tabindex="-1" aria-live="polite">'
            f'{outcome}</div></article>')


def result_html(result: dict) -> str:
    if not result["ran"]:
        action = {"intercept": f'<a href="/login?intercept={esc(attacks.INTERCEPT_FLAG)}">Log '
                               'in and let the lab intercept the code</a>',
                  "login": '<a href="/login">Log in</a>'}.get(result.get("action"), "")
        return f'<p class="verdict needs">{esc(result["stopped_by"])} {action}</p>'
    facts = [("What came back", response_html(result["response"])),
             ("What stopped it", esc(result["stopped_by"])),
             ("The rule", f'<a class="spec" href="{esc(result["rule_url"])}">'
                          f'{esc(result["rule_label"])}</a> {esc(result["rule"])}')]
    facts += [(x["label"], revocation_tag(x) + response_html(x)) for x in result.get("extra", [])]
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    sent = (f'<details class="sent"><summary>What the attacker sent</summary><p>'
            f'{esc(result["tried"])}</p>{pre_lines(result["sent"])}</details>')
    return f'{verdict_html(result)}<dl class="facts">{rows}</dl>{sent}'


def revocation_tag(check: dict) -> str:
    """Only a 200 means the token still works; another failure (a 502) proves nothing."""
    if check["revoked"]:
        return '<p class="tag ok">✔ revoked</p>'
    if check.get("works", True):
        return '<p class="tag bad">✘ still works</p>'
    return '<p class="tag">no answer about it</p>'


def verdict_html(result: dict) -> str:
    resp = result["response"]
    if not result["rejected"]:
        return ('<p class="verdict accepted"><span class="mark" aria-hidden="true">✘</span> '
                'NOT stopped: the attack went through</p>')
    raised = f' · {esc(resp["raised"])}' if resp.get("raised") else ""
    raised += " redirect, the error in its query" if resp.get("location") else ""
    return (f'<p class="verdict rejected"><span class="mark" aria-hidden="true">✔</span> '
            f'Stopped: <code>{esc(result["error"])}</code> · HTTP {esc(resp.get("status"))}'
            f'{raised}</p>')


def response_html(resp: dict) -> str:
    lines = [f'{resp.get("request", "")} → HTTP {resp.get("status")}']
    if resp.get("raised"):
        lines.append(f"raised {resp['raised']}")
    if resp.get("location"):
        lines.append(f"Location: {resp['location']}")
    body = json.dumps(resp.get("body", {}), indent=2, ensure_ascii=False)
    return pre_lines(lines + [body], "response")
