"""The walkthrough's sequence diagram: RFC 6749 §4.1 with PKCE (RFC 7636) as ten arrows.

Each arrow is one ``core.steps.Step``, so it carries the console's number and title; this
module adds what a picture needs: who talks to whom (lanes), what travels on the wire, and
a learner's explanation. Each arrow opens its step's panel (``teaching.details``). The
markup lives in templates/partials/walk_*.html.

Two back-channel fetches are drawn as arrows of their own, the app asking the server and the
server answering (OpenID Connect Discovery §4, RFC 7517): discovery, "Before the login" (the
app reads it at start-up), and the JWKS fetch where it really happened: before this login
(a cached set) or during its Step 9. Each is a link to the URL it fetched.
"""
from __future__ import annotations

from dataclasses import dataclass

from oauthdemo.client.oidc import CLAIMS_CHECKED, discovery_url
from oauthdemo.core.steps import STEP_COUNT, THE_TEN, Step
from oauthdemo.core.text import abbreviate
from oauthdemo.teaching.details import DETAILS, failed_detail
from oauthdemo.teaching.fragments import NOTHING
from oauthdemo.web.html import Markup, partial

LANES = (("browser", "Browser", "you"), ("app", "Your app", "the OAuth client"),
         ("as", "Authorization server", ""), ("idp", "Identity provider", "Google · GitHub"))
SERVER_NAMES = {"embedded": "Auth0 stand-in", "auth0": "Auth0", "oidc": "OpenID provider"}
BACK_CHANNEL = ((2, 3), (3, 2))   # the app asks the server, the server answers: no browser
BEFORE_THE_LOGIN = "Before the login"


@dataclass(frozen=True)
class Arrow:
    """One step drawn as an arrow: what travels, between which lanes, and why."""
    lead: str                # the step in a learner's words, as the arrow is clicked
    wire: str                # what travels, in protocol terms
    segments: tuple          # ((from_lane, to_lane), ...), lanes 1–4; equal lanes: "thinks"
    explain: str

    @property
    def sender(self) -> str:
        return LANES[self.segments[0][0] - 1][0]


ARROWS = {
    Step.LOGIN: Arrow(
        "You click “Start OAuth Login”", "GET /login", ((1, 2),),
        "Your browser asks the app to log you in. The app makes three random values: "
        "state, nonce and the PKCE code_verifier, and remembers them for this browser."),
    Step.PKCE_SECRETS: Arrow(
        "The app makes the PKCE secrets", "verifier → SHA-256 → challenge", ((2, 2),),
        "The code_verifier stays in the app. Only its SHA-256 hash, base64url-encoded, "
        "will travel: the code_challenge. Nobody can run SHA-256 backwards."),
    Step.REDIRECT: Arrow(
        "Redirect to the authorization server", "302 → GET /authorize?code_challenge=…",
        ((2, 1), (1, 3)),
        "The app answers with a redirect; your browser carries the request to the "
        "authorization server. It holds the challenge, never the verifier."),
    Step.CHALLENGE_STORED: Arrow(
        "The server stores the challenge", "code_challenge + S256, kept with the request",
        ((3, 3),),
        "The authorization server checks the client and the exact redirect_uri, then keeps "
        "the code_challenge: the code it will issue is bound to it."),
    Step.AUTHENTICATION: Arrow(
        "You log in and consent", "Continue with … → who are you? → Allow", ((3, 4), (4, 3)),
        "You prove who you are to the identity provider and agree to share. The app never "
        "sees your password or your Google session."),
    Step.CALLBACK: Arrow(
        "The code comes back", "303 → GET /callback?code=…&state=…&iss=…", ((3, 1), (1, 2)),
        "The server sends your browser back to the app with a one-time code. The app "
        "checks state (its own, for this browser, once) and iss before anything else."),
    Step.TOKEN_REQUEST: Arrow(
        "Token request: code + verifier", "POST /oauth/token (server to server)", ((2, 3),),
        "The app redeems the code directly with the server, no browser involved, and "
        "reveals the code_verifier for the first time."),
    Step.PKCE_CHECK: Arrow(
        "The server's PKCE check", "BASE64URL(SHA-256(verifier)) = stored challenge?", ((3, 3),),
        "The server hashes the verifier it just received and compares it with the challenge "
        "it stored in Step 4. Only the app that made the challenge can pass."),
    Step.ID_TOKEN: Arrow(
        "Tokens arrive; the app verifies the ID token", "200 {access_token, id_token} → JWKS",
        ((3, 2), (2, 2)),
        "The server answers with tokens. Before believing the ID token the app checks its "
        "signature with a key from the provider's JWKS, then "
        f"{', '.join(CLAIMS_CHECKED[:-1])} and {CLAIMS_CHECKED[-1]}."),
    Step.PROTECTED_API: Arrow(
        "Logged in; the protected API", "303 / + session cookie → GET /api/protected",
        ((2, 1), (1, 2)),
        "Your browser gets a session cookie; the tokens stay on the server (the profile "
        "page shows the access token only so you can try the API with curl). The protected "
        "API checks the access token locally, then asks the authorization server whether "
        "it is still active: only the server knows if it was revoked."),
}

# RFC 9126: with PAR, Step 3 is first a back-channel POST (app → server, 201 request_uri),
# then the redirect, whose URL carries only client_id and request_uri (§4).
PUSHED_REDIRECT = Arrow(
    "Pushed to the server, then the redirect",
    "POST /oauth/par → 201 request_uri; 302 → GET /authorize?client_id=…&request_uri=…",
    ((2, 3), (3, 2), (2, 1), (1, 3)),
    "The app sends the whole request (challenge, redirect_uri, state, nonce) straight to the "
    "authorization server, which checks it and answers with a one-use request_uri. Your "
    "browser then carries only client_id and request_uri: nothing in its URL can change "
    "the request.")


def arrow_for(step: Step, view) -> Arrow:
    """The step's arrow as this login took it: Step 3 pushed when it used PAR."""
    if step is Step.REDIRECT and view is not None and "par" in view.trace:
        return PUSHED_REDIRECT
    return ARROWS[step]


# == the lanes ==================================================================================

def icon(key: str) -> Markup:
    return partial("walk_icon.html", shape=partial(f"walk_icon_{key}.html"))


def lane_heads(provider_kind: str) -> Markup:
    server = SERVER_NAMES.get(provider_kind, "")
    return partial("walk_actors.html", actors=NOTHING.join(
        partial("walk_actor.html", key=key, icon=icon(key), name=name, sub=sub or server)
        for key, name, sub in LANES))


def segment(a: int, b: int) -> Markup:
    if a == b:
        return Markup('<span class="seg self x{}"></span>').format(a)
    direction = "ltr" if b > a else "rtl"
    return Markup('<span class="seg x{} w{} {}"></span>').format(min(a, b), abs(b - a), direction)


def lanes_text(arrow: Arrow) -> str:
    names = [LANES[arrow.segments[0][0] - 1][1]] + [LANES[b - 1][1] for _, b in arrow.segments]
    path = [n for i, n in enumerate(names) if i == 0 or n != names[i - 1]]
    return " → ".join(path) if len(path) > 1 else f"{path[0]}, on its own"


# == the arrows =================================================================================

def is_reached(step: Step, view) -> bool:
    return view is not None and step.number in view.reached


def failure_at(step: Step, view) -> dict | None:
    """The refusal drawn at this step, if this login was refused here."""
    failure = view.failure if view is not None else None
    return failure if failure and failure["step"] == step.number else None


def status_of(step: Step, view) -> tuple:
    """(status class, attributes): "failed" carries the RFC code in data-error."""
    failure = failure_at(step, view)
    if failure:
        return "failed", Markup(' data-error="{}"').format(failure["error"])
    return ("reached" if is_reached(step, view) else "pending"), NOTHING


def arrow_row(step: Step, view) -> Markup:
    arrow = arrow_for(step, view)
    status, attrs = status_of(step, view)
    said, shown = arrow_words(step, view, status)
    return partial("walk_arrow.html", status=status, attrs=attrs,
                   sender=arrow.sender, n=step.number, title=step.title, pending=said,
                   wire=arrow.wire, peek=shown, count=len(arrow.segments),
                   segments=NOTHING.join(segment(a, b) for a, b in arrow.segments))


def arrow_words(step: Step, view, status: str) -> tuple:
    """(words for screen readers, a value on the arrow) for each status."""
    if status == "failed":
        return (Markup('<span class="visually-hidden"> (refused here)</span>'),
                Markup(' <span class="peek">✘ {}</span>').format(view.failure["error"]))
    if status == "reached":
        return NOTHING, peek(step, view)
    return Markup('<span class="visually-hidden"> (not reached yet)</span>'), NOTHING


def peek(step: Step, view) -> Markup:
    """A real value on the arrow itself, so the diagram is this login at a glance."""
    t = view.trace
    values = {Step.PKCE_SECRETS: "challenge " + t.get("challenge", "")[:10] + "…",
              Step.CALLBACK: "code " + abbreviate(t.get("callback", {}).get("code", ""))[:12] + "…",
              Step.PKCE_CHECK: "✔ match" if "token_response" in t else "",
              Step.ID_TOKEN: "kid " + str(t.get("kid") or "")[:10] + "…" if t.get("kid") else ""}
    text = values.get(step, "")
    return Markup(' <span class="peek">{}</span>').format(text) if text else NOTHING


def diagram(view, provider_kind: str, client=None) -> Markup:
    """The ten arrows; with the app's ``client``, its two fetches drawn where they happened."""
    rows = [arrow_row(step, view) for step in THE_TEN]
    if client is not None:
        jwks, during_login = jwks_row(view, client)
        before = [partial("walk_group.html", text=BEFORE_THE_LOGIN), discovery_row(client)]
        if during_login:
            rows.insert(THE_TEN.index(Step.ID_TOKEN) + 1, jwks)
        else:
            before.append(jwks)
        rows = before + rows
    return partial("walk_diagram.html", actors=lane_heads(provider_kind),
                   rows=NOTHING.join(rows))


# == the back-channel fetches ======================================================================

def fetch_row(key: str, url: str, title: str, said: str, *, reached: bool, when: str) -> Markup:
    """One fetch as an arrow: app → server → app, a link to the URL (only an http(s) one:
    the provider's document chose it)."""
    href = Markup(' href="{}"').format(url) if url.startswith(("https://", "http://")) else NOTHING
    pending = NOTHING if reached else Markup('<span class="visually-hidden"> (not yet)</span>')
    return partial("walk_fetch.html", key=key, status="reached" if reached else "pending",
                   href=href, url=url, title=title, said=said, when=when, pending=pending,
                   segments=NOTHING.join(segment(a, b) for a, b in BACK_CHANNEL))


def discovery_row(client) -> Markup:
    """Read once, at start-up: the issuer checked, the endpoints every step uses."""
    return fetch_row("discovery", discovery_url(client.provider.issuer),
                     "Discovery: the server's endpoints",
                     "read at start-up; its issuer checked", reached=True,
                     when=BEFORE_THE_LOGIN)


def jwks_row(view, client) -> tuple:
    """(the JWKS arrow, whether it belongs inside this login's Step 9). The app fetches the
    keys when it first checks a signature, and keeps them; a fetch at or after this login's
    start happened during it."""
    fetched = client.jwks.fetched_at
    started = (view.trace.get("started") if view is not None else None)
    during = fetched is None or (started is not None and fetched >= started)
    if fetched is None:
        said, when = "not fetched yet: the first ID token to check fetches it", "Step 9"
    elif during:
        said, when = "fetched during this login, to check its ID token", "Step 9"
    else:
        said, when = "fetched before this login, and kept", BEFORE_THE_LOGIN
    row = fetch_row("jwks", client.jwks.jwks_uri, "The server's public keys (JWKS)", said,
                    reached=fetched is not None, when=when)
    return row, during


# == the step panels ============================================================================

def not_yet(view) -> Markup:
    if view is None:
        return partial("walk_not_started.html")
    if view.failure:
        return partial("walk_after_failure.html", n=view.failure["step"],
                       error=view.failure["error"])
    return partial("walk_not_reached.html",
                   authorize_url=view.trace.get("authorize_url", "/login"))


def step_link(number: int, words: str) -> Markup:
    return Markup('<a class="step-nav" href="#step-{0}" data-step="{0}">{1}</a>').format(
        number, words)


def panel_body(step: Step, view, status: str) -> Markup:
    if status == "failed":
        return failed_detail(step, view)
    return DETAILS[step](view) if status == "reached" else not_yet(view)


def detail_panel(step: Step, view, current: Step) -> Markup:
    n, arrow = step.number, arrow_for(step, view)
    status, attrs = status_of(step, view)
    specs = Markup(" ").join(Markup('<a class="spec" href="{}">{}</a>').format(url, label)
                             for label, url in step.specs)
    return partial(
        "walk_step.html", sender=arrow.sender, status=status, attrs=attrs,
        n=n, hidden=NOTHING if step is current else Markup(" hidden"), lanes=lanes_text(arrow),
        label=step.label, title=step.title, lead=arrow.lead, explain=arrow.explain,
        body=panel_body(step, view, status), specs=specs,
        previous=step_link(n - 1, f"← Step {n - 1}") if n > 1 else Markup("<span></span>"),
        next=step_link(n + 1, f"Step {n + 1} →") if n < STEP_COUNT else NOTHING)


def step_panels(view, current: Step) -> Markup:
    return NOTHING.join(detail_panel(step, view, current) for step in THE_TEN)


def progress(view) -> Markup:
    cells = NOTHING.join(Markup('<li class="{}"></li>').format(
        {"reached": "done", "failed": "failed"}.get(status_of(step, view)[0], "todo"))
        for step in THE_TEN)
    return partial("walk_progress.html", cells=cells, done=len(view.reached) if view else 0,
                   total=STEP_COUNT)
